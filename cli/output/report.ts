import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { buildReport } from '../../dashboard/report.ts';
import type { CollectorClient } from '../../loadgen/CollectorClient.ts';

/** Writes the self-contained HTML report of a run (data from the collector) to `file`. */
export async function writeReport(client: CollectorClient, runId: string, file: string): Promise<string> {
	const [view, rooms, peers] = await Promise.all([client.view(runId), client.rooms(runId), client.peers(runId)]);
	const shards = view.run.shards > 1 ? await client.coordination(runId).catch(() => undefined) : undefined;
	await mkdir(path.dirname(path.resolve(file)), { recursive: true });
	await writeFile(file, await buildReport({ view, rooms, peers, shards }));
	return path.resolve(file);
}

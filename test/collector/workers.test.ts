/**
 * Ingest worker threads: a worker that dies mid-request loses nothing acknowledged. Its
 * request is answered as not kept (503, retry), a new worker takes over, and the resend is
 * stored once.
 */
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCollector, type Collector } from '../../collector/index.ts';
import { BaselineKeeper } from '../../protocol/baseline.ts';
import type { TelemetryBatchInput } from '../../protocol/telemetry.ts';
import { waitFor } from '../helpers/signaling.ts';
import { batch, chromiumFixture, post } from '../helpers/telemetry.ts';
import { removeDir } from '../helpers/tempDir.ts';

const dataDir = mkdtempSync(path.join(os.tmpdir(), 'callswarm-workers-test-'));
let collector: Collector;

beforeAll(async () => {
	collector = await startCollector({ port: 0, logLevel: 'silent', dataDir, ingestWorkers: 1 });
});

afterAll(async () => {
	await collector?.close();
	removeDir(dataDir);
});

const count = async (sql: string) => Number((await collector.store.query<{ n: number }>(sql))[0]!.n);

describe('ingest worker threads', () => {
	it('answer 503 for the requests a dying worker held, start a new one, and store the resend once', async () => {
		const fixture = chromiumFixture();
		const keeper = new BaselineKeeper();
		// Enough batches (with baselines, so the worker does all the work) that the worker is still at it when it dies.
		const batches: TelemetryBatchInput[] = [];
		for (let bot = 0; bot < 400; bot++) {
			const snapshots = fixture.snapshots.slice(0, 4);
			batches.push({ ...batch('run-worker-exit', `p${bot}`, snapshots), baseline: keeper.take(`p${bot}`, snapshots) });
		}
		const workers = collector.ingestWorkers!;
		expect(workers.size).toBe(1);
		const dying = workers.threads[0]!;
		const pending = post(collector.url, { batches });
		await waitFor(() => workers.inHand > 0, 'the worker holding the request');
		await dying.terminate();
		const lost = await pending;
		expect(lost.status).toBe(503);
		expect(lost.headers.get('retry-after')).toBe('2');
		await collector.flush();
		expect(await count(`SELECT count() AS n FROM callswarm.batches WHERE run_id = 'run-worker-exit'`)).toBe(0);

		expect(workers.threads[0]).not.toBe(dying);
		const resent = await post(collector.url, { batches });
		expect(resent.status).toBe(202);
		expect(resent.body).toMatchObject({ accepted: 400, duplicates: 0 });
		expect(await post(collector.url, { batches })).toMatchObject({ status: 202, body: { accepted: 0, duplicates: 400 } });
		await collector.flush();
		expect(await count(`SELECT count() AS n FROM callswarm.batches WHERE run_id = 'run-worker-exit'`)).toBe(400);
		expect(await count(`SELECT count() AS n FROM callswarm.samples WHERE run_id = 'run-worker-exit'`)).toBe(resent.body.samples as number);
	});

	it('refuse a bad request from the worker with the field named, and keep working', async () => {
		const fixture = chromiumFixture();
		const good = batch('run-worker-400', 'good', fixture.snapshots.slice(0, 2), [], { baseline: fixture.snapshots.slice(0, 1) });
		const bad = await post(collector.url, { batches: [good, { ...good, batchId: 'x' }] });
		expect(bad).toMatchObject({ status: 400, body: { error: 'bad_request', issues: [{ path: 'batches[1].batchId' }] } });
		expect(await post(collector.url, '')).toMatchObject({ status: 400, body: { error: 'bad_json' } });
		// A key such as __proto__ is dropped, not refused: the rest of the request is kept.
		const poisoned = `{"__proto__": {"polluted": true}, ${JSON.stringify(good).slice(1)}`;
		expect(await post(collector.url, poisoned)).toMatchObject({ status: 202, body: { accepted: 1 } });
		expect(({} as Record<string, unknown>).polluted).toBeUndefined();
	});
});

/**
 * Collectors behind a load balancer: two collector processes, each getting every other batch of
 * the same bots, store exactly the rows one collector stores for the same input, and the run's
 * summary over their rows is the same, whether a batch came as stats objects or in the compact
 * form. One collector parsing in worker threads stores exactly
 * what one doing it all on its own thread stores.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { BaselineKeeper } from '../../protocol/baseline.ts';
import { compactBatch } from '../../protocol/compact.ts';
import type { ObjectBatchInput } from '../../protocol/telemetry.ts';
import { batch, chromiumFixture, post } from '../helpers/telemetry.ts';
import { removeDir } from '../helpers/tempDir.ts';

const exec = promisify(execFile);
const work = mkdtempSync(path.join(os.tmpdir(), 'callswarm-stateless-'));
const started: ChildProcess[] = [];

afterAll(() => {
	for (const child of started) if (child.exitCode === null) child.kill('SIGKILL');
	removeDir(work);
});

/** A collector in its own process (its own embedded store); resolves with its URL. */
async function collectorProcess(name: string, ...flags: string[]): Promise<{ url: string; banner: string; stop(): Promise<void> }> {
	const child = spawn(process.execPath, ['bin/callswarm.js', 'serve', '--port', '0', '--data-dir', path.join(work, name), '--log-level', 'silent', ...flags], {
		stdio: ['ignore', 'pipe', 'pipe'],
	});
	started.push(child);
	const [url, banner] = await new Promise<[string, string]>((resolve, reject) => {
		let out = '';
		child.stdout!.on('data', (d) => {
			out += String(d);
			const match = /collector on (http:\/\/[\d.]+:\d+).*/.exec(out);
			if (match) resolve([match[1]!, match[0]]);
		});
		child.once('exit', (code) => reject(new Error(`collector ${name} exited (${code}): ${out}`)));
	});
	return {
		url,
		banner,
		stop: () =>
			new Promise((resolve) => {
				child.once('exit', () => resolve());
				child.kill('SIGTERM');
			}),
	};
}

const store = (name: string, ...args: string[]) =>
	exec(process.execPath, ['--import', 'tsx', 'test/helpers/storeDump.ts', ...args.slice(0, 1), path.join(work, name), ...args.slice(1)], { maxBuffer: 256 << 20 }).then((r) => r.stdout);

describe('two collectors behind a load balancer', () => {
	it('store the same rows as one, and give the same summary', async () => {
		// Three bots, each sending the real capture's snapshots one batch at a time, with baselines as callswarm's sender does.
		const fixture = chromiumFixture();
		const keeper = new BaselineKeeper();
		const batches: ObjectBatchInput[] = [];
		fixture.snapshots.forEach((snapshot, i) => {
			for (const peer of ['p0', 'p1', 'p2']) {
				const b = batch('lb-run', peer, [snapshot], i === 0 ? [{ type: 'join', ts: snapshot.ts, durationMs: 800 }] : []);
				batches.push({ ...b, batchId: `lb-batch-${peer}-${i}`, baseline: keeper.take(peer, [snapshot]) });
			}
		});
		// A fourth bot sends no baselines (as an app posting raw reports may): its deltas come from
		// what a collector remembers, so it goes to the single collectors only.
		const remembered = fixture.snapshots.map((snapshot, i) => ({ ...batch('lb-run', 'p3', [snapshot], []), batchId: `lb-batch-p3-${i}` }));
		// The single collector parses in worker threads (two); "inline" does it all on its own thread.
		const [single, inline, left, right] = await Promise.all([
			collectorProcess('single', '--ingest-workers', '2'),
			collectorProcess('inline', '--ingest-workers', '0'),
			collectorProcess('left'),
			collectorProcess('right'),
		]);
		// Each says how it ingests: the comparison below is between the two ways.
		expect(single.banner).toContain('2 ingest worker threads');
		expect(inline.banner).toContain('ingest on the main thread');
		for (const [i, b] of batches.entries()) {
			expect((await post(single.url, b)).status).toBe(202);
			expect((await post(inline.url, b)).status).toBe(202);
			// The right one gets the compact form of its batches: both forms make the same rows.
			expect((await post(i % 2 === 0 ? left.url : right.url, i % 2 === 0 ? b : compactBatch(b))).status).toBe(202);
		}
		for (const b of remembered) {
			expect((await post(single.url, b)).status).toBe(202);
			expect((await post(inline.url, b)).status).toBe(202);
		}
		await Promise.all([single.stop(), inline.stop(), left.stop(), right.stop()]);

		const dumps = Object.fromEntries(
			await Promise.all(['single', 'inline', 'left', 'right'].map(async (name) => [name, await store(path.join(name, 'clickhouse'), 'dump', 'lb-run')] as const)),
		);
		const parsed = (name: string) => JSON.parse(dumps[name]!) as { samples: Array<Record<string, unknown>>; events: Array<Record<string, unknown>> };
		const sortRows = (rows: Array<Record<string, unknown>>) => rows.map((r) => JSON.stringify(r)).sort();
		// Worker threads and the collector's own thread store the same rows, with and without baselines.
		const threaded = parsed('single');
		expect(sortRows(threaded.samples)).toEqual(sortRows(parsed('inline').samples));
		expect(sortRows(threaded.events)).toEqual(sortRows(parsed('inline').events));
		const p3 = threaded.samples.filter((r) => r.peer_id === 'p3' && (r.direction === 'inbound' || r.direction === 'outbound'));
		expect(p3.length).toBeGreaterThan(10);
		expect(p3.filter((r) => r.packets_delta === null)).toHaveLength(4);

		const one = { samples: threaded.samples.filter((r) => r.peer_id !== 'p3'), events: threaded.events.filter((r) => r.peer_id !== 'p3') };
		const two = { samples: [...parsed('left').samples, ...parsed('right').samples], events: [...parsed('left').events, ...parsed('right').events] };
		expect(one.samples.length).toBeGreaterThan(50);
		expect(sortRows(two.samples)).toEqual(sortRows(one.samples));
		expect(sortRows(two.events)).toEqual(sortRows(one.events));
		// Deltas across collectors: only the first sample of each bot's four streams has none.
		const rtp = one.samples.filter((r) => r.direction === 'inbound' || r.direction === 'outbound');
		expect(rtp.filter((r) => r.packets_delta === null)).toHaveLength(12);

		for (const name of ['left', 'right']) writeFileSync(path.join(work, `${name}.json`), dumps[name]!);
		writeFileSync(path.join(work, 'single.json'), JSON.stringify(one));
		const [summaryOne, summaryTwo] = await Promise.all([
			store('merged-one', 'summarize', 'lb-run', path.join(work, 'single.json')),
			store('merged-two', 'summarize', 'lb-run', path.join(work, 'left.json'), path.join(work, 'right.json')),
		]);
		expect(JSON.parse(summaryTwo)).toEqual(JSON.parse(summaryOne));
	});
});

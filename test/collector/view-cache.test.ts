/** A finished run's cached answers never hide rows the collector accepted. */
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startCollector, type Collector } from '../../collector/index.ts';
import { ViewCache } from '../../collector/queries/ViewCache.ts';
import { CollectorClient } from '../../loadgen/CollectorClient.ts';
import { serverSource } from '../../protocol/telemetry.ts';
import { removeDir } from '../helpers/tempDir.ts';
import { batch, chromiumFixture, post } from '../helpers/telemetry.ts';

function deferred<T>(): { promise: Promise<T>; resolve: (value: T) => void } {
	let resolve!: (value: T) => void;
	const promise = new Promise<T>((r) => (resolve = r));
	return { promise, resolve };
}

const always = async () => true;

describe('view cache', () => {
	it('keeps an answer computed while nothing changed', async () => {
		const cache = new ViewCache();
		await expect(cache.remember('r', 'view', async () => 'answer', always)).resolves.toBe('answer');
		expect(cache.get('r', 'view')).toBe('answer');
		// An unfinished run's answer (keep says no) is not kept.
		await cache.remember('r2', 'view', async () => 'running', async () => false);
		expect(cache.get('r2', 'view')).toBeUndefined();
	});

	it('does not keep an answer whose run changed while it was computed', async () => {
		const cache = new ViewCache();
		const gate = deferred<string>();
		const computing = cache.remember('r', 'view', () => gate.promise, always);
		// Another run's change leaves it alone; its own makes it stale.
		const other = cache.remember('other', 'view', () => gate.promise, always);
		cache.invalidate('r');
		gate.resolve('before the new rows');
		await expect(computing).resolves.toBe('before the new rows');
		await other;
		expect(cache.get('r', 'view')).toBeUndefined();
		expect(cache.get('other', 'view')).toBe('before the new rows');
		// The next answer is kept again.
		await cache.remember('r', 'view', async () => 'with the new rows', always);
		expect(cache.get('r', 'view')).toBe('with the new rows');
	});

	it('forgets everything, answers being computed included, when rows of unknown runs reach the store', async () => {
		const cache = new ViewCache();
		await cache.remember('a', 'view', async () => 1, always);
		const gate = deferred<number>();
		const computing = cache.remember('b', 'view', () => gate.promise, always);
		cache.clear();
		gate.resolve(2);
		await computing;
		expect(cache.get('a', 'view')).toBeUndefined();
		expect(cache.get('b', 'view')).toBeUndefined();
	});
});

describe('a finished run viewed between accepting rows and storing them', () => {
	const dataDir = mkdtempSync(path.join(os.tmpdir(), 'callswarm-view-cache-'));
	let collector: Collector | undefined;

	afterAll(async () => {
		await collector?.close();
		removeDir(dataDir);
	});

	it('shows the rows once they are stored, not the view cached before', async () => {
		// No timed flush: accepted rows wait in the journal until the test flushes.
		collector = await startCollector({ port: 0, logLevel: 'silent', dataDir, flushIntervalMs: 3_600_000 });
		const client = new CollectorClient(collector.url);
		const runId = 'late-rows';
		const t0 = Date.now() - 60_000;
		await client.registerRun(runId, { scenario: 'late', status: 'passed', startedAt: t0, endedAt: t0 + 30_000 });

		const fixture = chromiumFixture();
		const shift = t0 - fixture.snapshots[0]!.ts;
		const reading = {
			ts: t0 + 5000,
			pc: '',
			stats: [{ type: 'generator-process' as const, id: 'lite-1', timestamp: t0 + 5000, role: 'lite' as const, pid: 7, cpuPct: 30, rssBytes: 1e8, saturated: false, roundTripsJudged: 20, roundTripsWithheld: 3 }],
		};
		const reply = await post(collector.url, {
			batches: [
				batch(runId, 'p0', fixture.snapshots.map((s) => ({ ...s, ts: s.ts + shift }))),
				batch(runId, '-', [reading], [], { source: serverSource('generator', 'generator:test:1of1') }),
			],
		});
		expect(reply.status).toBe(202);

		// Accepted, not yet stored: the view (a finished run's, so cached) has none of it.
		const early = await client.view(runId);
		expect(early.generator.processes).toEqual([]);
		expect(early.summary.metrics.rtt_ms?.count ?? 0).toBe(0);

		await collector.flush();
		const stored = await client.view(runId);
		expect(stored.generator.processes.map((p) => [p.processId, p.roundTripsJudged, p.roundTripsWithheld])).toEqual([['lite-1', 20, 3]]);
		expect(stored.summary.metrics.rtt_ms?.count).toBeGreaterThan(0);
	});
});

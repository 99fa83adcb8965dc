/**
 * The monitoring SDK's route in ingest worker threads: a collector that parses, translates and
 * normalises pages' requests in a worker stores exactly the rows (samples, events, the call's
 * registry row and its participants) that one doing it all on its own thread stores, answers
 * the same, and refuses the same bad input the same way.
 */
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { edgeHashed } from '../../collector/apps/AppRegistry.ts';
import { startCollector, type Collector } from '../../collector/index.ts';
import type { AppTelemetryBatchInput } from '../../protocol/apps.ts';
import { BaselineKeeper } from '../../protocol/baseline.ts';
import { callSampledIn, ingestKeyHeader } from '../../protocol/sdk.ts';
import { chromiumFixture } from '../helpers/telemetry.ts';
import { removeDir } from '../helpers/tempDir.ts';

const work = mkdtempSync(path.join(os.tmpdir(), 'callswarm-app-workers-'));
const appId = 'acme';

afterAll(() => removeDir(work));

/** A collector with its app and an ingest key (one at a time: the embedded store is one per process). */
async function withCollector<T>(ingestWorkers: number, use: (collector: Collector, key: string) => Promise<T>): Promise<T> {
	const collector = await startCollector({ port: 0, logLevel: 'silent', dataDir: path.join(work, `workers-${ingestWorkers}`), ingestWorkers, flushIntervalMs: 200 });
	try {
		const created = await fetch(`${collector.url}/v1/apps`, {
			method: 'POST',
			headers: { 'content-type': 'application/json' },
			body: JSON.stringify({ appId, name: 'Acme call', sampleShare: 0.5 }),
		});
		expect(created.status).toBe(201);
		const made = await fetch(`${collector.url}/v1/apps/${appId}/keys`, { method: 'POST' });
		return await use(collector, ((await made.json()) as { key: string }).key);
	} finally {
		await collector.close();
	}
}

/** The first call id of a prefix (after `call-${after}`) that is (or is not) in the app's monitored half. */
function callId(sampled: boolean, after = -1): string {
	for (let i = after + 1; ; i++) if (callSampledIn(edgeHashed(appId, `call-${i}`), 0.5) === sampled) return `call-${i}`;
}

/** Two participants' pages, a batch per snapshot; each session's first batch has no baseline (normalised where the counters are remembered). */
function pageBatches(call: string): Array<{ user: string; batch: AppTelemetryBatchInput }> {
	const fixture = chromiumFixture();
	const offset = Date.now() - fixture.snapshots.at(-1)!.ts;
	const snapshots = fixture.snapshots.map((s) => ({ ...s, ts: s.ts + offset, stats: s.stats.map((stat) => ({ ...stat, timestamp: Number(stat.timestamp) + offset })) }));
	const keeper = new BaselineKeeper();
	return ['alice', 'bob'].flatMap((user) =>
		snapshots.map((snapshot, i) => ({
			user,
			batch: {
				batchId: `${user}-batch-${i}`,
				callId: call,
				userId: user,
				sessionId: `${user}-tab`,
				labels: { version: '2.1.0', region: 'eu-west', team: 'blue' },
				userAgent: fixture.userAgent,
				snapshots: [snapshot],
				events: i === 0 ? [{ type: 'join' as const, ts: snapshot.ts, durationMs: 700 }] : [],
				baseline: keeper.take(user, [snapshot]),
			},
		})),
	);
}

async function postPage(collector: Collector, key: string, body: string, type: 'application/json' | 'text/plain' = 'application/json', sentAt?: string) {
	// text/plain is what sendBeacon posts: its key is in the query.
	const query = new URLSearchParams({ ...(type === 'text/plain' ? { key } : {}), ...(sentAt === undefined ? {} : { sentAt }) }).toString();
	const url = `${collector.url}/v1/apps/${appId}/telemetry${query ? `?${query}` : ''}`;
	const response = await fetch(url, { method: 'POST', headers: { 'content-type': type, ...(type === 'text/plain' ? {} : { [ingestKeyHeader]: key }) }, body });
	return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

/** A collector's rows of a call, its hashed ids put back to what the pages sent (each collector's app has its own salt). */
async function callRows(collector: Collector, call: string) {
	const registry = collector.production.registry;
	const app = registry.get(appId)!;
	const names = new Map<string, string>([[registry.callKey(app, call), 'CALL']]);
	for (const user of ['alice', 'bob']) {
		const hashed = registry.userHash(app, user);
		names.set(hashed, user.toUpperCase());
		names.set(hashed.slice(0, 12), user.toUpperCase());
	}
	const plain = (rows: Array<Record<string, unknown>>) =>
		rows.map((row) => [...names].reduce((text, [hashed, id]) => text.replaceAll(hashed, id), JSON.stringify(row))).sort();
	const runId = registry.callKey(app, call);
	await collector.flush();
	const query = (sql: string) => collector.store.query<Record<string, unknown>>(sql, { runId });
	return {
		samples: plain(await query('SELECT * FROM callswarm.samples WHERE run_id = {runId:String}')),
		events: plain(await query('SELECT * FROM callswarm.events WHERE run_id = {runId:String}')),
		participants: plain(await query('SELECT * FROM callswarm.call_participants FINAL WHERE run_id = {runId:String}')),
		runs: plain(await query('SELECT run_id, kind, app_id, scenario, status FROM callswarm.runs FINAL WHERE run_id = {runId:String}')),
	};
}

/** What one collector answers to the pages' requests and to bad ones, and the rows it stores. */
async function run(ingestWorkers: number) {
	return withCollector(ingestWorkers, async (collector, key) => {
		const workers = collector.ingestWorkers;
		const ran = workers ? vi.spyOn(workers, 'run') : undefined;
		const answers = [];
		for (const [i, { user, batch }] of pages.entries()) {
			// Alice's page posts with fetch (JSON); Bob's with sendBeacon (text/plain), his last batch with one of a call outside the sample.
			const batches = user === 'bob' && i === pages.length - 1 ? [batch, { ...batch, batchId: 'outside-batch', callId: callId(false) }] : [batch];
			answers.push({ batches: batches.length, ...(await postPage(collector, key, JSON.stringify({ batches }), user === 'bob' ? 'text/plain' : 'application/json')) });
		}
		// A page's resend is a duplicate, whichever path its first send took.
		const resent = await postPage(collector, key, JSON.stringify({ batches: [pages[0]!.batch, pages.at(-1)!.batch] }));
		const { batch } = pages[0]!;
		const bad = {
			unsigned: (await postPage(collector, `csk_00000000_${'0'.repeat(40)}`, JSON.stringify({ batches: [batch] }))).status,
			noCall: await postPage(collector, key, JSON.stringify({ batches: [{ ...batch, batchId: 'bad-batch-1', callId: '' }] })),
			notJson: await postPage(collector, key, '{"batches": [', 'text/plain'),
			badSentAt: await postPage(collector, key, JSON.stringify({ batches: [{ ...batch, batchId: 'bad-sent-at' }] }), 'text/plain', 'yesterday'),
			goodAfter: await postPage(collector, key, JSON.stringify({ batches: [{ ...batch, batchId: 'good-after-bad' }] })),
		};
		// A device whose clock is 3 days ahead, its batches dated by it: sentAt moves them onto the collector's clock.
		const skewed = await Promise.all(
			clockAheadPages.map(async ({ batch: page }) =>
				postPage(collector, key, JSON.stringify({ batches: [page] }), 'text/plain', String(Date.now() + clockAheadMs)),
			),
		);
		const app = collector.production.registry.get(appId)!;
		await collector.flush();
		const [stored] = await collector.store.query<{ first: number; last: number; n: number }>(
			'SELECT toUnixTimestamp64Milli(min(ts)) AS first, toUnixTimestamp64Milli(max(ts)) AS last, count() AS n FROM callswarm.samples WHERE run_id = {runId:String}',
			{ runId: collector.production.registry.callKey(app, skewedCall) },
		);
		return {
			workers: workers?.size ?? 0,
			requestsInWorkers: ran?.mock.calls.length ?? 0,
			requests: answers.length + 6 + skewed.length,
			answers,
			resent,
			bad,
			skewed: { answers: skewed, first: Number(stored!.first), last: Number(stored!.last), samples: Number(stored!.n) },
			rows: await callRows(collector, sampled),
			sampled,
		};
	});
}

// Both collectors get the very same requests.
const sampled = callId(true);
const pages = pageBatches(sampled);
const clockAheadMs = 3 * 86_400_000;
const skewedCall = callId(true, Number(sampled.slice('call-'.length)));
const clockAheadPages = pageBatches(skewedCall)
	.filter(({ user }) => user === 'alice')
	.map(({ batch }) => {
		const ahead = <T extends { ts: number }>(list: T[] | undefined): T[] => (list ?? []).map((item) => ({ ...item, ts: item.ts + clockAheadMs }));
		return { batch: { ...batch, batchId: `clock-ahead-${batch.batchId}`, snapshots: ahead(batch.snapshots), baseline: ahead(batch.baseline), events: ahead(batch.events) } };
	});
/**
 * Alice's times as her clock would have given them were it right: those same pages' times, not
 * another pageBatches() of them, which dates them by Date.now() again, some ms later on a busy
 * machine.
 */
const clockAheadTimes = clockAheadPages.flatMap(({ batch }) => batch.snapshots.map((s) => s.ts - clockAheadMs));

describe('the monitoring SDK route in ingest worker threads', () => {
	let inline: Awaited<ReturnType<typeof run>>;
	let threaded: Awaited<ReturnType<typeof run>>;
	beforeAll(async () => {
		inline = await run(0);
		threaded = await run(1);
	});

	it('stores the same rows and answers the same as the collector’s own thread', () => {
		expect(inline.workers).toBe(0);
		expect(threaded.workers).toBe(1);
		// Every request with a valid key and query went through the worker (the unsigned one and the bad sentAt are refused before).
		expect(threaded.requestsInWorkers).toBe(threaded.requests - 2);
		for (const answer of threaded.answers) {
			expect(answer.status).toBe(202);
			expect(answer.body).toMatchObject({ accepted: 1, duplicates: 0, notSampled: answer.batches - 1, rejected: [] });
		}
		expect(threaded.resent).toMatchObject({ status: 202, body: { accepted: 0, duplicates: 2 } });
		expect(threaded.answers).toEqual(inline.answers);
		expect(threaded.resent).toEqual(inline.resent);

		expect(inline.rows.samples.length).toBeGreaterThan(20);
		// Two joins, and the request that came after the bad ones (a copy of Alice's first batch).
		expect(inline.rows.events).toHaveLength(3);
		expect(threaded.rows).toEqual(inline.rows);
		expect(threaded.rows.participants).toHaveLength(2);
		expect(JSON.parse(threaded.rows.participants[0]!)).toMatchObject({ app_version: '2.1.0', region: 'eu-west', labels: '{"team":"blue"}' });
		expect(threaded.rows.runs.map((r) => JSON.parse(r))).toEqual([{ run_id: 'CALL', kind: 'call', app_id: appId, scenario: 'Acme call', status: 'running' }]);
		// Nothing a page sent as an id is stored as it was.
		const stored = JSON.stringify(threaded.rows);
		expect(stored).not.toContain(threaded.sampled);
		expect(stored).not.toContain('"alice"');
	});

	it('refuses bad input from the worker as the collector’s own thread does, and keeps working', () => {
		expect(threaded.bad.unsigned).toBe(401);
		expect(threaded.bad.noCall).toMatchObject({ status: 400, body: { error: 'bad_request', issues: [{ path: 'batches[0].callId' }] } });
		expect(threaded.bad.notJson).toMatchObject({ status: 400, body: { error: 'bad_json' } });
		expect(threaded.bad.badSentAt).toMatchObject({ status: 400, body: { error: 'bad_request', issues: [{ path: 'sentAt' }] } });
		expect(threaded.bad.goodAfter).toMatchObject({ status: 202, body: { accepted: 1 } });
		expect({ ...threaded.bad, notJson: threaded.bad.notJson.status }).toEqual({ ...inline.bad, notJson: inline.bad.notJson.status });
	});

	it("moves the times of a device whose clock is far off onto the collector's clock, in the worker as on the collector's own thread", () => {
		const [first, last] = [Math.min(...clockAheadTimes), Math.max(...clockAheadTimes)];
		for (const { skewed } of [inline, threaded]) {
			expect(skewed.samples, JSON.stringify(skewed.answers)).toBeGreaterThan(10);
			for (const answer of skewed.answers) {
				expect(answer).toMatchObject({ status: 202, body: { accepted: 1, rejected: [] } });
				// The clock's 3 days back, less the request's time in transit (a few ms here).
				const shift = answer.body.clockShiftMs as number;
				expect(shift + clockAheadMs).toBeGreaterThanOrEqual(0);
				expect(shift + clockAheadMs).toBeLessThan(5000);
			}
			// Stored where a right clock would have put them, give or take the time in transit.
			expect(skewed.first - first).toBeGreaterThanOrEqual(0);
			expect(skewed.first - first).toBeLessThan(5000);
			expect(skewed.last - last).toBeGreaterThanOrEqual(0);
			expect(skewed.last - last).toBeLessThan(5000);
		}
	});
});

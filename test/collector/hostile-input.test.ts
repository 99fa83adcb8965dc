/**
 * Hostile input found by probing the collector: each case once killed the process, lost rows
 * it had acknowledged, or stored something other than what was sent. The collector must
 * answer each with a clear 4xx naming the field, stay up, and keep storing everyone else's data.
 */
import { mkdtempSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCollector, type Collector } from '../../collector/index.ts';
import { RowBinaryWriter } from '../../collector/store/columns.ts';
import { sampleColumns, type SampleRow } from '../../collector/store/tables.ts';
import { compactBatch } from '../../protocol/compact.ts';
import { batch, chromiumFixture, post } from '../helpers/telemetry.ts';
import { removeDir } from '../helpers/tempDir.ts';

const dataDir = mkdtempSync(path.join(os.tmpdir(), 'callswarm-hostile-test-'));
let collector: Collector;

const count = async (sql: string, params: Record<string, string> = {}) =>
	Number((await collector.store.query<{ n: number }>(sql, params))[0]?.n ?? 0);

/** Recv snapshots of the fixture with one stats entry changed. */
function withInbound(change: (stat: Record<string, unknown>) => void) {
	const snapshots = structuredClone(chromiumFixture().snapshots.filter((s) => s.pc === 'recv').slice(0, 2));
	const index = snapshots[1]!.stats.findIndex((s) => s.type === 'inbound-rtp' && s.kind === 'video');
	change(snapshots[1]!.stats[index]!);
	return { snapshots, index };
}

/** A good batch goes in after the hostile one: the collector is alive and its write path works. */
async function stillStores(runId: string): Promise<void> {
	const reply = await post(collector.url, batch(runId, 'after', chromiumFixture().snapshots.slice(0, 4)));
	expect(reply.status).toBe(202);
	await collector.flush();
	expect(await count(`SELECT count() AS n FROM callswarm.samples WHERE run_id = {run:String} AND peer_id = 'after'`, { run: runId })).toBeGreaterThan(0);
}

beforeAll(async () => {
	collector = await startCollector({ port: 0, logLevel: 'silent', dataDir, flushIntervalMs: 50 });
});

afterAll(async () => {
	await collector?.close();
	removeDir(dataDir);
});

describe('numbers out of a column range', () => {
	it('refuses a snapshot time of 1e20 or 1e15 with 400 naming the field, and keeps running', async () => {
		for (const ts of [1e20, 1e15, -5]) {
			const body = batch('run-numbers', 'p0', [{ ts, pc: 'recv', stats: [] }]);
			const reply = await post(collector.url, body);
			expect(reply.status, `ts ${ts}`).toBe(400);
			expect(reply.body.issues).toEqual([expect.objectContaining({ path: 'snapshots[0].ts', message: expect.stringContaining('epoch milliseconds') })]);
		}
		await stillStores('run-numbers');
	});

	it('refuses counters beyond 2^53 (bytesReceived 1e308, packetsSent, packetsLost, pliCount, freezeCount), naming each field', async () => {
		for (const field of ['bytesReceived', 'packetsLost', 'pliCount', 'freezeCount', 'packetsReceived']) {
			const { snapshots, index } = withInbound((stat) => (stat[field] = 1e308));
			const reply = await post(collector.url, batch('run-numbers', `big-${field}`, snapshots));
			expect(reply.status).toBe(202);
			expect(reply.body.rejected).toEqual([expect.objectContaining({ path: `snapshots[1].stats[${index}].${field}` })]);
		}
		const sent = structuredClone(chromiumFixture().snapshots.filter((s) => s.pc === 'send').slice(0, 1));
		const out = sent[0]!.stats.findIndex((s) => s.type === 'outbound-rtp');
		sent[0]!.stats[out]!.packetsSent = 2 ** 60;
		const reply = await post(collector.url, batch('run-numbers', 'big-sent', sent));
		expect(reply.body.rejected).toEqual([expect.objectContaining({ path: `snapshots[0].stats[${out}].packetsSent` })]);
		await stillStores('run-numbers');
		// The first, valid snapshot of each of those peers was stored; nothing of the refused ones.
		expect(await count(`SELECT count() AS n FROM callswarm.samples WHERE run_id = 'run-numbers' AND (bytes > 9007199254740991 OR packets > 9007199254740991)`)).toBe(0);
	});

	it('refuses an SSRC or an event attempt that does not fit 32 bits instead of wrapping it', async () => {
		const { snapshots, index } = withInbound((stat) => (stat.ssrc = 2 ** 40));
		const wrapped = await post(collector.url, batch('run-wrap', 'ssrc', snapshots));
		expect(wrapped.body.rejected).toEqual([expect.objectContaining({ path: `snapshots[1].stats[${index}].ssrc` })]);
		const attempt = await post(collector.url, batch('run-wrap', 'attempt', [], [{ type: 'reconnect', ts: Date.now(), attempt: 2 ** 40 }]));
		expect(attempt.status).toBe(400);
		expect(attempt.body.issues).toEqual([expect.objectContaining({ path: 'events[0].attempt' })]);
		await collector.flush();
		expect(await count(`SELECT count() AS n FROM callswarm.samples WHERE run_id = 'run-wrap' AND direction = 'inbound' AND ssrc = ${2 ** 40 % 2 ** 32}`)).toBe(0);
		await stillStores('run-wrap');
	});

	it('answers 400 to a run registration starting at 1e20, and the registry keeps working', async () => {
		const bad = await fetch(`${collector.url}/v1/runs/run-far`, {
			method: 'PUT',
			headers: { 'content-type': 'application/json' },
			body: JSON.stringify({ startedAt: 1e20 }),
		});
		expect(bad.status).toBe(400);
		expect(((await bad.json()) as { issues: Array<{ path: string }> }).issues[0]!.path).toBe('startedAt');
		const good = await fetch(`${collector.url}/v1/runs/run-far`, {
			method: 'PUT',
			headers: { 'content-type': 'application/json' },
			body: JSON.stringify({ startedAt: Date.now(), scenario: 'ok' }),
		});
		expect(good.status).toBe(200);
		expect(await good.json()).toMatchObject({ runId: 'run-far', scenario: 'ok' });
		await stillStores('run-far');
	});
});

describe('times spread over many days', () => {
	const day = 86_400_000;

	it('refuses snapshots and events dated past the retention or more than a day ahead, naming each, and stores the rest', async () => {
		const recv = chromiumFixture().snapshots.find((s) => s.pc === 'recv')!;
		// One snapshot a day from 150 days back to 150 ahead: a device clock gone wrong, or a hostile sender.
		const offsets = Array.from({ length: 300 }, (_, i) => i - 149.5);
		const sent = Date.now();
		const snapshots = offsets.map((days) => ({ ...recv, ts: sent + days * day }));
		const events = [{ type: 'join' as const, ts: sent + 400 * day }, { type: 'join' as const, ts: sent }];
		const reply = await post(collector.url, batch('run-days', 'clock', snapshots, events));
		expect(reply.status).toBe(202);
		const taken = offsets.flatMap((days, i) => (days >= -29.5 && days <= 0.5 ? [i] : []));
		expect(taken).toHaveLength(31);
		const rejected = reply.body.rejected as Array<{ path: string; message: string }>;
		expect(rejected).toHaveLength(300 - 31 + 1);
		expect(rejected[0]).toEqual(expect.objectContaining({ path: 'snapshots[0].ts', message: expect.stringContaining("older than this telemetry's retention of 30 days") }));
		expect(rejected.at(-2)).toEqual(expect.objectContaining({ path: 'snapshots[299].ts', message: expect.stringContaining("more than a day ahead of the collector's clock") }));
		expect(rejected.at(-1)).toEqual(expect.objectContaining({ path: 'events[0].ts', message: expect.stringContaining('more than a day ahead') }));
		await collector.flush();
		const [days] = await collector.store.query<{ days: number; events: number; started: number }>(
			`SELECT uniqExact(toDate(ts)) AS days, (SELECT count() FROM callswarm.events WHERE run_id = 'run-days') AS events,
				(SELECT toUnixTimestamp64Milli(any(started_at)) FROM callswarm.runs FINAL WHERE run_id = 'run-days') AS started
			FROM callswarm.samples WHERE run_id = 'run-days' AND peer_id = 'clock'`,
		);
		expect(Number(days!.days)).toBeGreaterThanOrEqual(30);
		expect(Number(days!.events)).toBe(1);
		// The run starts at its earliest time taken, not at a refused one.
		expect(Number(days!.started)).toBe(Math.round(snapshots[taken[0]!]!.ts));
		await stillStores('run-days');
	});

	it("moves a sender's times onto the collector's clock when it says when it sent (?sentAt=) and its clock is more than a minute off", async () => {
		const recv = chromiumFixture().snapshots.find((s) => s.pc === 'recv')!;
		const stored = async (peer: string) =>
			(await collector.store.query<{ ts: number }>(`SELECT toUnixTimestamp64Milli(ts) AS ts FROM callswarm.samples WHERE run_id = 'run-clock' AND peer_id = {peer:String} ORDER BY ts`, { peer })).map((r) => Number(r.ts));
		// A device 3 days ahead: without sentAt every time is refused (the test above); with it, all are taken.
		for (const [peer, offset] of [['ahead', 3 * day], ['behind', -2 * 3_600_000], ['near', 30_000]] as const) {
			const now = Date.now();
			const real = [now - 4000, now - 2000];
			const events = [{ type: 'join' as const, ts: real[0]! + offset }];
			const reply = await post(collector.url, batch('run-clock', peer, real.map((ts) => ({ ...recv, ts: ts + offset })), events), { query: `sentAt=${Date.now() + offset}` });
			expect(reply.status, peer).toBe(202);
			expect(reply.body.rejected, peer).toEqual([]);
			await collector.flush();
			const times = await stored(peer);
			expect(times, peer).toHaveLength(2 * recv.stats.filter((s) => s.type === 'inbound-rtp').length);
			if (peer === 'near') {
				// Within a minute the gap may be the request's time in transit: the times stay as sent.
				expect(reply.body.clockShiftMs).toBeUndefined();
				expect(times[0]).toBe(real[0]! + offset);
				continue;
			}
			// Moved by the clock's offset and the request's time in transit (a few ms here, never more than the tolerance).
			const shift = reply.body.clockShiftMs as number;
			expect(shift + offset, peer).toBeGreaterThanOrEqual(0);
			expect(shift + offset, peer).toBeLessThan(5000);
			expect(times[0]! - real[0]!, peer).toBe(shift + offset);
			expect(times.at(-1)! - real[1]!, peer).toBe(shift + offset);
		}
		const events = await collector.store.query<{ ts: number }>(`SELECT toUnixTimestamp64Milli(ts) AS ts FROM callswarm.events WHERE run_id = 'run-clock' AND peer_id = 'ahead'`);
		expect(Math.abs(Number(events[0]!.ts) - Date.now())).toBeLessThan(60_000);
		await stillStores('run-clock');
	});

	it('refuses a sentAt that is not a time with 400 naming it', async () => {
		const recv = chromiumFixture().snapshots.find((s) => s.pc === 'recv')!;
		for (const sentAt of ['soon', '-5', '1e15', String(1e18)]) {
			const reply = await post(collector.url, batch('run-clock-bad', 'p0', [{ ...recv, ts: Date.now() }]), { query: `sentAt=${sentAt}` });
			expect(reply.status, sentAt).toBe(400);
			expect(reply.body.issues, sentAt).toEqual([expect.objectContaining({ path: 'sentAt', message: expect.stringContaining('epoch milliseconds') })]);
		}
		await stillStores('run-clock-bad');
	});

	it('stores rows falling on 150 different days in one insert (ClickHouse refuses more than 100 partitions by default)', async () => {
		const writer = new RowBinaryWriter(1 << 16);
		const base = Object.fromEntries(sampleColumns.map((c) => [c.name, c.type.includes('String') ? '' : 1]));
		const now = Date.now();
		const rows = Array.from({ length: 150 }, (_, i) => ({ ...base, run_id: 'run-partitions', ts: now - i * day, retention_days: 400 }) as SampleRow);
		writer.writeRows(sampleColumns, rows);
		await collector.store.insertRowBinary('samples', Buffer.from(writer.bytes()), 'run-partitions-1');
		expect(await count(`SELECT uniqExact(toDate(ts)) AS n FROM callswarm.samples WHERE run_id = 'run-partitions'`)).toBe(150);
		await stillStores('run-partitions');
	});
});

describe('long strings', () => {
	it('refuses a stats id of 20,000,000 characters (under the body limit) and stays up', async () => {
		const { snapshots, index } = withInbound((stat) => (stat.id = 'x'.repeat(20_000_000)));
		const reply = await post(collector.url, batch('run-long', 'p0', snapshots));
		expect(reply.status).toBe(202);
		expect(reply.body.rejected).toEqual([expect.objectContaining({ path: `snapshots[1].stats[${index}].id` })]);
		await stillStores('run-long');
	});

	it('the RowBinary writer has room for every value after a string of any length', () => {
		const writer = new RowBinaryWriter(1024);
		const row = { ...Object.fromEntries(sampleColumns.map((c) => [c.name, c.type.includes('String') ? '' : 1])), stream_id: 'y'.repeat(3_000_000) } as SampleRow;
		expect(() => writer.writeRows(sampleColumns, [row, row])).not.toThrow();
		expect(writer.length).toBeGreaterThan(6_000_000);
	});
});

describe('inherited property names', () => {
	it('treats "__proto__", "constructor" and "toString" as unknown stats types, and loses no batch of the request', async () => {
		const fixture = chromiumFixture();
		const hostile = structuredClone(fixture.snapshots.slice(0, 2));
		hostile[0]!.stats.push({ type: '__proto__', id: 'a', timestamp: 1 }, { type: 'constructor', id: 'b', timestamp: 1 }, { type: 'toString', id: 'c', timestamp: 1 });
		const body = { batches: [batch('run-proto', 'first', fixture.snapshots.slice(0, 2)), batch('run-proto', 'hostile', hostile), batch('run-proto', 'last', fixture.snapshots.slice(0, 2))] };
		// A "__proto__" key too, as a hostile client can send it (JSON.stringify of an object would not).
		const reply = await post(collector.url, JSON.stringify(body).replace('"type":"constructor"', '"type":"constructor","__proto__":{"polluted":1}'));
		expect(reply.status).toBe(202);
		expect(reply.body).toMatchObject({ accepted: 3, duplicates: 0, rejected: [] });
		await collector.flush();
		expect(await count(`SELECT uniqExact(peer_id) AS n FROM callswarm.samples WHERE run_id = 'run-proto'`)).toBe(3);
		expect(({} as Record<string, unknown>).polluted).toBeUndefined();
	});

	it('never marks a refused request as seen: its corrected resend is stored', async () => {
		const fixture = chromiumFixture();
		const good = batch('run-resend', 'p0', fixture.snapshots.slice(0, 2));
		const broken = { ...good, events: [{ type: 'join', ts: 1e20 }] };
		expect((await post(collector.url, broken)).status).toBe(400);
		const resent = await post(collector.url, good);
		expect(resent.body).toMatchObject({ accepted: 1, duplicates: 0 });
		await collector.flush();
		expect(await count(`SELECT count() AS n FROM callswarm.samples WHERE run_id = 'run-resend'`)).toBe(resent.body.samples as number);
	});
});

describe('compact telemetry', () => {
	it('rejects the snapshot of a malformed or bad compact row by its row, stores the rest, and keeps storing', async () => {
		const recv = chromiumFixture().snapshots.filter((s) => s.pc === 'recv').slice(0, 2);
		const short = compactBatch(batch('run-compact', 'short', recv));
		short.snapshots![1]!.rows!['inbound-rtp']![0]!.pop();
		// A hostile "__proto__" key in a row's place stays a value, never an object's prototype.
		const hostile = compactBatch(batch('run-compact', 'hostile', recv));
		const columns = hostile.columns!['inbound-rtp']!;
		hostile.snapshots![1]!.rows!['inbound-rtp']![0]![columns.indexOf('jitter')] = { __proto__: { polluted: 1 } };
		const reply = await post(collector.url, { batches: [compactBatch(batch('run-compact', 'first', recv)), short, hostile] });
		expect(reply.status).toBe(202);
		expect(reply.body).toMatchObject({
			accepted: 3,
			rejected: [
				{ batchId: short.batchId, path: 'snapshots[1].rows.inbound-rtp[0]', message: expect.stringContaining('values; columns."inbound-rtp" names') },
				{ batchId: hostile.batchId, path: 'snapshots[1].rows.inbound-rtp[0].jitter' },
			],
		});
		expect(({} as Record<string, unknown>).polluted).toBeUndefined();
		await collector.flush();
		// Every batch's good snapshot is stored.
		expect(await count(`SELECT uniqExact(peer_id) AS n FROM callswarm.samples WHERE run_id = 'run-compact'`)).toBe(3);
		const refused = await post(collector.url, { ...short, columns: { 'inbound-rtp': ['type'] } });
		expect(refused.status).toBe(400);
		expect(refused.body.issues).toEqual([expect.objectContaining({ path: 'columns.inbound-rtp[0]' })]);
		await stillStores('run-compact');
	});
});

describe('run ids', () => {
	it('refuses "." and ".." (they would name a parent folder) and ids that are only dots', async () => {
		for (const id of ['.', '..', '...']) {
			// node:http sends the path as written (fetch would resolve the dots away).
			const status = await new Promise<number>((resolve, reject) => {
				const { hostname, port } = new URL(collector.url);
				const options = { hostname, port, path: `/v1/runs/${id}`, method: 'PUT', headers: { 'content-type': 'application/json' } };
				const request = http.request(options, (response) => {
					response.resume();
					resolve(response.statusCode ?? 0);
				});
				request.on('error', reject);
				request.end(JSON.stringify({ startedAt: Date.now() }));
			});
			expect(status, id).toBe(400);
		}
		const telemetry = await post(collector.url, batch('..', 'p0', []));
		expect(telemetry.status).toBe(400);
		expect(telemetry.body.issues).toEqual([expect.objectContaining({ path: 'runId', message: 'must not be only dots' })]);
	});
});

import { mkdtempSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCollector, type Collector } from '../../collector/index.ts';
import { estimateMos } from '../../collector/normalize/mos.ts';
import { selfSignedCertificate } from '../helpers/tls.ts';
import { createHosts, fetchFrom, netnsUnavailable, removeHosts } from '../helpers/netns.ts';
import { waitFor } from '../helpers/signaling.ts';
import { batch, chromiumFixture, post, statOf } from '../helpers/telemetry.ts';
import { removeDir } from '../helpers/tempDir.ts';

const dataDir = mkdtempSync(path.join(os.tmpdir(), 'callswarm-ingest-test-'));
let collector: Collector;

function start(extra: Parameters<typeof startCollector>[0] = {}) {
	return startCollector({
		port: 0,
		logLevel: 'silent',
		dataDir,
		flushIntervalMs: 50,
		...extra,
	});
}

const count = async (sql: string, params: Record<string, string> = {}) =>
	Number((await collector.store.query<{ n: number }>(sql, params))[0]?.n ?? 0);

beforeAll(async () => {
	collector = await start({ bodyLimitBytes: 512 * 1024 });
});

afterAll(async () => {
	await collector?.close();
	removeDir(dataDir);
});

describe('ingest of real Chromium getStats reports', () => {
	it('stores per-interval deltas, bitrate, loss and MOS computed from the raw reports', async () => {
		const fixture = chromiumFixture();
		const response = await post(collector.url, batch('run-fixture', 'p0', fixture.snapshots));
		expect(response.status).toBe(202);
		expect(response.body).toMatchObject({ accepted: 1, duplicates: 0, rejected: [] });
		await collector.flush();

		const recv = fixture.snapshots.filter((s) => s.pc === 'recv');
		const [first, second] = [recv[0]!, recv[1]!];
		const v1 = statOf(first, 'inbound-rtp', 'video')!;
		const v2 = statOf(second, 'inbound-rtp', 'video')!;
		const a2 = statOf(second, 'inbound-rtp', 'audio')!;
		const transport = statOf(second, 'transport')!;
		const pair = second.stats.find((s) => s.id === transport.selectedCandidatePairId)!;

		const rows = await collector.store.query<Record<string, number | null>>(
			`SELECT toUnixTimestamp64Milli(ts) AS t, packets_delta, bytes_delta, bitrate_bps, loss_pct, jitter_ms, fps, mos, interval_ms
			FROM callswarm.samples WHERE run_id = 'run-fixture' AND pc = 'recv' AND direction = 'inbound' AND kind = {kind:String}
			ORDER BY ts`,
			{ kind: 'video' },
		);
		expect(rows).toHaveLength(recv.length);
		expect(rows[0]).toMatchObject({ packets_delta: null, bitrate_bps: null });
		const intervalMs = second.ts - first.ts;
		expect(rows[1]!.interval_ms).toBeCloseTo(intervalMs, 0);
		expect(rows[1]!.packets_delta).toBe(Number(v2.packetsReceived) - Number(v1.packetsReceived));
		expect(rows[1]!.bytes_delta).toBe(Number(v2.bytesReceived) - Number(v1.bytesReceived));
		const bitrate = ((Number(v2.bytesReceived) - Number(v1.bytesReceived)) * 8 * 1000) / intervalMs;
		expect(rows[1]!.bitrate_bps).toBeCloseTo(bitrate, -2);
		expect(bitrate).toBeGreaterThan(100_000);
		const lost = Number(v2.packetsLost) - Number(v1.packetsLost);
		const received = Number(v2.packetsReceived) - Number(v1.packetsReceived);
		expect(rows[1]!.loss_pct).toBeCloseTo((lost / (lost + received)) * 100, 3);
		expect(rows[1]!.jitter_ms).toBeCloseTo(Number(v2.jitter) * 1000, 3);
		expect(rows[1]!.fps).toBeCloseTo(Number(v2.framesPerSecond), 3);

		const audio = await collector.store.query<{ mos: number; jitter_ms: number; loss_pct: number }>(
			`SELECT mos, jitter_ms, loss_pct FROM callswarm.samples
			WHERE run_id = 'run-fixture' AND pc = 'recv' AND direction = 'inbound' AND kind = 'audio' ORDER BY ts`,
		);
		const expectedMos = estimateMos(Number(pair.currentRoundTripTime) * 1000, Number(a2.jitter) * 1000, audio[1]!.loss_pct);
		expect(audio[1]!.mos).toBeCloseTo(expectedMos, 4);
		expect(audio[1]!.mos).toBeGreaterThan(4);

		// One selected candidate pair per connection per snapshot, outbound and remote-inbound streams for what is sent.
		expect(await count(`SELECT count() AS n FROM callswarm.samples WHERE run_id = 'run-fixture' AND direction = 'candidate-pair'`)).toBe(
			fixture.snapshots.length,
		);
		expect(await count(`SELECT count() AS n FROM callswarm.samples WHERE run_id = 'run-fixture' AND direction = 'outbound'`)).toBe(
			fixture.snapshots.filter((s) => s.pc === 'send').length * 2,
		);
		expect(await count(`SELECT count() AS n FROM callswarm.samples WHERE run_id = 'run-fixture' AND direction = 'remote-inbound' AND rtt_ms IS NOT NULL`)).toBeGreaterThan(0);
	});

	it('computes loss from lost-packet deltas and never stores a negative delta after a counter reset', async () => {
		const fixture = chromiumFixture();
		const recv = fixture.snapshots.filter((s) => s.pc === 'recv').slice(0, 3).map((s) => structuredClone(s));
		const video = (i: number) => statOf(recv[i]!, 'inbound-rtp', 'video')!;
		// 25 packets lost in the second interval, then the bot "restarts": counters drop to near zero.
		video(1).packetsLost = Number(video(0).packetsLost) + 25;
		const receivedDelta = Number(video(1).packetsReceived) - Number(video(0).packetsReceived);
		video(2).packetsReceived = 10;
		video(2).bytesReceived = 1000;
		await post(collector.url, batch('run-loss', 'p0', recv));
		await collector.flush();
		const rows = await collector.store.query<{ packets_delta: number | null; lost_delta: number | null; loss_pct: number | null }>(
			`SELECT packets_delta, lost_delta, loss_pct FROM callswarm.samples
			WHERE run_id = 'run-loss' AND direction = 'inbound' AND kind = 'video' ORDER BY ts`,
		);
		expect(rows[1]).toMatchObject({ packets_delta: receivedDelta, lost_delta: 25 });
		expect(rows[1]!.loss_pct).toBeCloseTo((25 / (25 + receivedDelta)) * 100, 3);
		expect(rows[2]).toMatchObject({ packets_delta: null, lost_delta: null, loss_pct: null });
		expect(await count(`SELECT count() AS n FROM callswarm.samples WHERE packets_delta < 0 OR bytes_delta < 0 OR lost_delta < 0`)).toBe(0);
	});

	it('stores a retried batch once', async () => {
		const fixture = chromiumFixture();
		const body = batch('run-retry', 'p0', fixture.snapshots.slice(0, 2), [{ type: 'join', ts: Date.now(), durationMs: 420 }]);
		const first = await post(collector.url, body);
		const again = await post(collector.url, body);
		const both = await post(collector.url, { batches: [body, body] });
		expect(first.body).toMatchObject({ accepted: 1, duplicates: 0 });
		expect(again.body).toMatchObject({ accepted: 0, duplicates: 1 });
		expect(both.body).toMatchObject({ accepted: 0, duplicates: 2 });
		await collector.flush();
		expect(await count(`SELECT count() AS n FROM callswarm.events WHERE run_id = 'run-retry'`)).toBe(1);
		expect(await count(`SELECT count() AS n FROM callswarm.batches WHERE run_id = 'run-retry'`)).toBe(1);
		expect(await count(`SELECT count() AS n FROM callswarm.samples WHERE run_id = 'run-retry'`)).toBe(first.body.samples as number);
	});

	it('answers a malformed batch with 400 and the field path, and keeps taking other batches', async () => {
		const fixture = chromiumFixture();
		const good = batch('run-mixed', 'good', fixture.snapshots.slice(0, 2));
		const bad = { ...batch('run-mixed', 'bad', fixture.snapshots.slice(0, 2)), runId: 'no spaces allowed' };
		const [badReply, goodReply] = await Promise.all([post(collector.url, { batches: [good, bad] }), post(collector.url, good)]);
		expect(badReply.status).toBe(400);
		expect(badReply.body).toMatchObject({ error: 'bad_request', issues: [{ path: 'batches[1].runId' }] });
		expect(goodReply.status).toBe(202);

		const noSource = await post(collector.url, { batchId: 'abcdefgh-1', runId: 'run-mixed', snapshots: [] });
		expect(noSource.status).toBe(400);
		expect(noSource.body.message).toContain('source');
		const notJson = await post(collector.url, '{"batches": [');
		expect(notJson).toMatchObject({ status: 400, body: { error: 'bad_json' } });

		// A known field of the wrong type rejects that snapshot only, naming the field.
		const typed = structuredClone(fixture.snapshots.slice(0, 2));
		expect(typed[0]!.pc).toBe('send');
		const index = typed[0]!.stats.findIndex((s) => s.type === 'outbound-rtp');
		typed[0]!.stats[index]!.bytesSent = 'lots';
		const partial = await post(collector.url, batch('run-mixed', 'typed', typed));
		expect(partial.status).toBe(202);
		expect(partial.body.rejected).toEqual([
			expect.objectContaining({ path: `snapshots[0].stats[${index}].bytesSent`, message: expect.stringContaining('number') }),
		]);
		await collector.flush();
		expect(await count(`SELECT count() AS n FROM callswarm.samples WHERE run_id = 'run-mixed' AND peer_id = 'good'`)).toBeGreaterThan(0);
		expect(await count(`SELECT count() AS n FROM callswarm.samples WHERE run_id = 'run-mixed' AND peer_id = 'bad'`)).toBe(0);
		expect(await count(`SELECT count() AS n FROM callswarm.samples WHERE run_id = 'run-mixed' AND peer_id = 'typed' AND pc = 'recv'`)).toBeGreaterThan(0);
		expect(await count(`SELECT count() AS n FROM callswarm.samples WHERE run_id = 'run-mixed' AND peer_id = 'typed' AND pc = 'send'`)).toBe(0);
	});

	it('takes gzip bodies and refuses bodies over the limit with 413, compressed or not', async () => {
		const fixture = chromiumFixture();
		const zipped = await post(collector.url, batch('run-gzip', 'p0', fixture.snapshots.slice(0, 2)), { gzip: true });
		expect(zipped.status).toBe(202);
		const big = batch('run-gzip', 'p1', Array.from({ length: 12 }, () => fixture.snapshots).flat());
		expect(JSON.stringify(big).length).toBeGreaterThan(512 * 1024);
		expect((await post(collector.url, big)).status).toBe(413);
		// Small on the wire, large once inflated.
		const bomb = await fetch(`${collector.url}/v1/telemetry`, {
			method: 'POST',
			headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
			body: gzipSync(Buffer.from(`{"batchId":"${'x'.repeat(4 * 1024 * 1024)}"}`)),
		});
		expect(bomb.status).toBe(413);
	});
});

describe('store outage', () => {
	it('keeps telemetry in the journal while ClickHouse cannot take rows and stores it when it is back: every sample is stored', async () => {
		const fixture = chromiumFixture();
		await collector.flush();
		const before = await count(`SELECT count() AS n FROM callswarm.samples WHERE run_id = 'run-outage'`);
		expect(before).toBe(0);
		await collector.store.command('DETACH TABLE callswarm.samples');
		let expected = 0;
		for (let i = 0; i < 5; i++) {
			const reply = await post(collector.url, batch('run-outage', `p${i}`, fixture.snapshots));
			expect(reply.status).toBe(202);
			expected += reply.body.samples as number;
			await collector.flush();
		}
		expect(collector.writer.degraded).toBe(true);
		expect(collector.journal.files).toBeGreaterThan(0);
		expect(readdirSync(collector.journal.dir).filter((f) => f.endsWith('.journal')).length).toBe(collector.journal.files);
		const health = await fetch(`${collector.url}/healthz`);
		expect(health.status).toBe(503);
		expect(await health.json()).toMatchObject({ ok: false, storeAvailable: false, journalSegments: collector.journal.files });

		await collector.store.command('ATTACH TABLE callswarm.samples');
		await waitFor(() => !collector.writer.degraded, 'the journal to be stored', 30_000);
		expect(collector.journal.files).toBe(0);
		expect(await count(`SELECT count() AS n FROM callswarm.samples WHERE run_id = 'run-outage'`)).toBe(expected);
		expect((await fetch(`${collector.url}/healthz`)).status).toBe(200);
	});
});

describe('backpressure and access', () => {
	it('answers 429 with Retry-After while the write queue is full', async () => {
		await collector.close();
		collector = await start({ maxPendingRows: 20, flushRows: 1_000_000, flushIntervalMs: 60_000 });
		const fixture = chromiumFixture();
		const first = await post(collector.url, batch('run-busy', 'p0', fixture.snapshots));
		expect(first.status).toBe(202);
		expect(collector.writer.pendingRows).toBeGreaterThanOrEqual(20);
		const refused = await post(collector.url, batch('run-busy', 'p1', fixture.snapshots));
		expect(refused.status).toBe(429);
		expect(refused.headers.get('retry-after')).toBe('1');
		await collector.flush();
		expect((await post(collector.url, batch('run-busy', 'p1', fixture.snapshots))).status).toBe(202);
		await collector.flush();
		expect(await count(`SELECT uniqExact(peer_id) AS n FROM callswarm.samples WHERE run_id = 'run-busy'`)).toBe(2);
	});

	it('needs a token beyond loopback, and then on every write', async () => {
		await expect(start({ listenIp: '0.0.0.0' })).rejects.toThrow(/set a token/);
		await collector.close();
		collector = await start({ token: 'a-long-enough-run-token' });
		const fixture = chromiumFixture();
		expect((await post(collector.url, batch('run-auth', 'p0', fixture.snapshots))).status).toBe(401);
		const ok = await post(collector.url, batch('run-auth', 'p0', fixture.snapshots), {
			headers: { authorization: 'Bearer a-long-enough-run-token' },
		});
		expect(ok.status).toBe(202);
		expect((await fetch(`${collector.url}/v1/runs`)).status).toBe(200);
	});

	it('refuses plain HTTP beyond loopback unless told it sits behind a TLS proxy', async () => {
		await expect(start({ listenIp: '0.0.0.0', token: 'a-long-enough-run-token' })).rejects.toThrow(/plain HTTP: serve HTTPS \(--tls-cert and --tls-key\)/);
		await expect(start({ listenIp: '127.0.0.1', tls: { cert: '/nonexistent/cert.pem', key: '/nonexistent/key.pem' } })).rejects.toThrow(/cannot read the TLS certificate/);
	});

	it.skipIf(netnsUnavailable() !== undefined)('serves HTTPS beyond loopback, and needs the read token (or the run token) for reads there; health checks stay open', async () => {
		const [client] = await createHosts(1);
		const runToken = 'a-long-enough-run-token';
		const readToken = 'a-long-enough-read-token';
		const tls = selfSignedCertificate(client!.gateway);
		await collector.close();
		collector = await start({ listenIp: client!.gateway, token: runToken, readToken, tls: { cert: tls.cert, key: tls.key } });
		try {
			expect(collector.url).toMatch(/^https:/);
			const from = (url: string, init: Parameters<typeof fetchFrom>[2] = {}) => fetchFrom(client!, url, init, tls.cert);
			const runs = `${collector.url}/v1/runs`;
			expect((await from(runs)).status).toBe(401);
			expect((await from(runs, { headers: { authorization: 'Bearer wrong-token-of-some-length' } })).status).toBe(401);
			expect((await from(runs, { headers: { authorization: `Bearer ${readToken}` } })).status).toBe(200);
			expect((await from(runs, { headers: { authorization: `Bearer ${runToken}` } })).status).toBe(200);
			// The read token does not write; health checks and the dashboard's files need nothing.
			const write = await from(`${collector.url}/v1/telemetry`, {
				method: 'POST',
				headers: { authorization: `Bearer ${readToken}`, 'content-type': 'application/json' },
				body: JSON.stringify(batch('run-read', 'p0', [])),
			});
			expect(write.status).toBe(401);
			expect((await from(`${collector.url}/healthz`)).status).toBe(200);
		} finally {
			await removeHosts([client!]);
			removeDir(tls.dir);
		}
	});
});

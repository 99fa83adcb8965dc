import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCollector, type Collector } from '../../collector/index.ts';
import type { RunView, RunInfo, RunSummary, Timeseries, ParticipantsSeries, QualityBands, SfuLoad, FirstMediaDistribution, RoomList, PeerList, EventList } from '../../protocol/api.ts';
import { seriesMetricNames } from '../../protocol/metrics.ts';
import { waitFor } from '../helpers/signaling.ts';
import { batch, chromiumFixture, post } from '../helpers/telemetry.ts';
import { removeDir } from '../helpers/tempDir.ts';

const dataDir = mkdtempSync(path.join(os.tmpdir(), 'callswarm-query-test-'));
let collector: Collector;
const runId = 'run-query';
const t0 = Date.now() - 60_000;

async function get<T>(pathname: string): Promise<{ status: number; body: T }> {
	const response = await fetch(`${collector.url}${pathname}`);
	return { status: response.status, body: (await response.json()) as T };
}

beforeAll(async () => {
	collector = await startCollector({
		port: 0,
		logLevel: 'silent',
		dataDir,
	});
	const fixture = chromiumFixture();
	const peers = [
		['p0', 'room-a'],
		['p1', 'room-a'],
		['p2', 'room-b'],
		['p3', 'room-b'],
	] as const;
	const batches = peers.map(([peerId, roomId], i) => {
		// Each peer's real snapshots, moved to its own place on the run's timeline.
		const shift = t0 + i * 5000 - fixture.snapshots[0]!.ts;
		const snapshots = fixture.snapshots.map((s) => ({ ...s, ts: s.ts + shift }));
		return batch(runId, peerId, snapshots, [
			{ type: 'join', ts: t0 + i * 5000, durationMs: 300 + i * 100, attempt: 1 },
			{ type: 'first-media', ts: t0 + i * 5000 + 500, durationMs: 800 + i * 200, mediaKind: 'video' },
		], { source: { botId: `bot-${peerId}`, roomId, peerId, kind: 'browser' } });
	});
	batches.push(
		batch(runId, 'p4', [], [{ type: 'fail', ts: t0 + 2000, reason: 'getUserMedia failed' }], {
			source: { botId: 'bot-p4', roomId: 'room-b', peerId: 'p4', kind: 'browser' },
		}),
	);
	batches.push(
		batch(
			runId,
			'-',
			[0, 1, 2, 3].map((k) => ({
				ts: t0 + k * 5000,
				pc: '',
				stats: [
					{ type: 'sfu-worker', id: 'w0', timestamp: t0 + k * 5000, worker: 0, pid: 42, cpuSeconds: k * 1.5, maxRssBytes: 50e6, rooms: 2, peers: 4, producers: 8, consumers: 12 },
				],
			})),
			[],
			{ source: { botId: 'sfu-1', roomId: '-', peerId: '-', kind: 'sfu' } },
		),
	);
	const reply = await post(collector.url, { batches });
	expect(reply.status).toBe(202);
	await collector.flush();
});

afterAll(async () => {
	await collector?.close();
	removeDir(dataDir);
});

describe('query API on a stored run', () => {
	it('lists runs, and a registration replaces the placeholder row', async () => {
		let runs = await get<{ runs: RunInfo[] }>('/v1/runs');
		// A run from one machine has no shard rows: it counts as one shard.
		expect(runs.body.runs.find((r) => r.runId === runId)).toMatchObject({ status: 'running', scenario: '', participants: 5, shards: 1 });
		const put = await fetch(`${collector.url}/v1/runs/${runId}`, {
			method: 'PUT',
			headers: { 'content-type': 'application/json' },
			body: JSON.stringify({ scenario: 'smoke', status: 'passed', startedAt: t0, endedAt: t0 + 30_000, plannedParticipants: 5 }),
		});
		expect(put.status).toBe(200);
		runs = await get<{ runs: RunInfo[] }>('/v1/runs?limit=10');
		expect(runs.body.runs.find((r) => r.runId === runId)).toMatchObject({
			scenario: 'smoke',
			status: 'passed',
			durationMs: 30_000,
			plannedParticipants: 5,
		});
		const bad = await fetch(`${collector.url}/v1/runs/${runId}`, {
			method: 'PUT',
			headers: { 'content-type': 'application/json' },
			body: JSON.stringify({ status: 'great', startedAt: 'yesterday' }),
		});
		expect(bad.status).toBe(400);
		expect(((await bad.json()) as { issues: Array<{ path: string }> }).issues.map((i) => i.path).sort()).toEqual(['startedAt', 'status']);
	});

	it('summarises participants and every metric, from the rollup and exactly', async () => {
		const { body } = await get<RunSummary>(`/v1/runs/${runId}/summary`);
		expect(body.participants).toMatchObject({ attempted: 5, joined: 4, failed: 1, dropped: 0 });
		expect(body.joinSuccessRate).toBeCloseTo(0.8);
		expect(body.metrics.join_failed.rate).toBeCloseTo(0.2);
		expect(body.metrics.rtt_ms.count).toBeGreaterThan(0);
		expect(body.metrics.rtt_ms.p95).not.toBeNull();
		expect(body.metrics.bitrate_in_kbps.p50).toBeGreaterThan(100);
		expect(body.metrics.audio_bitrate_in_kbps.p50).toBeGreaterThan(10);
		expect(body.metrics.mos.p50).toBeGreaterThan(4);
		expect(body.metrics.first_media_ms).toMatchObject({ count: 4, min: 800, max: 1400 });
		const exact = await get<RunSummary>(`/v1/runs/${runId}/summary?exact=1`);
		expect(exact.body.exact).toBe(true);
		expect(exact.body.metrics.rtt_ms.count).toBe(body.metrics.rtt_ms.count);
		expect(exact.body.metrics.jitter_ms.max).not.toBeNull();
	});

	it('gives time series from the rollup, and per room or peer from raw samples', async () => {
		const all = await get<Timeseries>(`/v1/runs/${runId}/timeseries?bucket=5`);
		expect(all.body.bucketSeconds).toBe(5);
		expect(all.body.series.rtt_ms!.length).toBeGreaterThan(1);
		expect(all.body.series.fps!.every((p) => p.p50 !== null && p.p50 > 0)).toBe(true);
		const room = await get<Timeseries>(`/v1/runs/${runId}/timeseries?bucket=5&room=room-a&metrics=loss_pct,jitter_ms`);
		expect(Object.keys(room.body.series)).toEqual(['loss_pct', 'jitter_ms']);
		const roomPoints = room.body.series.jitter_ms!.reduce((n, p) => n + p.n, 0);
		const allPoints = all.body.series.jitter_ms!.reduce((n, p) => n + p.n, 0);
		expect(roomPoints).toBeGreaterThan(0);
		expect(roomPoints).toBeLessThan(allPoints);
		const peer = await get<Timeseries>(`/v1/runs/${runId}/timeseries?peer=p0&metrics=rtt_ms`);
		expect(peer.body.series.rtt_ms!.reduce((n, p) => n + p.n, 0)).toBe(chromiumFixture().snapshots.length);
		const bad = await get<{ issues: Array<{ path: string }> }>(`/v1/runs/${runId}/timeseries?metrics=rtt_ms,latency&bucket=0`);
		expect(bad.status).toBe(400);
		expect(bad.body.issues.map((i) => i.path).sort()).toEqual(['bucket', 'metrics[1]']);
	});

	it('gives participants over time, quality bands, SFU load and the first-media distribution', async () => {
		const participants = await get<ParticipantsSeries>(`/v1/runs/${runId}/participants?bucket=5`);
		const last = participants.body.points.at(-1)!;
		expect(last).toMatchObject({ joined: 4, failed: 1 });
		expect(Math.max(...participants.body.points.map((p) => p.active))).toBeGreaterThanOrEqual(1);
		const quality = await get<QualityBands>(`/v1/runs/${runId}/quality`);
		expect(quality.body.points.reduce((n, p) => n + p.good, 0)).toBeGreaterThan(0);
		const sfu = await get<SfuLoad>(`/v1/runs/${runId}/sfu?bucket=5`);
		expect(sfu.body.workers).toHaveLength(1);
		const cpu = sfu.body.workers[0]!.points.map((p) => p.cpuPct).filter((c) => c !== null);
		expect(cpu[0]).toBeCloseTo(30, 0);
		const firstMedia = await get<FirstMediaDistribution>(`/v1/runs/${runId}/first-media`);
		expect(firstMedia.body.count).toBe(4);
		expect(firstMedia.body.histogram.reduce((n, b) => n + b.count, 0)).toBe(4);
	});

	it('serves the whole run view in one request', async () => {
		const { status, body } = await get<RunView>(`/v1/runs/${runId}/view`);
		expect(status).toBe(200);
		expect(body.run.runId).toBe(runId);
		expect(body.timeseries.bucketSeconds).toBe(5);
		expect(Object.keys(body.timeseries.series)).toEqual(expect.arrayContaining(['rtt_ms', 'jitter_ms', 'loss_pct', 'mos', 'fps']));
		expect(body.summary.participants.joined).toBe(4);
		expect(body.participants.points.length).toBeGreaterThan(0);
		expect(body.firstMedia.count).toBe(4);
		expect(body.sfu.workers).toHaveLength(1);
		expect((await get(`/v1/runs/nope/view`)).status).toBe(404);
	});

	it('answers the view with the same figures as the endpoints it stands for, at a rollup and at a raw bucket', async () => {
		// The view shares one pass for its charts and summary and one for everything from events;
		// each part must still say what its own endpoint says.
		const closeTo = (a: unknown, b: unknown, at = ''): void => {
			if (typeof a === 'number' && typeof b === 'number') expect(a, at).toBeCloseTo(b, 9);
			else if (a && b && typeof a === 'object' && typeof b === 'object') {
				for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) closeTo((a as never)[key], (b as never)[key], `${at}.${key}`);
			} else expect(a, at).toEqual(b);
		};
		for (const bucket of [5, 15, 2]) {
			const { status, body } = await get<RunView>(`/v1/runs/${runId}/view?bucket=${bucket}`);
			expect(status).toBe(200);
			const timeseries = await get<Timeseries>(`/v1/runs/${runId}/timeseries?bucket=${bucket}&metrics=${seriesMetricNames.join(',')}`);
			closeTo(body.timeseries, timeseries.body, `view?bucket=${bucket} timeseries`);
			expect(Object.values(body.timeseries.series).some((points) => points.length > 0)).toBe(true);
			const { runId: _summaryRun, ...summary } = (await get<RunSummary>(`/v1/runs/${runId}/summary`)).body;
			// The peak of participants is read off the participants series at the view's own bucket.
			const peakActive = Math.max(...body.participants.points.map((p) => p.active));
			expect(body.summary.participants.peakActive).toBe(peakActive);
			closeTo({ ...body.summary, participants: { ...body.summary.participants, peakActive: 0 } }, { ...summary, runId, participants: { ...summary.participants, peakActive: 0 } }, 'summary');
			expect(body.summary.metrics.first_media_ms).toMatchObject({ count: 4, min: 800, max: 1400 });
			closeTo(body.run, (await get<RunInfo>(`/v1/runs/${runId}`)).body, 'run');
			closeTo(body.firstMedia, (await get<FirstMediaDistribution>(`/v1/runs/${runId}/first-media`)).body, 'firstMedia');
		}
		expect((await get<RunView>(`/v1/runs/${runId}/view?bucket=2`)).body.timeseries.bucketSeconds).toBe(2);
	});

	it('drills down into rooms, peers and events', async () => {
		const rooms = await get<RoomList>(`/v1/runs/${runId}/rooms`);
		expect(rooms.body.rooms).toEqual([
			{ roomId: 'room-a', participants: 2 },
			{ roomId: 'room-b', participants: 3 },
		]);
		const peers = await get<PeerList>(`/v1/runs/${runId}/peers?room=room-a`);
		expect(peers.body.peers.map((p) => p.peerId)).toEqual(['p0', 'p1']);
		expect(peers.body.peers[0]).toMatchObject({ joined: true, failed: false });
		expect(peers.body.peers[0]!.rttMs).not.toBeNull();
		const events = await get<EventList>(`/v1/runs/${runId}/events?peer=p4`);
		expect(events.body.events).toEqual([expect.objectContaining({ type: 'fail', reason: 'getUserMedia failed' })]);
		expect((await get(`/v1/runs/no-such-run`)).status).toBe(404);
		expect((await get(`/v1/runs/bad%20id/summary`)).status).toBe(400);
		expect((await get(`/v1/nothing`)).status).toBe(404);
	});
	it('caches views of finished runs until new telemetry for the run arrives', async () => {
		// The run was registered as passed above: its view is precomputed.
		await waitFor(() => collector.views.get(runId, 'view:') !== undefined, 'the precomputed view');
		const before = await get<RunView>(`/v1/runs/${runId}/view`);
		const late = await post(collector.url, batch(runId, 'p9', [], [{ type: 'join', ts: t0 + 9000, durationMs: 100, attempt: 1 }]));
		expect(late.status).toBe(202);
		expect(collector.views.get(runId, 'view:')).toBeUndefined();
		await collector.flush();
		const after = await get<RunView>(`/v1/runs/${runId}/view`);
		expect(after.body.summary.participants.joined).toBe(before.body.summary.participants.joined + 1);
	});
});

describe('threshold evaluation', () => {
	it('checks k6-style thresholds exactly against the stored run', async () => {
		const response = await fetch(`${collector.url}/v1/runs/${runId}/evaluate`, {
			method: 'POST',
			headers: { 'content-type': 'application/json' },
			body: JSON.stringify({
				thresholds: {
					rtt_ms: ['p(95)<150', 'max<0.001'],
					first_media_ms: ['avg<2000', 'count>=4', 'min>900'],
					join_failed: ['rate<0.5', 'rate==0'],
					fps: ['med>5'],
				},
			}),
		});
		expect(response.status).toBe(200);
		const { results } = (await response.json()) as { results: Array<{ metric: string; expression: string; ok: boolean; value: number | null }> };
		const verdict = Object.fromEntries(results.map((r) => [`${r.metric} ${r.expression}`, r.ok]));
		expect(verdict).toEqual({
			'rtt_ms p(95)<150': true,
			'rtt_ms max<0.001': false,
			'first_media_ms avg<2000': true,
			'first_media_ms count>=4': true,
			'first_media_ms min>900': false,
			'join_failed rate<0.5': true,
			'join_failed rate==0': false,
			'fps med>5': true,
		});
		expect(results.find((r) => r.expression === 'min>900')!.value).toBe(800);

		const bad = await fetch(`${collector.url}/v1/runs/${runId}/evaluate`, {
			method: 'POST',
			headers: { 'content-type': 'application/json' },
			body: JSON.stringify({ thresholds: { latency: ['p(95)<1'] } }),
		});
		expect(bad.status).toBe(400);
	});
});

/** The normaliser's own logic on hand-made stats: deltas, counter resets, probation streams, commits. */
import { describe, expect, it } from 'vitest';
import { Normalizer } from '../../collector/normalize/Normalizer.ts';
import { BaselineKeeper, baselineOf } from '../../protocol/baseline.ts';
import { TelemetryBatch } from '../../protocol/telemetry.ts';
import { chromiumFixture } from '../helpers/telemetry.ts';
import { markScreenStats } from '../../capture/screenStats.ts';

/** Recent: a snapshot older than its retention is refused (the TTL would delete it as it is stored). */
const t0 = Date.now() - 3_600_000;

function inbound(ts: number, counters: { packetsReceived: number; packetsLost: number; bytesReceived: number }, extra: Record<string, unknown> = {}) {
	return { type: 'inbound-rtp', id: 'IT01V', timestamp: ts, ssrc: 42, kind: 'video', jitter: 0.004, ...counters, ...extra };
}

function batch(snapshots: Array<{ ts: number; stats: Array<Record<string, unknown>> }>, peerId = 'p0') {
	return TelemetryBatch.parse({
		batchId: `batch-${Math.random().toString(36).slice(2)}`,
		runId: 'unit',
		source: { botId: peerId, roomId: 'r', peerId, kind: 'browser' },
		snapshots: snapshots.map((s) => ({ ...s, pc: 'recv' })),
	});
}

describe('normaliser', () => {
	it('turns cumulative counters into per-interval deltas, bitrate and loss', () => {
		const n = new Normalizer();
		const out = n.normalize(
			batch([
				{ ts: t0, stats: [inbound(t0, { packetsReceived: 100, packetsLost: 0, bytesReceived: 100_000 })] },
				{ ts: t0 + 2000, stats: [inbound(t0 + 2000, { packetsReceived: 290, packetsLost: 10, bytesReceived: 350_000 })] },
			]),
		);
		expect(out.samples[0]).toMatchObject({ packets_delta: null, bitrate_bps: null, loss_pct: null, interval_ms: null });
		expect(out.samples[1]).toMatchObject({ packets_delta: 190, lost_delta: 10, bytes_delta: 250_000, interval_ms: 2000, bitrate_bps: 1_000_000, loss_pct: 5 });
		expect(out.samples[1]!.jitter_ms).toBeCloseTo(4, 6);
	});

	it('counts received layer switches per minute and the share of time a sender was held back by CPU or bandwidth', () => {
		const n = new Normalizer();
		const outbound = (ts: number, packetsSent: number, durations: Record<string, number>) => ({
			type: 'outbound-rtp', id: 'OT01V', timestamp: ts, ssrc: 7, kind: 'video', packetsSent, bytesSent: packetsSent * 1000, qualityLimitationDurations: durations,
		});
		const out = n.normalize(
			batch([
				{ ts: t0, stats: [inbound(t0, { packetsReceived: 100, packetsLost: 0, bytesReceived: 1e5 }, { frameHeight: 360 }), outbound(t0, 10, { none: 5, cpu: 1, bandwidth: 0, other: 0 })] },
				{ ts: t0 + 2000, stats: [inbound(t0 + 2000, { packetsReceived: 200, packetsLost: 0, bytesReceived: 2e5 }, { frameHeight: 180 }), outbound(t0 + 2000, 20, { none: 5.5, cpu: 2, bandwidth: 0.5, other: 0 })] },
				{ ts: t0 + 4000, stats: [inbound(t0 + 4000, { packetsReceived: 300, packetsLost: 0, bytesReceived: 3e5 }, { frameHeight: 180 }), outbound(t0 + 4000, 30, { none: 7.5, cpu: 2, bandwidth: 0.5, other: 0 })] },
			]),
		);
		const received = out.samples.filter((r) => r.direction === 'inbound').map((r) => r.layer_switches_per_min);
		expect(received).toEqual([null, 30, 0]);
		const sent = out.samples.filter((r) => r.direction === 'outbound').map((r) => [r.cpu_limited_pct, r.bandwidth_limited_pct]);
		expect(sent).toEqual([[null, null], [50, 25], [0, 0]]);
	});

	it('gives a shared screen (contentType "screenshare", marked by the capture) its own kind, apart from the camera', () => {
		const n = new Normalizer();
		const stats = markScreenStats(
			[
				inbound(t0, { packetsReceived: 10, packetsLost: 0, bytesReceived: 10_000 }, { id: 'cam', ssrc: 1, trackIdentifier: 'camera-track', framesPerSecond: 15 }),
				inbound(t0, { packetsReceived: 10, packetsLost: 0, bytesReceived: 10_000 }, { id: 'scr', ssrc: 2, trackIdentifier: 'screen-track', framesPerSecond: 5 }),
				inbound(t0, { packetsReceived: 10, packetsLost: 0, bytesReceived: 10_000 }, { id: 'mic', ssrc: 3, kind: 'audio', trackIdentifier: 'screen-track-audio' }),
				{ type: 'outbound-rtp', id: 'out-scr', timestamp: t0, ssrc: 4, kind: 'video', mid: '2', packetsSent: 5 },
				{ type: 'outbound-rtp', id: 'out-cam', timestamp: t0, ssrc: 5, kind: 'video', mid: '1', packetsSent: 5 },
			],
			{ receivedTracks: new Set(['screen-track']), sentMids: new Set(['2']) },
		);
		const kinds = Object.fromEntries(n.normalize(batch([{ ts: t0, stats }])).samples.map((r) => [r.stream_id, r.kind]));
		expect(kinds).toEqual({ cam: 'video', scr: 'screen', mic: 'audio', 'out-scr': 'screen', 'out-cam': 'video' });
		// A browser that says so itself is believed; an unknown content type is not a screen.
		const own = n.normalize(batch([{ ts: t0, stats: [inbound(t0, { packetsReceived: 1, packetsLost: 0, bytesReceived: 1 }, { id: 'x', ssrc: 9, contentType: 'screenshare' }), inbound(t0, { packetsReceived: 1, packetsLost: 0, bytesReceived: 1 }, { id: 'y', ssrc: 8, contentType: 'unspecified' })] }]));
		expect(own.samples.map((r) => r.kind)).toEqual(['screen', 'video']);
	});

	it('starts a stream over when a counter goes backwards (a restarted bot), never a negative delta', () => {
		const n = new Normalizer();
		const first = n.normalize(batch([{ ts: t0, stats: [inbound(t0, { packetsReceived: 5000, packetsLost: 20, bytesReceived: 5_000_000 })] }]));
		first.commit();
		const after = n.normalize(
			batch([
				{ ts: t0 + 2000, stats: [inbound(t0 + 2000, { packetsReceived: 30, packetsLost: 0, bytesReceived: 20_000 })] },
				{ ts: t0 + 4000, stats: [inbound(t0 + 4000, { packetsReceived: 130, packetsLost: 2, bytesReceived: 120_000 })] },
			]),
		);
		expect(after.samples[0]).toMatchObject({ packets_delta: null, lost_delta: null, loss_pct: null });
		expect(after.samples[1]).toMatchObject({ packets_delta: 100, lost_delta: 2 });
		after.commit();
		// Lost counters may drop (duplicates, RFC 3550): the delta is clamped, not negative.
		const dup = n.normalize(batch([{ ts: t0 + 6000, stats: [inbound(t0 + 6000, { packetsReceived: 230, packetsLost: 1, bytesReceived: 220_000 })] }]));
		expect(dup.samples[0]!.lost_delta).toBe(0);
	});

	it('keeps an uncommitted batch from becoming the baseline of its own retry', () => {
		const n = new Normalizer();
		n.normalize(batch([{ ts: t0, stats: [inbound(t0, { packetsReceived: 100, packetsLost: 0, bytesReceived: 100_000 })] }])).commit();
		const retried = batch([{ ts: t0 + 2000, stats: [inbound(t0 + 2000, { packetsReceived: 300, packetsLost: 0, bytesReceived: 300_000 })] }]);
		// The first attempt could not be stored (no commit); the resend still gets its deltas.
		n.normalize(retried);
		const again = n.normalize(retried);
		expect(again.samples[0]).toMatchObject({ packets_delta: 200, bytes_delta: 200_000 });
	});

	it('refuses snapshots and events older than their retention or more than a day ahead, naming them, and keeps no raw report past its own', () => {
		const n = new Normalizer({ retentionDays: 30, rawRetentionDays: 7 });
		const day = 86_400_000;
		const counters = (packetsReceived: number) => ({ packetsReceived, packetsLost: 0, bytesReceived: packetsReceived * 1000 });
		const old = batch([
			{ ts: t0 - 31 * day, stats: [inbound(t0 - 31 * day, counters(100))] },
			{ ts: t0 - 10 * day, stats: [inbound(t0 - 10 * day, counters(200))] },
			{ ts: t0, stats: [inbound(t0, counters(300))] },
			{ ts: t0 + 2 * day, stats: [inbound(t0 + 2 * day, counters(400))] },
		]);
		const withEvents = TelemetryBatch.parse({ ...old, events: [{ ts: t0 - 40 * day, type: 'join' }, { ts: t0, type: 'join' }] });
		const out = n.normalize(withEvents, { keepRawReports: true });
		expect(out.rejected).toEqual([
			{ path: 'snapshots[0].ts', message: expect.stringMatching(/^is \d{4}-\d\d-\d\dT.*Z, older than this telemetry's retention of 30 days: it would be deleted as it is stored$/) },
			{ path: 'snapshots[3].ts', message: expect.stringMatching(/^is .*Z, more than a day ahead of the collector's clock \(.*Z\): the sender's clock is wrong$/) },
			{ path: 'events[0].ts', message: expect.stringContaining('retention of 30 days') },
		]);
		expect(out.samples.map((r) => r.ts)).toEqual([t0 - 10 * day, t0]);
		expect(out.firstTs).toBe(t0 - 10 * day);
		expect(out.events.map((e) => e.ts)).toEqual([t0]);
		// The raw report of ten days ago is past its 7 days: only today's is kept.
		expect(out.raw.map((r) => r.ts)).toEqual([t0]);
		// An app's own retention decides: 60 days keeps the 31-day-old snapshot.
		expect(new Normalizer().normalize(old, { retentionDays: 60 }).rejected.map((r) => r.path)).toEqual(['snapshots[3].ts']);
	});

	it('ignores mediasoup bandwidth probation (mid "probator", or SSRC 1234 without a mid)', () => {
		const n = new Normalizer();
		const out = n.normalize(
			batch([
				{
					ts: t0,
					stats: [
						inbound(t0, { packetsReceived: 10, packetsLost: 0, bytesReceived: 10_000 }, { id: 'probe-a', mid: 'probator' }),
						inbound(t0, { packetsReceived: 10, packetsLost: 0, bytesReceived: 10_000 }, { id: 'probe-b', ssrc: 1234 }),
						inbound(t0, { packetsReceived: 10, packetsLost: 0, bytesReceived: 10_000 }, { id: 'audio-1234', ssrc: 1234, kind: 'audio' }),
					],
				},
			]),
		);
		expect(out.samples.map((s) => s.stream_id)).toEqual(['audio-1234']);
	});

	it('takes RTT from the selected candidate pair and gives received audio a MOS', () => {
		const n = new Normalizer();
		const stats = (ts: number, received: number) => [
			{ type: 'transport', id: 'T1', timestamp: ts, selectedCandidatePairId: 'CP2' },
			{ type: 'candidate-pair', id: 'CP1', timestamp: ts, state: 'succeeded', nominated: true, currentRoundTripTime: 0.5 },
			{ type: 'candidate-pair', id: 'CP2', timestamp: ts, state: 'succeeded', currentRoundTripTime: 0.02, availableOutgoingBitrate: 900_000 },
			{ type: 'inbound-rtp', id: 'IA', timestamp: ts, ssrc: 7, kind: 'audio', jitter: 0.005, packetsReceived: received, packetsLost: 0, bytesReceived: received * 80 },
		];
		const out = n.normalize(batch([{ ts: t0, stats: stats(t0, 100) }, { ts: t0 + 1000, stats: stats(t0 + 1000, 150) }]));
		const pairs = out.samples.filter((s) => s.direction === 'candidate-pair');
		expect(pairs.map((p) => [p.stream_id, p.rtt_ms])).toEqual([
			['CP2', 20],
			['CP2', 20],
		]);
		const audio = out.samples.filter((s) => s.kind === 'audio');
		expect(audio[0]!.mos).toBeNull();
		expect(audio[1]!.mos).toBeGreaterThan(4.3);
	});
});

describe('stateless normalisation (batches carry their baseline)', () => {
	/** Every snapshot of the real capture, one batch each, the way callswarm's sender builds them. */
	function senderBatches(withBaseline: boolean): TelemetryBatch[] {
		const keeper = new BaselineKeeper();
		return chromiumFixture().snapshots.map((snapshot, i) =>
			TelemetryBatch.parse({
				batchId: `stateless-${i}`,
				runId: 'unit',
				source: { botId: 'p0', roomId: 'r', peerId: 'p0', kind: 'browser' },
				snapshots: [snapshot],
				...(withBaseline ? { baseline: keeper.take('p0', [snapshot]) } : {}),
			}),
		);
	}
	const rowsOf = (normalizers: Normalizer[], batches: TelemetryBatch[]) =>
		batches.flatMap((b, i) => {
			const out = normalizers[i % normalizers.length]!.normalize(b);
			out.commit();
			return out.samples;
		});

	it('gives the same rows whichever of three collectors gets each batch', () => {
		const one = rowsOf([new Normalizer()], senderBatches(true));
		const three = rowsOf([new Normalizer(), new Normalizer(), new Normalizer()], senderBatches(true));
		expect(three).toEqual(one);
		// And the same as a single collector remembering the previous snapshots itself.
		expect(one).toEqual(rowsOf([new Normalizer()], senderBatches(false)));
		// Only the first sample of each of the four streams has no delta.
		const rtp = one.filter((r) => r.direction === 'inbound' || r.direction === 'outbound');
		expect(rtp.length).toBeGreaterThan(8);
		expect(rtp.filter((r) => r.packets_delta === null)).toHaveLength(4);
		// Without baselines, each collector would miss most deltas: the reason for it.
		const alternating = rowsOf([new Normalizer(), new Normalizer(), new Normalizer()], senderBatches(false));
		expect(alternating.filter((r) => r.packets_delta !== null).length).toBeLessThan(one.filter((r) => r.packets_delta !== null).length);
	});

	it('keeps a third of a snapshot in a baseline: identities and counters only', () => {
		const snapshot = chromiumFixture().snapshots.at(-1)!;
		const reduced = baselineOf(snapshot);
		expect(JSON.stringify(reduced).length).toBeLessThan(JSON.stringify(snapshot).length / 2.5);
		const inbound = reduced.stats.find((s) => s.type === 'inbound-rtp')!;
		expect(Object.keys(inbound)).not.toContain('jitter');
		expect(inbound).toHaveProperty('packetsReceived');
	});
});

/**
 * End-to-end delay with ground truth: video marks drawn into the senders' frames, read off every
 * decoded frame at the receivers, and audio bursts in the senders' microphones, heard in the
 * received audio. A browser sender is seen 100 ms later (±50 ms) by a receiver whose network adds
 * 100 ms each way than by a control receiver (each through its own relay and a real TURN server),
 * and heard 40 to 200 ms later (audio's jitter buffer adapts); lite senders whose network adds
 * 100 ms are seen that much later (±50 ms) and heard 40 to 200 ms later; a direct call shows a small, stable delay; the marks
 * are read on (nearly) every frame and burst.
 */
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LoadRun } from '../../loadgen/run/LoadRun.ts';
import { Scenario, type ScenarioInput } from '../../protocol/scenario.ts';
import { storePollMs, waitFor } from '../helpers/signaling.ts';
import { removeDir } from '../helpers/tempDir.ts';

const dataDir = mkdtempSync(path.join(os.tmpdir(), 'callswarm-e2e-test-'));
afterAll(() => removeDir(dataDir));

interface Cell {
	kind: 'audio' | 'video';
	receiver: string;
	sender: string;
	p50: number;
	n: number;
	marks: number;
	frames: number;
}

/**
 * Runs until every receiver has `samples` e2e samples from every sender (counted from the last
 * first media), then stops. `pairs`: sender → receiver pairs per kind (default: every participant
 * to every other); `receivers`: participants that receive media (default: all of them).
 */
async function measure(input: ScenarioInput, samples: number, { pairs, receivers }: { pairs?: number; receivers?: number } = {}): Promise<Cell[]> {
	const scenario = Scenario.parse(input);
	const run = new LoadRun({ scenario, dataDir });
	const firstMedia = new Map<string, number>();
	run.on('participant', (slot, event) => {
		if (event.type === 'first-media') firstMedia.set(slot.peerId, event.ts);
	});
	const participants = scenario.participants.reduce((n, g) => n + g.count, 0);
	const cellsWanted = 2 * (pairs ?? participants * (participants - 1));
	const outcome = run.execute();
	const cells = async (): Promise<Cell[]> => {
		await run.collector!.flush();
		// The first seconds of a call settle (bandwidth estimate, jitter buffers): measured from 5 s after the last first media.
		const since = Math.max(...firstMedia.values()) + 5000;
		return run.collector!.store.query<Cell>(
			`SELECT kind, peer_id AS receiver, stream_id AS sender, quantileExact(0.5)(e2e_ms) AS p50, count() AS n,
				sum(packets_delta) AS marks, sum(frames_delta) AS frames
			FROM callswarm.samples
			WHERE run_id = {run:String} AND direction = 'e2e' AND e2e_ms IS NOT NULL
				AND ts > fromUnixTimestamp64Milli(toInt64({since:Int64}))
			GROUP BY kind, receiver, sender ORDER BY kind, receiver, sender`,
			{ run: run.runId, since },
		);
	};
	try {
		await waitFor(() => firstMedia.size === (receivers ?? participants), 'first media of every participant that receives', 180_000);
		const found = await waitFor(async () => {
			const c = await cells();
			// Both kinds: audio bursts come once a second, so `samples` of them take `samples` seconds.
			return c.length === cellsWanted && c.every((x) => Number(x.n) >= samples) && c;
		}, `${samples} video and audio delay samples for every sender → receiver pair`, 180_000, storePollMs);
		run.stop('measured');
		await outcome;
		return found.map((c) => ({ ...c, p50: Number(c.p50), n: Number(c.n), marks: Number(c.marks), frames: Number(c.frames) }));
	} finally {
		run.stop('test over');
		await outcome.catch(() => undefined);
		await run.close();
	}
}

describe('end-to-end delay', () => {
	it('measures 100 ms more to receivers whose network adds 100 ms, for video and audio', async () => {
		const cells = await measure(
			{
				name: 'e2e-delay',
				rooms: { count: 1 },
				// One browser sender, seen and heard by a receive-only participant on each network (the control one
				// through its own relay and TURN as well, the path the delayed one's media takes). Four browser
				// senders, each decoding the other three, held a slower 2-core machine at 100 % (video delays of
				// 0.5 to 1 s, the machine's rather than the network's). A sender's uplink delay is measured
				// below, from lite senders' marked media.
				participants: [
					{ name: 'sender', bot: 'browser', count: 1, publish: '180p15', relay: 'always' },
					{ name: 'control', bot: 'browser', count: 1, publish: 'none', relay: 'always' },
					{ name: 'delayed', bot: 'browser', count: 1, publish: 'none', network: { delayMs: 100 } },
				],
				schedule: { executor: 'constant-vus', vus: 3, duration: '5m' },
				statsInterval: '1s',
				e2e: true,
			},
			// A burst a second: 12 of them, so one the receiver's jitter buffer stretched past reading still leaves 90 %
			// (with 8, one missed burst of 9 failed a run on Node 24 in CI).
			12,
			// The sender, seen and heard by both receivers (it receives nothing itself).
			{ pairs: 2, receivers: 2 },
		);
		for (const kind of ['video', 'audio'] as const) {
			const to = (group: string) => cells.find((c) => c.kind === kind && c.receiver.startsWith(group))!.p50;
			const message = `${kind}: ${to('delayed').toFixed(0)} ms to the delayed receiver, ${to('control').toFixed(0)} ms to the control one`;
			// The sender's own path cancels out, and what differs is the 100 ms on the receivers' downlink (and
			// each receiver's own jitter buffer): for video within ±50 ms for one sender (runs with four senders
			// saw up to +129 ms for one alone, +90 to +111 ms over all of them). Audio's jitter buffer adapts to
			// the jitter the relays add, and holds more for the delayed receiver (runs: +79 to +160 ms).
			const [low, high] = kind === 'video' ? [50, 150] : [40, 200];
			expect(to('control'), message).toBeGreaterThan(0);
			expect(to('delayed') - to('control'), message).toBeGreaterThan(low);
			expect(to('delayed') - to('control'), message).toBeLessThan(high);
		}
		for (const c of cells) expect(c.marks / c.frames, `${c.kind} ${c.sender} → ${c.receiver}`).toBeGreaterThanOrEqual(c.kind === 'video' ? 0.99 : 0.9);
	});

	it('reads a small, stable delay in a direct call, on at least 99 % of frames at 360p30 and 90 % of audio bursts', async () => {
		const cells = await measure(
			{
				name: 'e2e-direct',
				rooms: { count: 1 },
				participants: [{ bot: 'browser', count: 2, publish: '360p30' }],
				schedule: { executor: 'constant-vus', vus: 2, duration: '5m' },
				statsInterval: '1s',
				e2e: true,
			},
			// As above: enough bursts that one missed still leaves 90 %.
			12,
		);
		for (const c of cells) {
			expect(c.p50, `${c.sender} → ${c.receiver}`).toBeGreaterThan(0);
			// Audio's jitter buffer grows with the machine's own jitter (a slower 2-core machine once read 250 ms).
			expect(c.p50, `${c.kind} ${c.sender} → ${c.receiver}`).toBeLessThan(c.kind === 'video' ? 150 : 300);
			expect(c.marks / c.frames).toBeGreaterThanOrEqual(c.kind === 'video' ? 0.99 : 0.9);
		}
	});

	it('measures lite senders from their own marked media: 100 ms more from those whose network adds it, on every frame and burst', async () => {
		// Browsers receive only; lite bots send their marked loops, one group through a relay as it is, one adding 100 ms.
		const cells = await measure(
			{
				name: 'e2e-lite',
				rooms: { count: 1 },
				participants: [
					{ name: 'viewers', bot: 'browser', count: 2, publish: 'none' },
					{ name: 'control', bot: 'lite', count: 1, publish: '360p30', relay: 'always' },
					{ name: 'delayed', bot: 'lite', count: 1, publish: '360p30', network: { delayMs: 100 } },
				],
				schedule: { executor: 'constant-vus', vus: 4, duration: '5m' },
				statsInterval: '1s',
				e2e: true,
			},
			// A burst a second: 12 of them, so one the receiver's jitter buffer stretched past reading still leaves 90 %.
			12,
			{ pairs: 2 * 2 },
		);
		expect([...new Set(cells.map((c) => c.sender.replace(/-\d+$/, '')))].sort()).toEqual(['control', 'delayed']);
		for (const kind of ['video', 'audio'] as const) {
			for (const receiver of new Set(cells.map((c) => c.receiver))) {
				const from = (group: string) => cells.find((c) => c.kind === kind && c.receiver === receiver && c.sender.startsWith(group))!.p50;
				const message = `${kind} ${receiver}: ${from('delayed').toFixed(0)} ms from the delayed lite bot, ${from('control').toFixed(0)} ms from the control one`;
				expect(from('control'), message).toBeGreaterThan(0);
				// Through a relay in this process and TURN, on a busy 2-core machine: CI's slower one read 159 ms for video.
				expect(from('control'), message).toBeLessThan(kind === 'video' ? 200 : 250);
				// A lite bot has no congestion control or pacer to move with its network: the uplink's 100 ms shows whole,
				// within what the receiver's jitter buffer moves by (CI's slower machine: +79 ms, control at 159 ms).
				const [low, high] = kind === 'video' ? [50, 150] : [40, 200];
				expect(from('delayed') - from('control'), message).toBeGreaterThan(low);
				expect(from('delayed') - from('control'), message).toBeLessThan(high);
			}
		}
		for (const c of cells) expect(c.marks / c.frames, `${c.kind} ${c.sender} → ${c.receiver}`).toBeGreaterThanOrEqual(c.kind === 'video' ? 0.99 : 0.9);
	});
});

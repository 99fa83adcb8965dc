/**
 * End-to-end video delay with ground truth: marks drawn into the senders' frames, read off
 * every decoded frame at the receivers. In a room of a control group and a group whose network
 * adds 100 ms each way (each through its own relay and a real TURN server, the path the control
 * group's media takes too), senders are seen 100 ms later (±25 ms over all of them) by delayed
 * receivers than by control receivers; a direct call shows a small, stable delay; the marks are read on
 * (nearly) every frame.
 */
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LoadRun } from '../../loadgen/run/LoadRun.ts';
import { Scenario, type ScenarioInput } from '../../protocol/scenario.ts';
import { waitFor } from '../helpers/signaling.ts';
import { removeDir } from '../helpers/tempDir.ts';

const dataDir = mkdtempSync(path.join(os.tmpdir(), 'callswarm-e2e-test-'));
afterAll(() => removeDir(dataDir));

interface Cell {
	receiver: string;
	sender: string;
	p50: number;
	n: number;
	marks: number;
	frames: number;
}

/** Runs until every receiver has `samples` e2e samples from every other participant (counted from its own first media), then stops. */
async function measure(input: ScenarioInput, samples: number): Promise<Cell[]> {
	const scenario = Scenario.parse(input);
	const run = new LoadRun({ scenario, dataDir });
	const firstMedia = new Map<string, number>();
	run.on('participant', (slot, event) => {
		if (event.type === 'first-media') firstMedia.set(slot.peerId, event.ts);
	});
	const participants = scenario.participants.reduce((n, g) => n + g.count, 0);
	const outcome = run.execute();
	const cells = async (): Promise<Cell[]> => {
		await run.collector!.flush();
		// The first seconds of a call settle (bandwidth estimate, jitter buffers): measured from 5 s after the last first media.
		const since = Math.max(...firstMedia.values()) + 5000;
		return run.collector!.store.query<Cell>(
			`SELECT peer_id AS receiver, stream_id AS sender, quantileExact(0.5)(e2e_ms) AS p50, count() AS n,
				sum(packets_delta) AS marks, sum(frames_delta) AS frames
			FROM callswarm.samples
			WHERE run_id = {run:String} AND direction = 'e2e' AND kind = 'video' AND e2e_ms IS NOT NULL
				AND ts > fromUnixTimestamp64Milli(toInt64({since:Int64}))
			GROUP BY receiver, sender ORDER BY receiver, sender`,
			{ run: run.runId, since },
		);
	};
	try {
		await waitFor(() => firstMedia.size === participants, 'first media of every participant', 180_000);
		const found = await waitFor(async () => {
			const c = await cells();
			return c.length === participants * (participants - 1) && c.every((x) => Number(x.n) >= samples) && c;
		}, `${samples} delay samples for every sender → receiver pair`, 180_000);
		run.stop('measured');
		await outcome;
		return found.map((c) => ({ ...c, p50: Number(c.p50), n: Number(c.n), marks: Number(c.marks), frames: Number(c.frames) }));
	} finally {
		run.stop('test over');
		await outcome.catch(() => undefined);
		await run.close();
	}
}

describe('end-to-end video delay', () => {
	it('measures 100 ms more to receivers whose network adds 100 ms, within 25 ms over all senders, and more from senders whose network adds it', async () => {
		const cells = await measure(
			{
				name: 'e2e-delay',
				rooms: { count: 1 },
				participants: [
					{ name: 'control', bot: 'browser', count: 2, publish: '180p15', relay: 'always' },
					{ name: 'delayed', bot: 'browser', count: 2, publish: '180p15', network: { delayMs: 100 } },
				],
				schedule: { executor: 'constant-vus', vus: 4, duration: '5m' },
				statsInterval: '1s',
			},
			8,
		);
		const mean = (pick: (c: Cell) => boolean) => {
			const values = cells.filter(pick).map((c) => c.p50);
			return values.reduce((a, b) => a + b, 0) / values.length;
		};
		// Per sender: to delayed receivers minus to control receivers. The sender's own path cancels
		// out, and what differs is the 100 ms on the receivers' downlink (and each receiver's own
		// jitter buffer): within ±50 ms for each sender, within ±25 ms over all senders.
		const extras: string[] = [];
		const downlink = [...new Set(cells.map((c) => c.sender))].map((sender) => {
			const to = (group: string) => mean((c) => c.sender === sender && c.receiver.startsWith(group));
			extras.push(`${sender}: ${to('delayed').toFixed(0)} ms to delayed receivers, ${to('control').toFixed(0)} ms to control receivers`);
			return to('delayed') - to('control');
		});
		for (const extra of downlink) {
			expect(extra, extras.join('; ')).toBeGreaterThan(50);
			expect(extra, extras.join('; ')).toBeLessThan(150);
		}
		const overall = downlink.reduce((a, b) => a + b, 0) / downlink.length;
		expect(overall, extras.join('; ')).toBeGreaterThan(75);
		expect(overall, extras.join('; ')).toBeLessThan(125);
		// Per receiver: from delayed senders minus from control senders shows the uplink's delay too,
		// less exactly: a sender's congestion control and pacer move with its network (runs here saw
		// +11 to +107 ms), so only its sign is checked.
		for (const receiver of new Set(cells.map((c) => c.receiver))) {
			const from = (group: string) => mean((c) => c.receiver === receiver && c.sender.startsWith(group));
			expect(from('delayed') - from('control'), `${receiver}: ${from('delayed').toFixed(0)} ms from delayed senders, ${from('control').toFixed(0)} ms from control senders`).toBeGreaterThan(0);
		}
		for (const c of cells) expect(c.marks / c.frames, `${c.sender} → ${c.receiver}`).toBeGreaterThanOrEqual(0.99);
	});

	it('reads a small, stable delay in a direct call, on at least 99 % of frames at 360p30', async () => {
		const cells = await measure(
			{
				name: 'e2e-direct',
				rooms: { count: 1 },
				participants: [{ bot: 'browser', count: 2, publish: '360p30' }],
				schedule: { executor: 'constant-vus', vus: 2, duration: '5m' },
				statsInterval: '1s',
			},
			8,
		);
		for (const c of cells) {
			expect(c.p50, `${c.sender} → ${c.receiver}`).toBeGreaterThan(0);
			expect(c.p50).toBeLessThan(150);
			expect(c.marks / c.frames).toBeGreaterThanOrEqual(0.99);
		}
	});
});

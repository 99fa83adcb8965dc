/**
 * callswarm capacity with the large-room mix, on the real worker with a Chromium speaker and
 * lite viewers: one room, measured. Last-N shows as consumers the SFU holds paused; the figures
 * per worker core come from the worker's own CPU time. And its flags are checked by name.
 */
import { describe, expect, it } from 'vitest';
import { botCostsText, CapacityFlags, capacityCommand, measureCapacity, stallsDoubt } from '../../cli/commands/capacity.ts';
import { StatusLine } from '../../cli/status.ts';
import { InputError } from '../../protocol/issues.ts';

describe('callswarm capacity --mix large-room', () => {
	it('measures a room of a simulcast speaker, a camera and last-N viewers, with the unwatched camera paused for them', async () => {
		const flags = CapacityFlags.parse({ mix: 'large-room', 'max-rooms': '1', 'step-seconds': '3', viewers: '4', positionals: [] });
		const { steps, stopReason } = await measureCapacity(flags, new StatusLine());
		expect(steps).toHaveLength(1);
		const [step] = steps;
		// Unless this machine's bots saturated first, the one room was measured to the end.
		if (!step!.generatorSaturated) expect(stopReason).toBe('reached --max-rooms 1');
		expect(step!.participants).toBe(6);
		// Each viewer consumes both cameras and both microphones (16); speaker and camera hear each other (2).
		// (One more may be passing through at the instant of counting: a consumer being replaced.)
		expect(step!.consumers).toBeGreaterThanOrEqual(18);
		expect(step!.consumers).toBeLessThanOrEqual(19);
		// Last-N 1: each viewer's second camera stays paused at the SFU (all 18 would flow without it).
		expect(step!.forwarding).toBeGreaterThanOrEqual(14);
		expect(step!.forwarding).toBeLessThanOrEqual(15);
		expect(step!.workerCpu).toBeGreaterThan(0);
		// Every viewer hears and sees the two publishers: its jitter is measured. The lite camera kept time, or said how far it did not.
		expect(step!.jitterP95Ms).toBeGreaterThanOrEqual(0);
		expect(step!.framesLatePct).toBeGreaterThanOrEqual(0);
		expect(step!.framesLatePct).toBeLessThanOrEqual(100);
		// What each kind of bot cost: the speaker's browser, and the lite-bot process's five bots; together all the bots' CPU.
		expect(step!.botCoresEach.browser).toBeGreaterThan(0);
		expect(step!.botCoresEach.lite).toBeGreaterThan(0);
		expect(step!.botCoresEach.browser! + 5 * step!.botCoresEach.lite!).toBeCloseTo(step!.botCpu, 6);
	});

	it('states each bot kind by its cost and how many a core holds', () => {
		expect(botCostsText({ botCoresEach: { browser: 0.25, lite: 0.025 } })).toBe('browser bots 0.250 core each, 4 per core; lite bots and viewers 0.025 core each, 40 per core');
		expect(botCostsText({ botCoresEach: { lite: 0.0125 } })).toBe('lite bots and viewers 0.013 core each, 80 per core');
	});

	it("takes a step whose lite bots sent frames late or withheld round trips as the load generator's limit, not the SFU's", () => {
		const counts = (roundTrips: [number, number], framesSentLate: [number, number]) => ({
			roundTrips: { judged: roundTrips[0], withheld: roundTrips[1] },
			jitterFigures: { judged: 0, withheld: 0 },
			mediaRoundTrips: { judged: 0, withheld: 0 },
			framesSentLate: { judged: framesSentLate[0], withheld: framesSentLate[1] },
		});
		const before = counts([100, 5], [10_000, 500]);
		// What came before the step does not count: 50 of 5 000 frames due in the step (1 %) is not above 1 in 100.
		expect(stallsDoubt(before, counts([200, 10], [15_000, 550]))).toBeUndefined();
		expect(stallsDoubt(before, counts([200, 10], [15_000, 551]))).toMatch(/^jitter_ms takes in 51 of 5000 frames and audio packets lite bots sent, late by more than 40 ms \(1\.0 %\)/);
		// Round trips withheld: more than a tenth of the step's.
		expect(stallsDoubt(before, counts([200, 16], [15_000, 500]))).toMatch(/^rtt_ms leaves out 11 of 100 round trips/);
		expect(stallsDoubt(before, counts([100, 5], [10_000, 500]))).toBeUndefined();
	});

	it('names a flag that does not fit the mix', async () => {
		await expect(capacityCommand(['--mix', 'large-room', '--publish', '360p30'])).rejects.toThrow(InputError);
		await expect(capacityCommand(['--mix', 'large-room', '--publish', '360p30'])).rejects.toThrow(/publish: is for --mix basic/);
		await expect(capacityCommand(['--viewers', '10'])).rejects.toThrow(/viewers: is for --mix large-room/);
		await expect(capacityCommand(['--mix', 'huge'])).rejects.toThrow(/mix/);
	});
});

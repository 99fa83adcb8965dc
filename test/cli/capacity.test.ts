/**
 * callswarm capacity with the large-room mix, on the real worker with a Chromium speaker and
 * lite viewers: one room, measured. Last-N shows as consumers the SFU holds paused; the figures
 * per worker core come from the worker's own CPU time. And its flags are checked by name.
 */
import { describe, expect, it } from 'vitest';
import { CapacityFlags, capacityCommand, measureCapacity } from '../../cli/commands/capacity.ts';
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
	});

	it('names a flag that does not fit the mix', async () => {
		await expect(capacityCommand(['--mix', 'large-room', '--publish', '360p30'])).rejects.toThrow(InputError);
		await expect(capacityCommand(['--mix', 'large-room', '--publish', '360p30'])).rejects.toThrow(/publish: is for --mix basic/);
		await expect(capacityCommand(['--viewers', '10'])).rejects.toThrow(/viewers: is for --mix large-room/);
		await expect(capacityCommand(['--mix', 'huge'])).rejects.toThrow(/mix/);
	});
});

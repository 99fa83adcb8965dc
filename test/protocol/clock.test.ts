/**
 * A sender's clock against the collector's: a request that says when it was sent (`sentAt`) has
 * its times moved by the difference, but only beyond a minute, which a request in transit may
 * take; every time of a batch moves by the same amount.
 */
import { describe, expect, it } from 'vitest';
import { clockToleranceMs, senderClockShift, shiftBatchTimes, TelemetryQuery } from '../../protocol/telemetry.ts';

describe("a sender's clock", () => {
	const arrived = 1_800_000_000_000;

	it('is taken as right within the tolerance, either way, and without a sentAt', () => {
		expect(senderClockShift(undefined, arrived)).toBe(0);
		expect(senderClockShift(arrived, arrived)).toBe(0);
		expect(senderClockShift(arrived - clockToleranceMs, arrived)).toBe(0);
		expect(senderClockShift(arrived + clockToleranceMs, arrived)).toBe(0);
	});

	it('is corrected beyond it: ahead moves times back, behind moves them on', () => {
		expect(senderClockShift(arrived + clockToleranceMs + 1, arrived)).toBe(-(clockToleranceMs + 1));
		expect(senderClockShift(arrived + 3 * 86_400_000, arrived)).toBe(-3 * 86_400_000);
		expect(senderClockShift(arrived - 2 * 3_600_000, arrived)).toBe(2 * 3_600_000);
	});

	it("moves a batch's snapshots, baseline and events alike, and nothing at a shift of 0", () => {
		const batch = { snapshots: [{ ts: 10 }, { ts: 20 }], baseline: [{ ts: 5 }], events: [{ ts: 12 }] };
		shiftBatchTimes(batch, 0);
		expect(batch).toEqual({ snapshots: [{ ts: 10 }, { ts: 20 }], baseline: [{ ts: 5 }], events: [{ ts: 12 }] });
		shiftBatchTimes(batch, -3);
		expect(batch).toEqual({ snapshots: [{ ts: 7 }, { ts: 17 }], baseline: [{ ts: 2 }], events: [{ ts: 9 }] });
	});

	it('is read from the query as whole epoch milliseconds, or refused naming sentAt', () => {
		expect(TelemetryQuery.parse({ sentAt: '1800000000000', key: 'csk_x' })).toEqual({ sentAt: 1_800_000_000_000 });
		expect(TelemetryQuery.parse({})).toEqual({});
		for (const sentAt of ['soon', '1.5e12', '-1', '12', '99999999999999999']) {
			const result = TelemetryQuery.safeParse({ sentAt });
			expect(result.success, sentAt).toBe(false);
			expect(result.error?.issues[0]?.path, sentAt).toEqual(['sentAt']);
		}
	});
});

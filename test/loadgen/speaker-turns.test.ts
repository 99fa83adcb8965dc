import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { SpeakerTurns } from '../../loadgen/run/SpeakerTurns.ts';
import type { Slot } from '../../loadgen/schedule/slots.ts';
import { Scenario, Speaking } from '../../protocol/scenario.ts';

const group = Scenario.parse({ name: 't', participants: [{ count: 1 }], schedule: { executor: 'constant-vus', vus: 1, duration: '1s' } }).participants[0]!;
const slot = (index: number, roomId = 'room-1'): Slot => ({ index, roomId, group, peerId: `p${index}` });

describe('speaker turns', () => {
	beforeEach(() => vi.useFakeTimers());
	afterEach(() => vi.useRealTimers());

	it('lets `concurrent` talk per room, passes turns to whoever spoke least recently, and hands a leaver’s turn on', async () => {
		const talking = new Map<string, boolean>();
		const turns = new SpeakerTurns(Speaking.parse({ concurrent: 2, turnSeconds: [4, 4] }), async (s, on) => {
			talking.set(s.peerId, on);
		});
		const now = (room = 'room-1') => turns.speakers(room).sort((a, b) => a - b);
		for (const i of [0, 1, 2, 3]) turns.add(slot(i));
		turns.add(slot(9, 'room-2'));
		// The first two to join talk; the others wait; each room on its own.
		expect(now()).toEqual([0, 1]);
		expect(now('room-2')).toEqual([9]);
		vi.advanceTimersByTime(4000);
		expect(now()).toEqual([2, 3]);
		expect([...talking].filter(([, on]) => on).map(([p]) => p).sort()).toEqual(['p2', 'p3', 'p9']);
		vi.advanceTimersByTime(4000);
		expect(now()).toEqual([0, 1]);
		// A speaker leaves mid-turn: someone waiting takes the place.
		turns.remove(slot(0));
		expect(now()).toContain(1);
		expect(now()).toHaveLength(2);
		expect(now().some((i) => i === 2 || i === 3)).toBe(true);
		turns.close();
		vi.advanceTimersByTime(60_000);
		expect(now()).toEqual([]);
	});

	it('refuses a turn range whose shortest exceeds its longest', () => {
		expect(() => Speaking.parse({ turnSeconds: [10, 2] })).toThrow(/must not exceed/);
		expect(Speaking.parse({})).toEqual({ concurrent: 1, turnSeconds: [4, 10] });
	});
});

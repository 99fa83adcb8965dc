import type { Executor } from '../../protocol/scenario.ts';
import { arrivalsBy, targetAt } from './executors.ts';
import type { Slot } from './slots.ts';

/**
 * Which of this shard's participant places the schedule wants in calls at a moment. VU
 * executors want the first `target` places (of all shards) in join order; an arrival-rate
 * executor wants everyone who has arrived and not yet used up `holdTime`.
 */
export class Membership {
	readonly #arrivedAt = new Map<number, number>();

	constructor(
		private readonly schedule: Executor,
		/** This shard's places, in join order. */
		private readonly slots: readonly Slot[],
		/** Places of the whole run (every shard). */
		private readonly total: number,
	) {}

	/** Indexes of the wanted places at t ms into the schedule. */
	wanted(t: number): Set<number> {
		const wanted = new Set<number>();
		const schedule = this.schedule;
		if (schedule.executor === 'ramping-arrival-rate') {
			const arrived = Math.min(arrivalsBy(schedule, t), this.total);
			for (const slot of this.slots) {
				if (slot.index >= arrived) break;
				if (!this.#arrivedAt.has(slot.index)) this.#arrivedAt.set(slot.index, t);
				const since = this.#arrivedAt.get(slot.index)!;
				if (schedule.holdTime === undefined || t - since < schedule.holdTime) wanted.add(slot.index);
			}
			return wanted;
		}
		const target = Math.min(targetAt(schedule, t), this.total);
		for (const slot of this.slots) {
			if (slot.index >= target) break;
			wanted.add(slot.index);
		}
		return wanted;
	}
}

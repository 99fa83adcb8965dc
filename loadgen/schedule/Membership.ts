import type { Executor } from '../../protocol/scenario.ts';
import { arrivalsBy, targetAt } from './executors.ts';
import type { Slot } from './slots.ts';

/**
 * The places the schedule wants in calls, as positions [from, to) in the shard's places. It is
 * always one run of them: places join in order, and under an arrival-rate executor they leave
 * in the order they came (each stays `holdTime`).
 */
export interface WantedPlaces {
	from: number;
	to: number;
}

/**
 * Which of this shard's participant places the schedule wants in calls at a moment. VU
 * executors want the first `target` places (of all shards) in join order; an arrival-rate
 * executor wants everyone who has arrived and not yet used up `holdTime`. Asked about moments
 * in order, each answer costs only the places that came or went since the last (a schedule of
 * 100 000 places is walked a few thousand times by the preflight alone).
 */
export class Membership {
	/** When each place that has arrived did, by position, ms into the schedule (arrival-rate executors). */
	readonly #arrivedAt: number[] = [];
	/** Places before this position have used up their holdTime. */
	#gone = 0;
	#last = -Infinity;

	constructor(
		private readonly schedule: Executor,
		/** This shard's places, in join order. */
		private readonly slots: readonly Slot[],
		/** Places of the whole run (every shard). */
		private readonly total: number,
	) {}

	/** The wanted places at t ms into the schedule; t never goes back. */
	wanted(t: number): WantedPlaces {
		if (t < this.#last) throw new RangeError(`membership asked about ${t} ms after ${this.#last} ms: time only goes forward`);
		this.#last = t;
		const schedule = this.schedule;
		if (schedule.executor === 'ramping-arrival-rate') {
			const arrivedAt = this.#arrivedAt;
			const arrived = Math.min(arrivalsBy(schedule, t), this.total);
			while (arrivedAt.length < this.slots.length && this.slots[arrivedAt.length]!.index < arrived) arrivedAt.push(t);
			if (schedule.holdTime !== undefined) while (this.#gone < arrivedAt.length && t - arrivedAt[this.#gone]! >= schedule.holdTime) this.#gone++;
			return { from: this.#gone, to: arrivedAt.length };
		}
		return { from: 0, to: this.#placesBelow(Math.min(targetAt(schedule, t), this.total)) };
	}

	/** How many of this shard's places come before place `index` of the run (they are in order). */
	#placesBelow(index: number): number {
		let low = 0;
		let high = this.slots.length;
		while (low < high) {
			const middle = (low + high) >>> 1;
			if (this.slots[middle]!.index < index) low = middle + 1;
			else high = middle;
		}
		return low;
	}
}

/** The places of `wanted` that were not in `before` (they join now): at most two runs of positions. */
export function newlyWanted(before: WantedPlaces, wanted: WantedPlaces): WantedPlaces[] {
	return [
		{ from: wanted.from, to: Math.min(wanted.to, before.from) },
		{ from: Math.max(wanted.from, before.to), to: wanted.to },
	].filter((run) => run.to > run.from);
}

import type { Executor } from '../../protocol/scenario.ts';

/** How long the schedule runs, ms. */
export function scheduleDuration(executor: Executor): number {
	switch (executor.executor) {
		case 'constant-vus':
			return executor.duration;
		case 'ramping-vus':
		case 'ramping-arrival-rate':
			return executor.stages.reduce((sum, s) => sum + s.duration, 0);
		case 'growth':
			return executor.duration + executor.plateau;
	}
}

/** Piecewise-linear value of stages at t (ms), starting from `start`. */
function stagesAt(start: number, stages: ReadonlyArray<{ duration: number; target: number }>, t: number): number {
	let from = start;
	let elapsed = 0;
	for (const stage of stages) {
		if (t < elapsed + stage.duration) {
			return stage.duration === 0 ? stage.target : from + ((stage.target - from) * (t - elapsed)) / stage.duration;
		}
		elapsed += stage.duration;
		from = stage.target;
	}
	return from;
}

/** The growth curves: participants wanted at t (ms), before rounding. */
export function growthAt(executor: Extract<Executor, { executor: 'growth' }>, t: number): number {
	const { start, ceiling, duration } = executor;
	if (t >= duration) return ceiling;
	const x = Math.max(0, t);
	switch (executor.curve) {
		case 'linear':
			return start + ((ceiling - start) * x) / duration;
		case 'exponential': {
			const doubling = executor.doublingTime ?? duration / Math.log2(Math.max(ceiling / start, 1.0001));
			return Math.min(ceiling, start * 2 ** (x / doubling));
		}
		case 'logistic': {
			// Passes through `start` at 0 and 99 % of the ceiling at the end of the curve.
			const a = Math.max(ceiling / start - 1, 1e-9);
			const k = Math.log(a / (1 / 0.99 - 1)) / duration;
			return ceiling / (1 + a * Math.exp(-k * x));
		}
	}
}

/** Participants that should be in calls at t (ms) for VU executors. */
export function targetAt(executor: Exclude<Executor, { executor: 'ramping-arrival-rate' }>, t: number): number {
	if (t < 0) return 0;
	switch (executor.executor) {
		case 'constant-vus':
			return t < executor.duration ? executor.vus : 0;
		case 'ramping-vus':
			return Math.round(stagesAt(executor.startVUs, executor.stages, t));
		case 'growth':
			return Math.round(growthAt(executor, t));
	}
}

/**
 * Participants that have arrived by t (ms) under ramping-arrival-rate: the integral of the
 * join rate (trapezoids per stage).
 */
export function arrivalsBy(executor: Extract<Executor, { executor: 'ramping-arrival-rate' }>, t: number): number {
	let total = 0;
	let from = executor.startRate;
	let elapsed = 0;
	for (const stage of executor.stages) {
		const span = Math.min(stage.duration, Math.max(0, t - elapsed));
		if (span > 0) {
			const rateAtEnd = stage.duration === 0 ? stage.target : from + ((stage.target - from) * span) / stage.duration;
			total += (((from + rateAtEnd) / 2) * span) / executor.timeUnit;
		}
		elapsed += stage.duration;
		from = stage.target;
		if (t <= elapsed) break;
	}
	return Math.floor(total + 1e-9);
}

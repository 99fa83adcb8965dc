import type { Executor, Scenario } from '../../protocol/scenario.ts';

/**
 * The scenario with every duration multiplied by `factor` (0.25: four times faster): schedule
 * stages and lengths, arrival time units, hold times, network changes and abort delays. The
 * statistics interval stays, so a shortened run is measured as finely. For trying a scenario
 * out, and for the test that runs every shipped scenario.
 */
export function scaleTime(scenario: Scenario, factor: number): Scenario {
	if (factor === 1) return scenario;
	const t = (ms: number) => Math.max(1, Math.round(ms * factor));
	const stages = <S extends { duration: number }>(list: S[]) => list.map((s) => ({ ...s, duration: t(s.duration) }));
	const schedule = ((e: Executor): Executor => {
		switch (e.executor) {
			case 'constant-vus':
				return { ...e, duration: t(e.duration) };
			case 'ramping-vus':
				return { ...e, stages: stages(e.stages) };
			case 'ramping-arrival-rate':
				return { ...e, stages: stages(e.stages), timeUnit: t(e.timeUnit), ...(e.holdTime === undefined ? {} : { holdTime: t(e.holdTime) }) };
			case 'growth':
				return { ...e, duration: t(e.duration), plateau: e.plateau && t(e.plateau), ...(e.doublingTime === undefined ? {} : { doublingTime: t(e.doublingTime) }) };
		}
	})(scenario.schedule);
	const thresholds = Object.fromEntries(
		Object.entries(scenario.thresholds).map(([metric, list]) => [metric, list?.map((th) => ({ ...th, delayAbortEval: t(th.delayAbortEval) }))]),
	) as Scenario['thresholds'];
	return {
		...scenario,
		schedule,
		networkChanges: scenario.networkChanges.map((c) => ({ ...c, at: t(c.at) })),
		thresholds,
	};
}

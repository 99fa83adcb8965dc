/**
 * Run B against run A, as `callswarm compare` and the dashboard's compare view both show it: the
 * deltas, and what keeps them from being a verdict. A regression gate that compares a run whose
 * load generator saturated gates on the test machine, not on the call, so such a comparison says
 * so and gives no verdict either way.
 */
import type { GeneratorHealth, RunInfo, RunSummary } from './api.ts';
import { comparedMetricNames, doubtedMetric, figureCountsText, figureKindNames, figureTotals, inDoubt, metricCatalogue, metricChange, type Change, type MetricName } from './metrics.ts';

/** What a compared run brings: its registry entry, its summary and its load generator's health. */
export interface ComparedRun {
	run: Pick<RunInfo, 'runId' | 'status' | 'statusReason'>;
	summary: Pick<RunSummary, 'metrics'>;
	generator: Pick<GeneratorHealth, 'processes'>;
}

/** Why one run's figures cannot carry the comparison: all of them (`run`), or one metric's. */
export interface ComparisonDoubt {
	side: 'A' | 'B';
	metric: MetricName | null;
	text: string;
}

export interface ComparedRow {
	metric: MetricName;
	stat: 'p50' | 'p95' | 'rate';
	a: number | null;
	b: number | null;
	diff: number | null;
	relative: number | null;
	change: Change;
	/** A doubt covers this row: its change is shown but is no verdict. */
	doubted: boolean;
}

/**
 * regression: B is worse than A on a figure both runs can vouch for; inconclusive: a figure that
 * moved, or every figure, is in doubt, so the comparison proves nothing either way.
 */
export type ComparisonVerdict = 'no regression' | 'regression' | 'inconclusive';

export interface Comparison {
	rows: ComparedRow[];
	doubts: ComparisonDoubt[];
	regressions: number;
	/** Rows that moved the wrong way but are in doubt. */
	doubtedRegressions: number;
	verdict: ComparisonVerdict;
}

/** The reasons a run's figures are in doubt, worst first. */
export function comparisonDoubts(side: 'A' | 'B', { run, generator }: ComparedRun): ComparisonDoubt[] {
	const why = run.statusReason ? `: ${run.statusReason}` : '';
	const doubts: ComparisonDoubt[] = [];
	if (run.status === 'invalid') doubts.push({ side, metric: null, text: `${side} is invalid${why}; its figures describe the load generator, not the call` });
	else if (run.status === 'aborted') doubts.push({ side, metric: null, text: `${side} was aborted${why}; its figures cover only part of the planned load` });
	else if (run.status === 'running') doubts.push({ side, metric: null, text: `${side} is still running; its figures will change` });
	for (const kind of figureKindNames) {
		const { judged, withheld } = figureTotals(generator.processes, kind);
		if (inDoubt(kind, withheld, judged)) doubts.push({ side, metric: doubtedMetric(kind), text: figureCountsText(kind, withheld, judged, `${side}'s `) });
	}
	return doubts;
}

export function compareRuns(a: ComparedRun, b: ComparedRun): Comparison {
	const doubts = [...comparisonDoubts('A', a), ...comparisonDoubts('B', b)];
	const wholeRunInDoubt = doubts.some((d) => d.metric === null);
	const rows: ComparedRow[] = [];
	for (const metric of comparedMetricNames) {
		const def = metricCatalogue[metric];
		const ma = a.summary.metrics[metric];
		const mb = b.summary.metrics[metric];
		if ((!ma || ma.count === 0) && (!mb || mb.count === 0)) continue;
		const doubted = wholeRunInDoubt || doubts.some((d) => d.metric === metric);
		for (const stat of def.source === 'rate' ? (['rate'] as const) : (['p50', 'p95'] as const)) {
			const va = ma?.[stat] ?? null;
			const vb = mb?.[stat] ?? null;
			if (va === null && vb === null) continue;
			rows.push({ metric, stat, a: va, b: vb, ...metricChange(metric, va, vb), doubted });
		}
	}
	const regressions = rows.filter((r) => r.change === 'worse' && !r.doubted).length;
	const doubtedRegressions = rows.filter((r) => r.change === 'worse' && r.doubted).length;
	const verdict: ComparisonVerdict = wholeRunInDoubt ? 'inconclusive' : regressions > 0 ? 'regression' : doubtedRegressions > 0 ? 'inconclusive' : 'no regression';
	return { rows, doubts, regressions, doubtedRegressions, verdict };
}

/** One line for the verdict, alike in the terminal and the dashboard. */
export function comparisonVerdictText({ verdict, regressions, doubtedRegressions }: Comparison): string {
	if (verdict === 'regression') return `${regressions} regression(s)${doubtedRegressions ? `, and ${doubtedRegressions} more in doubt` : ''}`;
	if (verdict === 'no regression') return 'no regression';
	return doubtedRegressions
		? `no verdict: ${doubtedRegressions} figure(s) moved the wrong way, but the figures are in doubt (above); fix what is in doubt and compare again`
		: 'no verdict: the figures are in doubt (above), so an unchanged figure proves nothing either; fix what is in doubt and compare again';
}

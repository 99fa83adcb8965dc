import type { ThresholdResult } from '../../protocol/api.ts';
import { metricCatalogue, type MetricName } from '../../protocol/metrics.ts';
import { holds, parseThreshold, type ThresholdExpression, type ThresholdExpressions } from '../../protocol/thresholds.ts';
import type { RunSummaries } from './RunSummaries.ts';
import { finiteOrNull, metricFilter, runScope, scaled, type Scope, type Sql } from './sql.ts';

/** The SQL aggregate a threshold compares, over the rows `cond` selects. */
function aggregate(column: string, cond: string, t: ThresholdExpression): string {
	switch (t.aggregation) {
		case 'avg':
			return `avgIf(${column}, ${cond})`;
		case 'min':
			return `minIf(${column}, ${cond})`;
		case 'max':
			return `maxIf(${column}, ${cond})`;
		case 'count':
			return `countIf(${column} IS NOT NULL AND ${cond})`;
		case 'med':
			return `quantileExactInclusiveIf(0.5)(${column}, ${cond})`;
		case 'p':
			return `quantileExactInclusiveIf(${(t.percentile ?? 50) / 100})(${column}, ${cond})`;
		case 'rate':
			// Validation keeps "rate" to rate metrics, which are not computed here.
			throw new Error(`"rate" does not apply to ${column}`);
	}
}

/**
 * Thresholds checked exactly against every stored sample and event of a run (not the
 * dashboard's sketches). The verdict itself is protocol/thresholds.ts's `holds`.
 */
export class ThresholdQueries {
	constructor(
		private readonly sql: Sql,
		private readonly summaries: RunSummaries,
	) {}

	evaluate(runId: string, thresholds: ThresholdExpressions): Promise<ThresholdResult[]> {
		return this.evaluateIn(runScope(runId), thresholds);
	}

	/** The same over any scope: an app's alert rules evaluate their sliding window with it. */
	async evaluateIn(scope: Scope, thresholds: ThresholdExpressions): Promise<ThresholdResult[]> {
		const checks = Object.entries(thresholds).flatMap(([metric, list]) =>
			(list ?? []).map((expression) => ({ metric: metric as MetricName, expression, parsed: parseThreshold(expression)! })),
		);
		const sampleSelects: string[] = [];
		const eventSelects: string[] = [];
		checks.forEach(({ metric, parsed }, i) => {
			const def = metricCatalogue[metric];
			if (def.source === 'samples') {
				const cond = `${metricFilter(def)} AND ${def.column} IS NOT NULL`;
				sampleSelects.push(`${aggregate(def.column, cond, parsed)} AS v${i}, countIf(${cond}) AS n${i}`);
			} else if (def.source === 'events') {
				const cond = `type = '${def.eventType}' AND duration_ms IS NOT NULL`;
				eventSelects.push(`${aggregate('duration_ms', cond, parsed)} AS v${i}, countIf(${cond}) AS n${i}`);
			}
		});
		const [sampleRow] = sampleSelects.length
			? await this.sql.rows<Record<string, unknown>>(`SELECT ${sampleSelects.join(', ')} FROM ${this.sql.db}.samples WHERE ${scope.where}`, scope.params)
			: [];
		const [eventRow] = eventSelects.length
			? await this.sql.rows<Record<string, unknown>>(`SELECT ${eventSelects.join(', ')} FROM ${this.sql.db}.events WHERE ${scope.where}`, scope.params)
			: [];
		const people = checks.some((c) => metricCatalogue[c.metric].source === 'rate') ? await this.summaries.participationIn(scope) : undefined;

		return checks.map(({ metric, expression, parsed }, i) => {
			const def = metricCatalogue[metric];
			let value: number | null;
			let samples: number;
			if (def.source === 'rate') {
				const [part, whole] = metric === 'join_failed' ? [people!.neverJoined, people!.attempted] : [people!.dropped, people!.joined];
				samples = whole;
				value = whole ? part / whole : null;
			} else {
				const row = def.source === 'samples' ? sampleRow : eventRow;
				samples = Number(row?.[`n${i}`] ?? 0);
				const scale = parsed.aggregation === 'count' || !('scale' in def) ? 1 : def.scale;
				value = samples || parsed.aggregation === 'count' ? (def.source === 'samples' ? scaled(row?.[`v${i}`], scale) : finiteOrNull(row?.[`v${i}`])) : null;
			}
			return { metric, expression, ok: holds(parsed, value), value, samples };
		});
	}
}

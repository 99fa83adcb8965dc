/**
 * Thresholds, k6's way: `metric: ['p(95)<150', { threshold: 'avg<1', abortOnFail: true }]`.
 * The one home of the expression grammar, its validation (scenario files and the evaluate API
 * share one rule), and the verdict on an aggregate. The collector only computes the aggregates.
 */
import { z } from 'zod';
import { MetricName, metricCatalogue } from './metrics.ts';
import { Duration } from './durations.ts';

const grammar = /^(avg|min|max|med|count|rate|p\((\d{1,2}(?:\.\d+)?)\))\s*(<=|>=|==|!=|<|>)\s*(-?\d+(?:\.\d+)?)$/;

export type Aggregation = 'avg' | 'min' | 'max' | 'med' | 'count' | 'rate' | 'p';
export type Operator = '<' | '<=' | '>' | '>=' | '==' | '!=';

export interface ThresholdExpression {
	source: string;
	aggregation: Aggregation;
	/** For p(N): N. */
	percentile?: number;
	operator: Operator;
	value: number;
}

export function parseThreshold(source: string): ThresholdExpression | undefined {
	const match = grammar.exec(source.trim());
	if (!match) return undefined;
	const [, agg, percentile, operator, value] = match;
	return {
		source: source.trim(),
		aggregation: (agg!.startsWith('p(') ? 'p' : agg) as Aggregation,
		percentile: percentile === undefined ? undefined : Number(percentile),
		operator: operator as Operator,
		value: Number(value),
	};
}

export const ThresholdText = z.string().refine((t) => parseThreshold(t) !== undefined, {
	message: 'must look like "p(95)<150", "avg<1", "max<=300", "rate<0.01" or "count>0"',
});

/** "rate" only for rate metrics, and rate metrics only with "rate". */
function rateRule(metric: string, expression: string): string | undefined {
	const source = metricCatalogue[metric as MetricName]?.source;
	const aggregation = parseThreshold(expression)?.aggregation;
	if (!source || !aggregation || (source === 'rate') === (aggregation === 'rate')) return undefined;
	return source === 'rate' ? `${metric} is a rate: use "rate<..."` : `"rate" applies to rate metrics (join_failed, dropped), not ${metric}`;
}

/** Expressions per metric, as the evaluate API takes them. */
export const ThresholdExpressions = z
	.partialRecord(MetricName, z.array(ThresholdText).min(1).max(20))
	.superRefine((thresholds, ctx) => {
		for (const [metric, list] of Object.entries(thresholds)) {
			list?.forEach((expression, i) => {
				const problem = rateRule(metric, expression);
				if (problem) ctx.addIssue({ code: 'custom', path: [metric, i], message: problem });
			});
		}
	});
export type ThresholdExpressions = z.output<typeof ThresholdExpressions>;

/** "p(95)<150", or { threshold: "p(95)<150", abortOnFail: true, delayAbortEval: "10s" }. */
export const Threshold = z.preprocess(
	(value) => (typeof value === 'string' ? { threshold: value } : value),
	z.object({
		threshold: ThresholdText,
		/** Stop the run as soon as this threshold fails on data (after delayAbortEval). */
		abortOnFail: z.boolean().default(false),
		delayAbortEval: Duration.default(0),
	}),
);
export type Threshold = z.output<typeof Threshold>;

/** A scenario's thresholds. */
export const Thresholds = z.partialRecord(MetricName, z.array(Threshold).min(1).max(20)).superRefine((thresholds, ctx) => {
	for (const [metric, list] of Object.entries(thresholds)) {
		list?.forEach((t, i) => {
			const problem = t ? rateRule(metric, t.threshold) : undefined;
			if (problem) ctx.addIssue({ code: 'custom', path: [metric, i], message: problem });
		});
	}
});
export type Thresholds = z.output<typeof Thresholds>;

/** The expressions of a scenario's thresholds (optionally only the abortOnFail ones), per metric. */
export function thresholdExpressions(thresholds: Thresholds, which: 'all' | 'abort' = 'all'): ThresholdExpressions {
	const out: ThresholdExpressions = {};
	for (const [metric, list] of Object.entries(thresholds) as Array<[MetricName, Threshold[] | undefined]>) {
		const picked = (list ?? []).filter((t) => which === 'all' || t.abortOnFail).map((t) => t.threshold);
		if (picked.length) out[metric] = picked;
	}
	return out;
}

/** When abortOnFail checks may start: the smallest delayAbortEval of the abort thresholds. */
export function abortDelay(thresholds: Thresholds): number | undefined {
	const delays = Object.values(thresholds).flatMap((list) => (list ?? []).filter((t) => t.abortOnFail).map((t) => t.delayAbortEval));
	return delays.length ? Math.min(...delays) : undefined;
}

export function compare(value: number, operator: Operator, limit: number): boolean {
	switch (operator) {
		case '<':
			return value < limit;
		case '<=':
			return value <= limit;
		case '>':
			return value > limit;
		case '>=':
			return value >= limit;
		case '==':
			return value === limit;
		case '!=':
			return value !== limit;
	}
}

/**
 * Whether a threshold holds for an aggregate. No data (null) fails, except a count, which is 0:
 * a gate must not pass on silence.
 */
export function holds(expression: ThresholdExpression, value: number | null): boolean {
	const v = value ?? (expression.aggregation === 'count' ? 0 : null);
	return v !== null && compare(v, expression.operator, expression.value);
}

/**
 * Whether an abortOnFail threshold should stop the run now: it fails *on data*. Like k6, a
 * metric that has no samples yet (a room still filling, no audio received yet) does not abort;
 * the end-of-run verdict still fails it.
 */
export function abortsRun(result: { ok: boolean; samples: number }): boolean {
	return !result.ok && result.samples > 0;
}

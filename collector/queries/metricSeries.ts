import type { SeriesPoint } from '../../protocol/api.ts';
import { metricCatalogue, type SampleMetricName } from '../../protocol/metrics.ts';
import type { QueryParams } from '../store/ClickHouseStore.ts';
import { sketch } from '../store/schema.ts';
import { metricFilter, scaled, type Sql } from './sql.ts';

export interface MetricSeriesQuery {
	/** "samples", or a rollup table (a run's or an app's) holding the metrics' states. */
	table: string;
	/** Conditions on the table (parameters in `params`). */
	filters: string[];
	params: QueryParams;
	bucket: number;
	metrics: readonly SampleMetricName[];
	/** Also merge every bucket into one row (`whole`): the metrics over the whole range, in the same pass. */
	whole?: boolean;
}

export interface MetricSeries {
	series: Record<string, SeriesPoint[]>;
	/** With `whole`: columns c<i>, a<i>, q<i> per metric (in `metrics` order) over every bucket. */
	whole?: Record<string, unknown>;
}

/**
 * p50/p95/p99/avg of sample metrics per time bucket, from raw samples or from rollup states:
 * one query, and only the stream directions the metrics come from (the sort key skips the rest).
 */
export async function metricSeries(sql: Sql, q: MetricSeriesQuery): Promise<MetricSeries> {
	const raw = q.table === 'samples';
	const selects = q.metrics.map((name, i) => {
		const m = metricCatalogue[name];
		const cond = metricFilter(m);
		return raw
			? `countIf(${m.column} IS NOT NULL AND ${cond}) AS c${i}, avgIf(${m.column}, ${cond}) AS a${i}, ${sketch('If')}(${m.column}, ${cond}) AS q${i}`
			: `countMergeIf(samples, ${cond}) AS c${i}, avgMergeIf(${m.column}_avg, ${cond}) AS a${i}, ${sketch('MergeIf')}(${m.column}_q, ${cond}) AS q${i}`;
	});
	const directions = [...new Set(q.metrics.map((name) => metricCatalogue[name].direction))];
	const rows = await sql.rows<Record<string, unknown>>(
		`SELECT toUnixTimestamp(toStartOfInterval(${raw ? 'ts' : 'bucket'}, INTERVAL {bucket:UInt32} SECOND)) * 1000 AS t,
			${q.whole ? 'grouping(t) AS whole,' : ''}
			${selects.join(',\n')}
		FROM ${sql.db}.${q.table}
		WHERE ${[...q.filters, `direction IN (${directions.map((d) => `'${d}'`).join(', ')})`].join(' AND ')}
		GROUP BY ${q.whole ? 'GROUPING SETS ((t), ())' : 't'} ORDER BY t`,
		{ ...q.params, bucket: q.bucket },
	);
	// grouping(t) is 1 on the row where t is rolled up (every bucket) and 0 on the per-bucket rows.
	const whole = q.whole ? rows.find((r) => Number(r.whole) === 1) : undefined;
	const buckets = q.whole ? rows.filter((r) => Number(r.whole) === 0) : rows;
	const series: Record<string, SeriesPoint[]> = {};
	q.metrics.forEach((name, i) => {
		const m = metricCatalogue[name];
		const scale = 'scale' in m ? m.scale : undefined;
		series[name] = buckets
			.filter((r) => Number(r[`c${i}`]) > 0)
			.map((r) => {
				const quantiles = (r[`q${i}`] as number[]) ?? [];
				return {
					t: Number(r.t),
					n: Number(r[`c${i}`]),
					avg: scaled(r[`a${i}`], scale),
					p50: scaled(quantiles[0], scale),
					p95: scaled(quantiles[1], scale),
					p99: scaled(quantiles[2], scale),
				};
			});
	});
	return { series, whole };
}

import type { FirstMediaDistribution, MetricSummary, ParticipantsSeries, RunSummary } from '../../protocol/api.ts';
import { eventMetricNames, metricCatalogue, sampleMetricNames, type MetricName } from '../../protocol/metrics.ts';
import { rollupLevels, rollupQuantiles, sketch } from '../store/schema.ts';
import { finiteOrNull, metricFilter, runScope, scaled, type Scope, type Sql } from './sql.ts';

const niceBuckets = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600];

export interface Participation {
	attempted: number;
	joined: number;
	/** Tried and never joined. */
	neverJoined: number;
	/** Failed after joining. */
	dropped: number;
}

/** The run as a whole: every metric's count, mean and percentiles, who took part, time to first media. */
export class RunSummaries {
	constructor(private readonly sql: Sql) {}

	/**
	 * From the coarsest rollup (fewest states) or, with `exact`, from every raw sample. The peak
	 * of participants in calls comes from the participants series the caller has at hand.
	 */
	async summary(runId: string, exact: boolean, participants: ParticipantsSeries): Promise<RunSummary> {
		const db = this.sql.db;
		const metrics: Partial<Record<MetricName, MetricSummary>> = {};
		const qs = rollupQuantiles.join(', ');
		const selects = sampleMetricNames.map((name, i) => {
			const m = metricCatalogue[name];
			const cond = metricFilter(m);
			return exact
				? `countIf(${m.column} IS NOT NULL AND ${cond}) AS c${i}, avgIf(${m.column}, ${cond}) AS a${i},
					minIf(${m.column}, ${cond}) AS mn${i}, maxIf(${m.column}, ${cond}) AS mx${i},
					quantilesExactInclusiveIf(${qs})(${m.column}, ${cond}) AS q${i}`
				: `countMergeIf(samples, ${cond}) AS c${i}, avgMergeIf(${m.column}_avg, ${cond}) AS a${i},
					NULL AS mn${i}, NULL AS mx${i},
					${sketch('MergeIf')}(${m.column}_q, ${cond}) AS q${i}`;
		});
		const [row] = await this.sql.rows<Record<string, unknown>>(
			`SELECT ${selects.join(',\n')} FROM ${db}.${exact ? 'samples' : `rollup_${rollupLevels.at(-1)}s`} WHERE run_id = {run:String}`,
			{ run: runId },
		);
		sampleMetricNames.forEach((name, i) => {
			const m = metricCatalogue[name];
			metrics[name] = metricSummary(row, i, m.unit, 'scale' in m ? m.scale : undefined);
		});

		const eventSelects = eventMetricNames.map((name, i) => {
			const type = metricCatalogue[name].eventType;
			return `countIf(type = '${type}' AND duration_ms IS NOT NULL) AS c${i}, avgIf(duration_ms, type = '${type}') AS a${i},
				minIf(duration_ms, type = '${type}') AS mn${i}, maxIf(duration_ms, type = '${type}') AS mx${i},
				quantilesExactInclusiveIf(${qs})(duration_ms, type = '${type}') AS q${i}`;
		});
		const [ev] = await this.sql.rows<Record<string, unknown>>(
			`SELECT ${eventSelects.join(',\n')} FROM ${db}.events WHERE run_id = {run:String}`,
			{ run: runId },
		);
		eventMetricNames.forEach((name, i) => {
			metrics[name] = metricSummary(ev, i, 'ms');
		});
		const people = await this.participation(runId);
		metrics.join_failed = rateSummary(people.neverJoined, people.attempted);
		metrics.dropped = rateSummary(people.dropped, people.joined);
		return {
			runId,
			exact,
			participants: {
				attempted: people.attempted,
				joined: people.joined,
				failed: people.neverJoined,
				dropped: people.dropped,
				peakActive: participants.points.reduce((max, p) => Math.max(max, p.active), 0),
			},
			joinSuccessRate: people.attempted ? people.joined / people.attempted : null,
			metrics: metrics as Record<MetricName, MetricSummary>,
		};
	}

	/** Participants that tried, joined, never joined, and failed after joining. */
	async participation(runId: string): Promise<Participation> {
		return this.participationIn(runScope(runId));
	}

	/** Who tried to join, joined, never joined, and dropped after joining, among the events a scope selects. */
	async participationIn(scope: Scope): Promise<Participation> {
		const [row] = await this.sql.rows<{ attempted: number; joined: number; never_joined: number; dropped: number }>(
			`SELECT count() AS attempted, countIf(first_join IS NOT NULL) AS joined,
				countIf(first_join IS NULL AND first_fail IS NOT NULL) AS never_joined,
				countIf(first_join IS NOT NULL AND last_fail > first_join) AS dropped
			FROM (
				SELECT run_id, peer_id, minIf(ts, type = 'join') AS first_join, minIf(ts, type = 'fail') AS first_fail,
					maxIf(ts, type = 'fail') AS last_fail
				FROM ${this.sql.db}.events WHERE ${scope.where} AND type IN ('join', 'fail')
				GROUP BY run_id, peer_id
			) SETTINGS aggregate_functions_null_for_empty = 1`,
			scope.params,
		);
		return {
			attempted: Number(row?.attempted ?? 0),
			joined: Number(row?.joined ?? 0),
			neverJoined: Number(row?.never_joined ?? 0),
			dropped: Number(row?.dropped ?? 0),
		};
	}

	/** Time to first media: one value per participant join, few enough to bin here. */
	async firstMedia(runId: string): Promise<FirstMediaDistribution> {
		const [row] = await this.sql.rows<{ values: number[]; q: number[] }>(
			`SELECT groupArray(duration_ms) AS values, quantilesExactInclusive(0.5, 0.95)(duration_ms) AS q
			FROM ${this.sql.db}.events WHERE run_id = {run:String} AND type = 'first-media' AND duration_ms IS NOT NULL`,
			{ run: runId },
		);
		const values = (row?.values ?? []).map(Number);
		if (values.length === 0) return { count: 0, p50: null, p95: null, histogram: [] };
		const highest = Math.max(...values);
		const width = niceBuckets.map((b) => b * 100).find((w) => w * 20 >= highest) ?? Math.ceil(highest / 20);
		const bins = new Map<number, number>();
		for (const v of values) {
			const from = Math.floor(v / width) * width;
			bins.set(from, (bins.get(from) ?? 0) + 1);
		}
		return {
			count: values.length,
			p50: finiteOrNull(row!.q[0]),
			p95: finiteOrNull(row!.q[1]),
			histogram: [...bins.entries()].sort(([a], [b]) => a - b).map(([fromMs, count]) => ({ fromMs, toMs: fromMs + width, count })),
		};
	}
}

/** count/avg/min/max/percentiles of one metric from columns c<i>, a<i>, mn<i>, mx<i>, q<i>. */
function metricSummary(row: Record<string, unknown> | undefined, i: number, unit: string, scale?: number): MetricSummary {
	const count = Number(row?.[`c${i}`] ?? 0);
	const q = (row?.[`q${i}`] as number[] | undefined) ?? [];
	const value = (v: unknown) => (count ? scaled(v, scale) : null);
	return {
		unit,
		count,
		avg: value(row?.[`a${i}`]),
		min: value(row?.[`mn${i}`]),
		max: value(row?.[`mx${i}`]),
		p50: value(q[0]),
		p95: value(q[1]),
		p99: value(q[2]),
		rate: null,
	};
}

function rateSummary(part: number, whole: number): MetricSummary {
	return { unit: 'ratio', count: whole, avg: null, min: null, max: null, p50: null, p95: null, p99: null, rate: whole ? part / whole : null };
}

import type { FirstMediaDistribution, MetricSummary, ParticipantsSeries, RunSummary } from '../../protocol/api.ts';
import { eventMetricNames, metricCatalogue, sampleMetricNames, type MetricName, type SampleMetricName } from '../../protocol/metrics.ts';
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
		const [samples, events] = await Promise.all([this.sampleMetrics(runId, exact), this.eventFacts(runScope(runId))]);
		return runSummary(runId, exact, samples, events, participants);
	}

	/** Every sample metric over the whole run, from the coarsest rollup or, with `exact`, from raw samples. */
	async sampleMetrics(runId: string, exact: boolean): Promise<SampleMetricSummaries> {
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
			`SELECT ${selects.join(',\n')} FROM ${this.sql.db}.${exact ? 'samples' : `rollup_${rollupLevels.at(-1)}s`} WHERE run_id = {run:String}`,
			{ run: runId },
		);
		return sampleMetricSummaries(row, (name) => sampleMetricNames.indexOf(name));
	}

	/**
	 * Everything the summary takes from events, in one pass grouped by participant: the duration
	 * metrics (join, first media, reconnect), who tried, joined, never joined and dropped, every
	 * time to first media, and the span of the events.
	 */
	async eventFacts(scope: Scope): Promise<EventFacts> {
		const row = await this.#events(scope, true);
		const metrics = {} as EventFacts['metrics'];
		eventMetricNames.forEach((name, i) => {
			metrics[name] = metricSummary(row, i, 'ms');
		});
		return {
			metrics,
			participation: participationOf(row),
			firstMediaMs: ((row?.first_media as number[] | undefined) ?? []).map(Number),
			firstMs: finiteOrNull(row?.first_ms),
			lastMs: finiteOrNull(row?.last_ms),
		};
	}

	/** Who tried to join, joined, never joined, and dropped after joining, among the events a scope selects. */
	async participationIn(scope: Scope): Promise<Participation> {
		// Without the durations: an app's window can hold far more events than a run.
		return participationOf(await this.#events(scope, false));
	}

	/** The events of a scope per participant, then over all: participation always, durations when asked. */
	async #events(scope: Scope, durations: boolean): Promise<Record<string, unknown> | undefined> {
		const qs = rollupQuantiles.join(', ');
		const types = eventMetricNames.map((name) => metricCatalogue[name].eventType);
		const perPeer = types.map((type, i) => `groupArrayIf(duration_ms, type = '${type}' AND duration_ms IS NOT NULL) AS d${i}`);
		const overall = types.map(
			(_, i) => `sum(length(d${i})) AS c${i}, avgArray(d${i}) AS a${i}, minArray(d${i}) AS mn${i}, maxArray(d${i}) AS mx${i},
				quantilesExactInclusiveArray(${qs})(d${i}) AS q${i}`,
		);
		const firstMedia = types.indexOf(metricCatalogue.first_media_ms.eventType);
		const [row] = await this.sql.rows<Record<string, unknown>>(
			`SELECT countIf(first_join IS NOT NULL OR first_fail IS NOT NULL) AS attempted, countIf(first_join IS NOT NULL) AS joined,
				countIf(first_join IS NULL AND first_fail IS NOT NULL) AS never_joined,
				countIf(first_join IS NOT NULL AND last_fail > first_join) AS dropped
				${durations ? `, ${overall.join(',\n')}, groupArrayArray(d${firstMedia}) AS first_media,
				toUnixTimestamp64Milli(min(first_ts)) AS first_ms, toUnixTimestamp64Milli(max(last_ts)) AS last_ms` : ''}
			FROM (
				SELECT run_id, peer_id, minIf(ts, type = 'join') AS first_join, minIf(ts, type = 'fail') AS first_fail,
					maxIf(ts, type = 'fail') AS last_fail
					${durations ? `, min(ts) AS first_ts, max(ts) AS last_ts, ${perPeer.join(', ')}` : ''}
				FROM ${this.sql.db}.events WHERE ${scope.where} ${durations ? '' : "AND type IN ('join', 'fail')"}
				GROUP BY run_id, peer_id
			) SETTINGS aggregate_functions_null_for_empty = 1`,
			scope.params,
		);
		return row;
	}

	/** Time to first media: one value per participant join, few enough to bin here. */
	async firstMedia(runId: string): Promise<FirstMediaDistribution> {
		return firstMediaDistribution(await this.eventFacts(runScope(runId)));
	}
}

function participationOf(row: Record<string, unknown> | undefined): Participation {
	return {
		attempted: Number(row?.attempted ?? 0),
		joined: Number(row?.joined ?? 0),
		neverJoined: Number(row?.never_joined ?? 0),
		dropped: Number(row?.dropped ?? 0),
	};
}

/** Count, median, p95 and a histogram of about 20 round-width bins of the times to first media. */
export function firstMediaDistribution(events: EventFacts): FirstMediaDistribution {
	const values = events.firstMediaMs;
	if (values.length === 0) return { count: 0, p50: null, p95: null, histogram: [] };
	const highest = values.reduce((max, v) => Math.max(max, v), 0);
	const width = niceBuckets.map((b) => b * 100).find((w) => w * 20 >= highest) ?? Math.ceil(highest / 20);
	const bins = new Map<number, number>();
	for (const v of values) {
		const from = Math.floor(v / width) * width;
		bins.set(from, (bins.get(from) ?? 0) + 1);
	}
	const { p50, p95 } = events.metrics.first_media_ms;
	return {
		count: values.length,
		p50,
		p95,
		histogram: [...bins.entries()].sort(([x], [y]) => x - y).map(([fromMs, count]) => ({ fromMs, toMs: fromMs + width, count })),
	};
}

export type SampleMetricSummaries = Record<SampleMetricName, MetricSummary>;

/** What a run's events say (see RunSummaries.eventFacts). */
export interface EventFacts {
	metrics: Record<(typeof eventMetricNames)[number], MetricSummary>;
	participation: Participation;
	/** Every time to first media, milliseconds. */
	firstMediaMs: number[];
	/** The first and last event's time, epoch ms (null without events). */
	firstMs: number | null;
	lastMs: number | null;
}

/** Sample metric summaries from a row holding columns c<i>, a<i>, mn<i>, mx<i>, q<i> per metric. */
export function sampleMetricSummaries(row: Record<string, unknown> | undefined, indexOf: (name: SampleMetricName) => number): SampleMetricSummaries {
	const metrics = {} as SampleMetricSummaries;
	for (const name of sampleMetricNames) {
		const m = metricCatalogue[name];
		metrics[name] = metricSummary(row, indexOf(name), m.unit, 'scale' in m ? m.scale : undefined);
	}
	return metrics;
}

/** A run's summary from its sample metrics, its event facts and the participants series (for the peak). */
export function runSummary(runId: string, exact: boolean, samples: SampleMetricSummaries, events: EventFacts, participants: ParticipantsSeries): RunSummary {
	const people = events.participation;
	const metrics: Record<MetricName, MetricSummary> = {
		...samples,
		...events.metrics,
		join_failed: rateSummary(people.neverJoined, people.attempted),
		dropped: rateSummary(people.dropped, people.joined),
	};
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
		metrics,
	};
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

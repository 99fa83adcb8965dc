/**
 * The SQL behind the query API. Values are always bound parameters; the only identifiers put
 * into SQL text are column names from the metric catalogue (a fixed list, never user input).
 */
import type {
	EventList,
	FirstMediaDistribution,
	MetricSummary,
	ParticipantsSeries,
	PeerList,
	QualityBands,
	RoomList,
	RunInfo,
	RunSummary,
	SeriesPoint,
	SfuLoad,
	RunView,
	ThresholdResult,
	Timeseries,
	TimeseriesQuery,
} from '../../protocol/api.ts';
import {
	metricCatalogue,
	type EventMetric,
	type MetricName,
	type RateMetric,
	type SampleMetric,
	sampleMetricNames,
	type SampleMetricName,
} from '../../protocol/metrics.ts';
import { parseThreshold, type ThresholdExpression } from '../../protocol/scenario.ts';
import { HttpError } from '../http.ts';
import { qualityBandLimits } from '../normalize/mos.ts';
import type { ClickHouseStore, QueryParams } from '../store/ClickHouseStore.ts';
import { rollupLevels, rollupQuantiles, sketch, type RollupLevel } from '../store/schema.ts';

const niceBuckets = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600];

/** Most points a chart gets by default. */
export const maxChartPoints = 160;

export interface Resolution {
	/** Bucket width of the answer, seconds. */
	bucket: number;
	/** The rollup level read, or raw samples when the bucket is finer than every level. */
	level: RollupLevel | 'raw';
}

/**
 * The bucket for a chart over a run of `durationMs`: the finest rollup level that keeps the
 * chart under maxChartPoints, so a view merges a bounded number of states however long the run.
 * A requested bucket reads the coarsest level it is a multiple of.
 */
export function chooseResolution(durationMs: number, requested?: number): Resolution {
	if (requested) {
		const level = [...rollupLevels].reverse().find((l) => requested % l === 0);
		return { bucket: requested, level: level ?? 'raw' };
	}
	const seconds = durationMs / 1000;
	const level = rollupLevels.find((l) => seconds / l <= maxChartPoints) ?? rollupLevels.at(-1)!;
	return { bucket: level, level };
}

/** Per-peer figures come only from rollups: a raw bucket reads the finest level instead. */
function peerResolution(resolution: Resolution): { bucket: number; level: RollupLevel } {
	return resolution.level === 'raw'
		? { bucket: rollupLevels[0], level: rollupLevels[0] }
		: { bucket: resolution.bucket, level: resolution.level };
}

const sampleMetric = (name: SampleMetricName): SampleMetric => metricCatalogue[name];

/** WHERE conditions selecting a sample metric's rows, with bound parameters only. */
function metricFilter(metric: SampleMetric): string {
	return `direction = '${metric.direction}'${metric.kind ? ` AND kind = '${metric.kind}'` : ''}`;
}

const finiteOrNull = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const scaled = (v: unknown, scale = 1): number | null => {
	const n = finiteOrNull(v);
	return n === null ? null : n * scale;
};

interface RunRowResult {
	run_id: string;
	scenario: string;
	status: RunInfo['status'];
	started_at: number;
	ended_at: number | null;
	planned_participants: number;
	config: string;
	verdict: string;
	participants: number;
	first_ms: number | null;
	last_ms: number | null;
}

export class RunQueries {
	constructor(private readonly store: ClickHouseStore) {}

	get #db(): string {
		return `\`${this.store.database}\``;
	}

	#q<R>(sql: string, params: QueryParams): Promise<R[]> {
		return this.store.query<R>(sql, params);
	}

	async listRuns(limit: number, runId?: string): Promise<RunInfo[]> {
		const db = this.#db;
		const rows = await this.#q<RunRowResult>(
			`SELECT r.run_id AS run_id, r.scenario AS scenario, r.status AS status,
				toUnixTimestamp64Milli(r.started_at) AS started_at,
				if(isNull(r.ended_at), NULL, toUnixTimestamp64Milli(assumeNotNull(r.ended_at))) AS ended_at,
				r.planned_participants AS planned_participants, r.config AS config, r.verdict AS verdict,
				toUInt32(ifNull(p.participants, 0)) AS participants,
				p.first_ms AS first_ms, p.last_ms AS last_ms
			FROM (SELECT * FROM ${db}.runs FINAL ${runId ? 'WHERE run_id = {run:String}' : ''}) AS r
			LEFT JOIN (
				SELECT run_id, uniqExactIf(peer_id, type IN ('join', 'fail')) AS participants,
					toUnixTimestamp64Milli(min(ts)) AS first_ms, toUnixTimestamp64Milli(max(ts)) AS last_ms
				FROM ${db}.events ${runId ? 'WHERE run_id = {run:String}' : ''} GROUP BY run_id
			) AS p ON p.run_id = r.run_id
			ORDER BY r.started_at DESC
			LIMIT {limit:UInt32}`,
			{ limit, ...(runId ? { run: runId } : {}) },
		);
		return rows.map((r) => {
			const startedAt = Number(r.started_at) || r.first_ms || 0;
			const endedAt = r.ended_at ?? null;
			const end = endedAt ?? (r.status === 'running' ? Date.now() : (r.last_ms ?? startedAt));
			return {
				runId: r.run_id,
				scenario: r.scenario,
				status: r.status,
				startedAt,
				endedAt,
				durationMs: Math.max(0, end - startedAt),
				plannedParticipants: r.planned_participants,
				participants: r.participants,
				verdict: parseJson(r.verdict, []),
				config: parseJson(r.config, {}),
			};
		});
	}

	async run(runId: string): Promise<RunInfo | undefined> {
		return (await this.listRuns(1, runId))[0];
	}

	/** How long the run has data for (from the 60 s rollup: a handful of rows). */
	async spanMs(runId: string): Promise<number> {
		const [row] = await this.#q<{ from: number; to: number }>(
			`SELECT toUnixTimestamp(min(bucket)) * 1000 AS from, toUnixTimestamp(max(bucket)) * 1000 + 60000 AS to
			FROM ${this.#db}.rollup_60s WHERE run_id = {run:String}`,
			{ run: runId },
		);
		return row && row.from > 0 ? row.to - row.from : 0;
	}

	async resolution(runId: string, requested?: number, run?: RunInfo): Promise<Resolution> {
		if (requested) return chooseResolution(0, requested);
		// A finished run knows its length; a running one is measured.
		const duration = run?.endedAt ? run.durationMs : await this.spanMs(runId);
		return chooseResolution(duration);
	}

	/** Everything the dashboard's run view shows, at one resolution, in one round trip. */
	async view(runId: string, requestedBucket?: number): Promise<RunView | undefined> {
		const run = await this.run(runId);
		if (!run) return undefined;
		const resolution = await this.resolution(runId, requestedBucket, run);
		const people = await this.people(runId, resolution);
		return {
			run,
			summary: await this.summary(runId, false, people.participants),
			timeseries: await this.timeseries(runId, { metrics: defaultSeriesMetrics, bucket: resolution.bucket }, resolution),
			participants: people.participants,
			quality: people.quality,
			sfu: await this.sfuLoad(runId, resolution.bucket),
			firstMedia: await this.firstMedia(runId),
		};
	}

	async summary(runId: string, exact: boolean, participantsSeries?: ParticipantsSeries): Promise<RunSummary> {
		const db = this.#db;
		const metrics: Partial<Record<MetricName, MetricSummary>> = {};
		const qs = rollupQuantiles.join(', ');
		const sampleNames = sampleMetricNames;
		// The whole run from the coarsest rollup (fewest states), or exactly from every raw sample.
		const selects = sampleNames.map((name, i) => {
			const m = sampleMetric(name);
			const cond = metricFilter(m);
			return exact
				? `countIf(${m.column} IS NOT NULL AND ${cond}) AS c${i}, avgIf(${m.column}, ${cond}) AS a${i},
					minIf(${m.column}, ${cond}) AS mn${i}, maxIf(${m.column}, ${cond}) AS mx${i},
					quantilesExactInclusiveIf(${qs})(${m.column}, ${cond}) AS q${i}`
				: `countMergeIf(samples, ${cond}) AS c${i}, avgMergeIf(${m.column}_avg, ${cond}) AS a${i},
					NULL AS mn${i}, NULL AS mx${i},
					${sketch('MergeIf')}(${m.column}_q, ${cond}) AS q${i}`;
		});
		const [row] = await this.#q<Record<string, unknown>>(
			`SELECT ${selects.join(',\n')} FROM ${db}.${exact ? 'samples' : `rollup_${rollupLevels.at(-1)}s`} WHERE run_id = {run:String}`,
			{ run: runId },
		);
		sampleNames.forEach((name, i) => {
			metrics[name] = metricSummary(row, i, sampleMetric(name).unit, sampleMetric(name).scale);
		});

		const eventNames = (Object.keys(metricCatalogue) as MetricName[]).filter((m) => metricCatalogue[m].source === 'events');
		const eventSelects = eventNames.map((name, i) => {
			const type = (metricCatalogue[name] as EventMetric).eventType;
			return `countIf(type = '${type}' AND duration_ms IS NOT NULL) AS c${i}, avgIf(duration_ms, type = '${type}') AS a${i},
				minIf(duration_ms, type = '${type}') AS mn${i}, maxIf(duration_ms, type = '${type}') AS mx${i},
				quantilesExactInclusiveIf(${qs})(duration_ms, type = '${type}') AS q${i}`;
		});
		const [ev] = await this.#q<Record<string, unknown>>(
			`SELECT ${eventSelects.join(',\n')} FROM ${db}.events WHERE run_id = {run:String}`,
			{ run: runId },
		);
		eventNames.forEach((name, i) => {
			metrics[name] = metricSummary(ev, i, 'ms');
		});
		const { attempted, joined, neverJoined, dropped } = await this.#people(runId);
		metrics.join_failed = rateSummary(neverJoined, attempted);
		metrics.dropped = rateSummary(dropped, joined);

		const participants = participantsSeries ?? (await this.people(runId, await this.resolution(runId))).participants;
		return {
			runId,
			exact,
			participants: {
				attempted,
				joined,
				failed: neverJoined,
				dropped,
				peakActive: participants.points.reduce((max, p) => Math.max(max, p.active), 0),
			},
			joinSuccessRate: attempted ? joined / attempted : null,
			metrics: metrics as Record<MetricName, MetricSummary>,
		};
	}

	async timeseries(runId: string, query: TimeseriesQuery, known?: Resolution): Promise<Timeseries> {
		const filtered = Boolean(query.room || query.peer);
		const resolution = known ?? (await this.resolution(runId, query.bucket));
		// Room and peer drill-downs read raw samples (their prefix of the sort key keeps it cheap).
		const level = filtered ? 'raw' : resolution.level;
		const params: QueryParams = { run: runId, bucket: resolution.bucket };
		const filters = ['run_id = {run:String}', ...equalities(params, { room_id: query.room, peer_id: query.peer, kind: query.kind })];
		const selects = query.metrics.map((name, i) => {
			const m = sampleMetric(name);
			const cond = metricFilter(m);
			return level !== 'raw'
				? `countMergeIf(samples, ${cond}) AS n${i}, avgMergeIf(${m.column}_avg, ${cond}) AS a${i},
					${sketch('MergeIf')}(${m.column}_q, ${cond}) AS q${i}`
				: `countIf(${m.column} IS NOT NULL AND ${cond}) AS n${i}, avgIf(${m.column}, ${cond}) AS a${i},
					${sketch('If')}(${m.column}, ${cond}) AS q${i}`;
		});
		// Only the directions the asked metrics come from: the sort key skips the rest.
		const directions = [...new Set(query.metrics.map((name) => sampleMetric(name).direction))];
		filters.push(`direction IN (${directions.map((d) => `'${d}'`).join(', ')})`);
		const rows = await this.#q<Record<string, unknown>>(
			`SELECT toUnixTimestamp(toStartOfInterval(${level === 'raw' ? 'ts' : 'bucket'}, INTERVAL {bucket:UInt32} SECOND)) * 1000 AS t,
				${selects.join(',\n')}
			FROM ${this.#db}.${level === 'raw' ? 'samples' : `rollup_${level}s`}
			WHERE ${filters.join(' AND ')}
			GROUP BY t ORDER BY t`,
			params,
		);
		const series: Record<string, SeriesPoint[]> = {};
		query.metrics.forEach((name, i) => {
			const m = sampleMetric(name);
			series[name] = rows
				.filter((r) => Number(r[`n${i}`]) > 0)
				.map((r) => {
					const q = (r[`q${i}`] as number[]) ?? [];
					return {
						t: Number(r.t),
						n: Number(r[`n${i}`]),
						avg: scaled(r[`a${i}`], m.scale),
						p50: scaled(q[0], m.scale),
						p95: scaled(q[1], m.scale),
						p99: scaled(q[2], m.scale),
					};
				});
		});
		return { bucketSeconds: resolution.bucket, series };
	}

	/**
	 * Participants over time and their quality bands, in one query: joined, failed and left
	 * (cumulative, from events); active (peers reporting samples) and good / degraded / bad
	 * (by their averages in the bucket) from the per-peer rollup.
	 */
	async people(runId: string, resolution: Resolution): Promise<{ participants: ParticipantsSeries; quality: QualityBands }> {
		const db = this.#db;
		const { bucket, level } = peerResolution(resolution);
		const l = qualityBandLimits;
		const band = (col: string, lim: { degraded: number; bad: number; higherIsBetter: boolean }) =>
			lim.higherIsBetter
				? `multiIf(isNaN(${col}), 0, ${col} < ${lim.bad}, 2, ${col} <= ${lim.degraded}, 1, 0)`
				: `multiIf(isNaN(${col}), 0, ${col} > ${lim.bad}, 2, ${col} >= ${lim.degraded}, 1, 0)`;
		const rows = await this.#q<{ t: number; joined: number; failed: number; left: number; active: number; good: number; degraded: number; bad: number }>(
			`SELECT t,
				toUInt32(sum(j) OVER w) AS joined, toUInt32(sum(f) OVER w) AS failed, toUInt32(sum(l) OVER w) AS left,
				toUInt32(a) AS active, toUInt32(g) AS good, toUInt32(d) AS degraded, toUInt32(b) AS bad
			FROM (
				SELECT t, sum(j) AS j, sum(f) AS f, sum(l) AS l, sum(a) AS a, sum(g) AS g, sum(d) AS d, sum(b) AS b FROM (
					SELECT toUnixTimestamp(toStartOfInterval(ts, INTERVAL {bucket:UInt32} SECOND)) * 1000 AS t,
						countIf(type = 'join' AND attempt = 1) AS j, countIf(type = 'fail') AS f, countIf(type = 'leave') AS l,
						0 AS a, 0 AS g, 0 AS d, 0 AS b
					FROM ${db}.events WHERE run_id = {run:String} GROUP BY t
					UNION ALL
					SELECT t, 0, 0, 0, count() AS a, countIf(band = 0), countIf(band = 1), countIf(band = 2) FROM (
						SELECT toUnixTimestamp(toStartOfInterval(bucket, INTERVAL {bucket:UInt32} SECOND)) * 1000 AS t, peer_id,
							greatest(${band('avgMerge(loss_pct)', l.loss_pct)}, ${band('avgMerge(jitter_ms)', l.jitter_ms)},
								${band('avgMerge(rtt_ms)', l.rtt_ms)}, ${band('avgMerge(mos)', l.mos)}) AS band
						FROM ${db}.peer_rollup_${level}s WHERE run_id = {run:String} AND source_kind != 'sfu'
						GROUP BY t, peer_id
					) GROUP BY t
				) GROUP BY t
			)
			WINDOW w AS (ORDER BY t ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
			ORDER BY t`,
			{ run: runId, bucket },
		);
		return {
			participants: {
				bucketSeconds: bucket,
				points: rows.map((r) => ({
					t: Number(r.t),
					joined: Number(r.joined),
					active: Number(r.active),
					failed: Number(r.failed),
					left: Number(r.left),
				})),
			},
			quality: {
				bucketSeconds: bucket,
				points: rows
					.filter((r) => Number(r.active) > 0)
					.map((r) => ({ t: Number(r.t), good: Number(r.good), degraded: Number(r.degraded), bad: Number(r.bad) })),
			},
		};
	}

	async sfuLoad(runId: string, bucket: number): Promise<SfuLoad> {
		const rows = await this.#q<{ t: number; worker: number; cpu: number | null; consumers: number; peers: number }>(
			`SELECT toUnixTimestamp(toStartOfInterval(ts, INTERVAL {bucket:UInt32} SECOND)) * 1000 AS t, worker,
				avg(cpu_pct) AS cpu, max(consumers) AS consumers, max(peers) AS peers
			FROM ${this.#db}.sfu_samples WHERE run_id = {run:String}
			GROUP BY t, worker ORDER BY worker, t`,
			{ run: runId, bucket },
		);
		const byWorker = new Map<number, SfuLoad['workers'][number]>();
		for (const r of rows) {
			const worker = Number(r.worker);
			let entry = byWorker.get(worker);
			if (!entry) byWorker.set(worker, (entry = { worker, points: [] }));
			entry.points.push({ t: Number(r.t), cpuPct: finiteOrNull(r.cpu), consumers: Number(r.consumers), peers: Number(r.peers) });
		}
		return { bucketSeconds: bucket, workers: [...byWorker.values()] };
	}

	async firstMedia(runId: string): Promise<FirstMediaDistribution> {
		// One value per participant join: few enough to bin here.
		const [row] = await this.#q<{ values: number[]; q: number[] }>(
			`SELECT groupArray(duration_ms) AS values, quantilesExactInclusive(0.5, 0.95)(duration_ms) AS q
			FROM ${this.#db}.events WHERE run_id = {run:String} AND type = 'first-media' AND duration_ms IS NOT NULL`,
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
			histogram: [...bins.entries()]
				.sort(([a], [b]) => a - b)
				.map(([fromMs, count]) => ({ fromMs, toMs: fromMs + width, count })),
		};
	}

	/**
	 * k6-style thresholds checked exactly against every stored sample and event of the run.
	 * No data fails a threshold (except count): a gate must not pass on silence.
	 */
	async evaluate(runId: string, thresholds: Partial<Record<MetricName, string[]>>): Promise<ThresholdResult[]> {
		const db = this.#db;
		const checks = Object.entries(thresholds).flatMap(([metric, list]) =>
			(list ?? []).map((expression) => ({ metric: metric as MetricName, expression, parsed: parseThreshold(expression) })),
		);
		const sampleSelects: string[] = [];
		const eventSelects: string[] = [];
		const valueOf = new Map<number, () => number | null>();
		let sampleRow: Record<string, unknown> | undefined;
		let eventRow: Record<string, unknown> | undefined;
		let people: { attempted: number; joined: number; neverJoined: number; dropped: number } | undefined;
		const aggregate = (column: string, cond: string, t: ThresholdExpression): string => {
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
				default:
					throw new Error(`aggregation ${t.aggregation} does not apply to ${column}`);
			}
		};
		checks.forEach(({ metric, parsed }, i) => {
			if (!parsed) throw new HttpError(400, 'bad_request', `thresholds.${metric}: cannot parse`);
			const def: SampleMetric | EventMetric | RateMetric = metricCatalogue[metric];
			if (def.source === 'samples') {
				sampleSelects.push(`${aggregate(def.column, `${metricFilter(def)} AND ${def.column} IS NOT NULL`, parsed)} AS v${i}, countIf(${def.column} IS NOT NULL AND ${metricFilter(def)}) AS n${i}`);
				valueOf.set(i, () => (Number(sampleRow?.[`n${i}`] ?? 0) || parsed.aggregation === 'count' ? scaled(sampleRow?.[`v${i}`], parsed.aggregation === 'count' ? 1 : def.scale) : null));
			} else if (def.source === 'events') {
				const cond = `type = '${def.eventType}' AND duration_ms IS NOT NULL`;
				eventSelects.push(`${aggregate('duration_ms', cond, parsed)} AS v${i}, countIf(${cond}) AS n${i}`);
				valueOf.set(i, () => (Number(eventRow?.[`n${i}`] ?? 0) || parsed.aggregation === 'count' ? finiteOrNull(eventRow?.[`v${i}`]) : null));
			} else {
				if (parsed.aggregation !== 'rate') throw new HttpError(400, 'bad_request', `thresholds.${metric}: ${metric} is a rate: use "rate<..."`);
				valueOf.set(i, () => {
					if (!people) return null;
					const [part, whole] = metric === 'join_failed' ? [people.neverJoined, people.attempted] : [people.dropped, people.joined];
					return whole ? part / whole : null;
				});
			}
		});
		if (sampleSelects.length) {
			[sampleRow] = await this.#q<Record<string, unknown>>(
				`SELECT ${sampleSelects.join(', ')} FROM ${db}.samples WHERE run_id = {run:String}`,
				{ run: runId },
			);
		}
		if (eventSelects.length) {
			[eventRow] = await this.#q<Record<string, unknown>>(
				`SELECT ${eventSelects.join(', ')} FROM ${db}.events WHERE run_id = {run:String}`,
				{ run: runId },
			);
		}
		if (checks.some((c) => metricCatalogue[c.metric].source === 'rate')) people = await this.#people(runId);
		return checks.map(({ metric, expression, parsed }, i) => {
			const value = valueOf.get(i)!();
			return { metric, expression, ok: value !== null && compare(value, parsed!.operator, parsed!.value), value };
		});
	}

	/** Participants that tried, joined, never joined, and failed after joining. */
	async #people(runId: string): Promise<{ attempted: number; joined: number; neverJoined: number; dropped: number }> {
		const [row] = await this.#q<{ attempted: number; joined: number; never_joined: number; dropped: number }>(
			`SELECT count() AS attempted, countIf(first_join IS NOT NULL) AS joined,
				countIf(first_join IS NULL AND first_fail IS NOT NULL) AS never_joined,
				countIf(first_join IS NOT NULL AND last_fail > first_join) AS dropped
			FROM (
				SELECT peer_id, minIf(ts, type = 'join') AS first_join, minIf(ts, type = 'fail') AS first_fail,
					maxIf(ts, type = 'fail') AS last_fail
				FROM ${this.#db}.events WHERE run_id = {run:String} AND type IN ('join', 'fail')
				GROUP BY peer_id
			) SETTINGS aggregate_functions_null_for_empty = 1`,
			{ run: runId },
		);
		return {
			attempted: Number(row?.attempted ?? 0),
			joined: Number(row?.joined ?? 0),
			neverJoined: Number(row?.never_joined ?? 0),
			dropped: Number(row?.dropped ?? 0),
		};
	}

	async rooms(runId: string): Promise<RoomList> {
		const rows = await this.#q<{ room_id: string; n: number }>(
			`SELECT room_id, uniqExact(peer_id) AS n FROM ${this.#db}.events
			WHERE run_id = {run:String} GROUP BY room_id ORDER BY room_id`,
			{ run: runId },
		);
		return { rooms: rows.map((r) => ({ roomId: r.room_id, participants: Number(r.n) })) };
	}

	async peers(runId: string, room?: string): Promise<PeerList> {
		const params: QueryParams = { run: runId, ...(room ? { room } : {}) };
		const roomFilter = room ? 'AND room_id = {room:String}' : '';
		const rows = await this.#q<{
			peer_id: string;
			room_id: string;
			source_kind: string;
			samples: number;
			rtt: number;
			jitter: number;
			loss: number;
			mos: number;
			joined: number;
			failed: number;
		}>(
			`SELECT p.peer_id AS peer_id, p.room_id AS room_id, p.sk AS source_kind, p.samples AS samples,
				p.rtt AS rtt, p.jitter AS jitter, p.loss AS loss, p.mos AS mos,
				ifNull(e.joined, 0) AS joined, ifNull(e.failed, 0) AS failed
			FROM (
				SELECT peer_id, room_id, any(source_kind) AS sk, countMerge(samples) AS samples,
					avgMerge(rtt_ms) AS rtt, avgMerge(jitter_ms) AS jitter, avgMerge(loss_pct) AS loss, avgMerge(mos) AS mos
				FROM ${this.#db}.peer_rollup_${rollupLevels.at(-1)}s WHERE run_id = {run:String} ${roomFilter} AND source_kind != 'sfu'
				GROUP BY peer_id, room_id
			) AS p
			LEFT JOIN (
				SELECT peer_id, max(type = 'join') AS joined, max(type = 'fail') AS failed
				FROM ${this.#db}.events WHERE run_id = {run:String} ${roomFilter} GROUP BY peer_id
			) AS e ON e.peer_id = p.peer_id
			ORDER BY p.room_id, p.peer_id`,
			params,
		);
		return {
			peers: rows.map((r) => ({
				peerId: r.peer_id,
				roomId: r.room_id,
				sourceKind: r.source_kind,
				samples: Number(r.samples),
				rttMs: finiteOrNull(r.rtt),
				jitterMs: finiteOrNull(r.jitter),
				lossPct: finiteOrNull(r.loss),
				mos: finiteOrNull(r.mos),
				joined: Boolean(r.joined),
				failed: Boolean(r.failed),
			})),
		};
	}

	async events(runId: string, filter: { peer?: string; type?: string; limit: number }): Promise<EventList> {
		const params: QueryParams = { run: runId, limit: filter.limit };
		const where = ['run_id = {run:String}', ...equalities(params, { peer_id: filter.peer, type: filter.type })];
		const rows = await this.#q<{ t: number; room_id: string; peer_id: string; type: string; duration_ms: number | null; reason: string }>(
			`SELECT toUnixTimestamp64Milli(ts) AS t, room_id, peer_id, type, duration_ms, reason
			FROM ${this.#db}.events WHERE ${where.join(' AND ')} ORDER BY ts LIMIT {limit:UInt32}`,
			params,
		);
		return {
			events: rows.map((r) => ({
				t: Number(r.t),
				roomId: r.room_id,
				peerId: r.peer_id,
				type: r.type,
				durationMs: finiteOrNull(r.duration_ms),
				reason: r.reason,
			})),
		};
	}
}

const defaultSeriesMetrics: SampleMetricName[] = [
	'rtt_ms',
	'jitter_ms',
	'loss_pct',
	'bitrate_in_kbps',
	'bitrate_out_kbps',
	'fps',
	'mos',
	'freeze_pct',
	'available_outgoing_kbps',
];

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

/** `column = {column:String}` for each given value, its parameter added to `params`. */
function equalities(params: QueryParams, values: Record<string, string | undefined>): string[] {
	const conditions: string[] = [];
	for (const [column, value] of Object.entries(values)) {
		if (value === undefined) continue;
		conditions.push(`${column} = {${column}:String}`);
		params[column] = value;
	}
	return conditions;
}

function compare(value: number, operator: ThresholdExpression['operator'], limit: number): boolean {
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

function parseJson<T>(text: string, fallback: T): T {
	try {
		return text ? (JSON.parse(text) as T) : fallback;
	} catch {
		return fallback;
	}
}

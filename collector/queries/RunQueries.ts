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
	Timeseries,
	TimeseriesQuery,
} from '../../protocol/api.ts';
import {
	metricCatalogue,
	type EventMetric,
	type MetricName,
	type SampleMetric,
	type SampleMetricName,
} from '../../protocol/metrics.ts';
import { qualityBandLimits } from '../normalize/mos.ts';
import type { ClickHouseStore, QueryParams } from '../store/ClickHouseStore.ts';
import { rollupQuantiles } from '../store/schema.ts';

const niceBuckets = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21_600, 43_200, 86_400];

/** A bucket width (s) giving at most ~maxPoints points over the run, at least minSeconds. */
export function chooseBucket(durationMs: number, maxPoints = 240, minSeconds = 5): number {
	const wanted = Math.max(minSeconds, durationMs / 1000 / maxPoints);
	return niceBuckets.find((b) => b >= wanted) ?? 86_400;
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

	/** Run length for bucket choice: from the rollup, falling back to events. */
	async #spanMs(runId: string): Promise<{ from: number; to: number } | undefined> {
		const [row] = await this.#q<{ from: number | null; to: number | null }>(
			`SELECT
				(SELECT toUnixTimestamp(min(bucket)) * 1000 FROM ${this.#db}.samples_1s WHERE run_id = {run:String}) AS from,
				(SELECT toUnixTimestamp(max(bucket)) * 1000 FROM ${this.#db}.samples_1s WHERE run_id = {run:String}) AS to`,
			{ run: runId },
		);
		if (!row?.from || !row.to || row.from <= 0) return undefined;
		return { from: row.from, to: row.to };
	}

	async bucketFor(runId: string, requested?: number): Promise<number> {
		if (requested) return requested;
		const span = await this.#spanMs(runId);
		return chooseBucket(span ? span.to - span.from : 0);
	}

	async summary(runId: string, exact: boolean): Promise<RunSummary> {
		const db = this.#db;
		const metrics: Partial<Record<MetricName, MetricSummary>> = {};
		const sampleNames = (Object.keys(metricCatalogue) as MetricName[]).filter(
			(m): m is SampleMetricName => metricCatalogue[m].source === 'samples',
		);
		const qs = rollupQuantiles.join(', ');
		const selects = sampleNames.map((name, i) => {
			const m = sampleMetric(name);
			if (exact) {
				const cond = metricFilter(m);
				return `countIf(${m.column} IS NOT NULL AND ${cond}) AS c${i}, avgIf(${m.column}, ${cond}) AS a${i},
					minIf(${m.column}, ${cond}) AS mn${i}, maxIf(${m.column}, ${cond}) AS mx${i},
					quantilesExactInclusiveIf(${qs})(${m.column}, ${cond}) AS q${i}`;
			}
			const cond = metricFilter(m);
			return `countMergeIf(samples, ${cond}) AS c${i}, avgMergeIf(${m.column}_avg, ${cond}) AS a${i},
				NULL AS mn${i}, NULL AS mx${i},
				quantilesTDigestMergeIf(${qs})(${m.column}_q, ${cond}) AS q${i}`;
		});
		const [row] = await this.#q<Record<string, unknown>>(
			`SELECT ${selects.join(',\n')} FROM ${db}.${exact ? 'samples' : 'samples_1s'} WHERE run_id = {run:String}`,
			{ run: runId },
		);
		sampleNames.forEach((name, i) => {
			const m = sampleMetric(name);
			const q = (row?.[`q${i}`] as number[] | undefined) ?? [];
			const count = Number(row?.[`c${i}`] ?? 0);
			metrics[name] = {
				unit: m.unit,
				count,
				avg: count ? scaled(row?.[`a${i}`], m.scale) : null,
				min: count ? scaled(row?.[`mn${i}`], m.scale) : null,
				max: count ? scaled(row?.[`mx${i}`], m.scale) : null,
				p50: count ? scaled(q[0], m.scale) : null,
				p95: count ? scaled(q[1], m.scale) : null,
				p99: count ? scaled(q[2], m.scale) : null,
				rate: null,
			};
		});

		const eventNames = (Object.keys(metricCatalogue) as MetricName[]).filter(
			(m) => metricCatalogue[m].source === 'events',
		);
		const eventSelects = eventNames.map((name, i) => {
			const type = (metricCatalogue[name] as EventMetric).eventType;
			return `countIf(type = '${type}' AND duration_ms IS NOT NULL) AS c${i}, avgIf(duration_ms, type = '${type}') AS a${i},
				minIf(duration_ms, type = '${type}') AS mn${i}, maxIf(duration_ms, type = '${type}') AS mx${i},
				quantilesExactInclusiveIf(${qs})(duration_ms, type = '${type}') AS q${i}`;
		});
		const [ev] = await this.#q<Record<string, unknown>>(
			`SELECT ${eventSelects.join(',\n')},
				uniqExactIf(peer_id, type IN ('join', 'fail')) AS attempted,
				uniqExactIf(peer_id, type = 'join') AS joined
			FROM ${db}.events WHERE run_id = {run:String}`,
			{ run: runId },
		);
		eventNames.forEach((name, i) => {
			const q = (ev?.[`q${i}`] as number[] | undefined) ?? [];
			const count = Number(ev?.[`c${i}`] ?? 0);
			metrics[name] = {
				unit: 'ms',
				count,
				avg: count ? finiteOrNull(ev?.[`a${i}`]) : null,
				min: count ? finiteOrNull(ev?.[`mn${i}`]) : null,
				max: count ? finiteOrNull(ev?.[`mx${i}`]) : null,
				p50: count ? finiteOrNull(q[0]) : null,
				p95: count ? finiteOrNull(q[1]) : null,
				p99: count ? finiteOrNull(q[2]) : null,
				rate: null,
			};
		});

		// Per participant: did it ever join, did it fail before joining, after joining?
		const [pp] = await this.#q<{ attempted: number; joined: number; never_joined: number; dropped: number }>(
			`SELECT count() AS attempted, countIf(first_join IS NOT NULL) AS joined,
				countIf(first_join IS NULL AND first_fail IS NOT NULL) AS never_joined,
				countIf(first_join IS NOT NULL AND last_fail > first_join) AS dropped
			FROM (
				SELECT peer_id, minIf(ts, type = 'join') AS first_join, minIf(ts, type = 'fail') AS first_fail,
					maxIf(ts, type = 'fail') AS last_fail
				FROM ${db}.events WHERE run_id = {run:String} AND type IN ('join', 'fail')
				GROUP BY peer_id
				SETTINGS aggregate_functions_null_for_empty = 1
			)`,
			{ run: runId },
		);
		const attempted = Number(pp?.attempted ?? 0);
		const joined = Number(pp?.joined ?? 0);
		const rate = (part: number, whole: number): MetricSummary => ({
			unit: 'ratio',
			count: whole,
			avg: null,
			min: null,
			max: null,
			p50: null,
			p95: null,
			p99: null,
			rate: whole ? part / whole : null,
		});
		metrics.join_failed = rate(Number(pp?.never_joined ?? 0), attempted);
		metrics.dropped = rate(Number(pp?.dropped ?? 0), joined);

		const participants = await this.participants(runId, await this.bucketFor(runId));
		return {
			runId,
			exact,
			participants: {
				attempted,
				joined,
				failed: Number(pp?.never_joined ?? 0),
				dropped: Number(pp?.dropped ?? 0),
				peakActive: participants.points.reduce((max, p) => Math.max(max, p.active), 0),
			},
			joinSuccessRate: attempted ? joined / attempted : null,
			metrics: metrics as Record<MetricName, MetricSummary>,
		};
	}

	async timeseries(runId: string, query: TimeseriesQuery): Promise<Timeseries> {
		const bucket = await this.bucketFor(runId, query.bucket);
		const qs = rollupQuantiles.join(', ');
		const fromRollup = !query.room && !query.peer;
		const params: QueryParams = { run: runId, bucket };
		const filters = ['run_id = {run:String}'];
		if (query.room) {
			filters.push('room_id = {room:String}');
			params.room = query.room;
		}
		if (query.peer) {
			filters.push('peer_id = {peer:String}');
			params.peer = query.peer;
		}
		if (query.kind) {
			filters.push('kind = {kind:String}');
			params.kind = query.kind;
		}
		const selects = query.metrics.map((name, i) => {
			const m = sampleMetric(name);
			const cond = metricFilter(m);
			return fromRollup
				? `countMergeIf(samples, ${cond}) AS n${i}, avgMergeIf(${m.column}_avg, ${cond}) AS a${i},
					quantilesTDigestMergeIf(${qs})(${m.column}_q, ${cond}) AS q${i}`
				: `countIf(${m.column} IS NOT NULL AND ${cond}) AS n${i}, avgIf(${m.column}, ${cond}) AS a${i},
					quantilesTDigestIf(${qs})(${m.column}, ${cond}) AS q${i}`;
		});
		const time = fromRollup ? 'bucket' : 'ts';
		const rows = await this.#q<Record<string, unknown>>(
			`SELECT toUnixTimestamp(toStartOfInterval(${time}, INTERVAL {bucket:UInt32} SECOND)) * 1000 AS t,
				${selects.join(',\n')}
			FROM ${this.#db}.${fromRollup ? 'samples_1s' : 'samples'}
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
		return { bucketSeconds: bucket, series };
	}

	/** Joined, failed and left (cumulative, from events) and active (reporting) participants per bucket. */
	async participants(runId: string, bucket: number): Promise<ParticipantsSeries> {
		const db = this.#db;
		const rows = await this.#q<{ t: number; joined: number; failed: number; left: number; active: number }>(
			`SELECT t,
				toUInt32(sum(j) OVER (ORDER BY t ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)) AS joined,
				toUInt32(sum(f) OVER (ORDER BY t ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)) AS failed,
				toUInt32(sum(l) OVER (ORDER BY t ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)) AS left,
				toUInt32(a) AS active
			FROM (
				SELECT t, sum(j) AS j, sum(f) AS f, sum(l) AS l, max(a) AS a FROM (
					SELECT toUnixTimestamp(toStartOfInterval(ts, INTERVAL {bucket:UInt32} SECOND)) * 1000 AS t,
						countIf(type = 'join' AND attempt = 1) AS j, countIf(type = 'fail') AS f, countIf(type = 'leave') AS l,
						0 AS a
					FROM ${db}.events WHERE run_id = {run:String} GROUP BY t
					UNION ALL
					SELECT toUnixTimestamp(toStartOfInterval(bucket, INTERVAL {bucket:UInt32} SECOND)) * 1000 AS t,
						0 AS j, 0 AS f, 0 AS l, uniqMerge(peers) AS a
					FROM ${db}.samples_1s WHERE run_id = {run:String} AND source_kind != 'sfu' GROUP BY t
				) GROUP BY t
			) ORDER BY t`,
			{ run: runId, bucket },
		);
		return {
			bucketSeconds: bucket,
			points: rows.map((r) => ({
				t: Number(r.t),
				joined: Number(r.joined),
				active: Number(r.active),
				failed: Number(r.failed),
				left: Number(r.left),
			})),
		};
	}

	/** Participants per bucket whose averages put them in the good, degraded or bad band. */
	async qualityBands(runId: string, bucket: number): Promise<QualityBands> {
		const l = qualityBandLimits;
		const band = (col: string, lim: { degraded: number; bad: number; higherIsBetter: boolean }) =>
			lim.higherIsBetter
				? `multiIf(isNaN(${col}), 0, ${col} < ${lim.bad}, 2, ${col} <= ${lim.degraded}, 1, 0)`
				: `multiIf(isNaN(${col}), 0, ${col} > ${lim.bad}, 2, ${col} >= ${lim.degraded}, 1, 0)`;
		const rows = await this.#q<{ t: number; good: number; degraded: number; bad: number }>(
			`SELECT t, countIf(b = 0) AS good, countIf(b = 1) AS degraded, countIf(b = 2) AS bad FROM (
				SELECT toUnixTimestamp(toStartOfInterval(bucket, INTERVAL {bucket:UInt32} SECOND)) * 1000 AS t, peer_id,
					avgMerge(loss_pct) AS loss, avgMerge(jitter_ms) AS jitter, avgMerge(rtt_ms) AS rtt, avgMerge(mos) AS mos,
					greatest(${band('loss', l.loss_pct)}, ${band('jitter', l.jitter_ms)}, ${band('rtt', l.rtt_ms)}, ${band('mos', l.mos)}) AS b
				FROM ${this.#db}.peer_10s WHERE run_id = {run:String} AND source_kind != 'sfu'
				GROUP BY t, peer_id
			) GROUP BY t ORDER BY t`,
			{ run: runId, bucket: Math.max(10, bucket) },
		);
		return {
			bucketSeconds: Math.max(10, bucket),
			points: rows.map((r) => ({ t: Number(r.t), good: Number(r.good), degraded: Number(r.degraded), bad: Number(r.bad) })),
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
		const [stats] = await this.#q<{ n: number; q: number[]; hi: number | null }>(
			`SELECT count() AS n, quantilesExactInclusive(0.5, 0.95)(duration_ms) AS q, max(duration_ms) AS hi
			FROM ${this.#db}.events WHERE run_id = {run:String} AND type = 'first-media' AND duration_ms IS NOT NULL`,
			{ run: runId },
		);
		const count = Number(stats?.n ?? 0);
		if (!count) return { count: 0, p50: null, p95: null, histogram: [] };
		const width = Math.max(1, niceBuckets.find((b) => b * 20 >= Number(stats!.hi)) ?? Math.ceil(Number(stats!.hi) / 20));
		const rows = await this.#q<{ b: number; n: number }>(
			`SELECT floor(duration_ms / {width:UInt32}) * {width:UInt32} AS b, count() AS n
			FROM ${this.#db}.events WHERE run_id = {run:String} AND type = 'first-media' AND duration_ms IS NOT NULL
			GROUP BY b ORDER BY b`,
			{ run: runId, width },
		);
		return {
			count,
			p50: finiteOrNull(stats!.q[0]),
			p95: finiteOrNull(stats!.q[1]),
			histogram: rows.map((r) => ({ fromMs: Number(r.b), toMs: Number(r.b) + width, count: Number(r.n) })),
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
				FROM ${this.#db}.peer_10s WHERE run_id = {run:String} ${roomFilter} AND source_kind != 'sfu'
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
		const where = ['run_id = {run:String}'];
		if (filter.peer) {
			where.push('peer_id = {peer:String}');
			params.peer = filter.peer;
		}
		if (filter.type) {
			where.push('type = {type:String}');
			params.type = filter.type;
		}
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

function parseJson<T>(text: string, fallback: T): T {
	try {
		return text ? (JSON.parse(text) as T) : fallback;
	} catch {
		return fallback;
	}
}

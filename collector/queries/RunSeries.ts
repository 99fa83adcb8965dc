import type { GeneratorHealth, ParticipantsSeries, QualityBands, SfuLoad, Timeseries, TimeseriesQuery } from '../../protocol/api.ts';
import { countsFromStored, sampleMetricNames, seriesMetricNames, storedCountColumns } from '../../protocol/metrics.ts';
import { qualityBandLimits } from '../normalize/mos.ts';
import type { QueryParams } from '../store/ClickHouseStore.ts';
import { peerResolution, type Resolution } from './Resolution.ts';
import { metricSeries } from './metricSeries.ts';
import { sampleMetricSummaries, type SampleMetricSummaries } from './RunSummaries.ts';
import { equalities, finiteOrNull, type Sql } from './sql.ts';

/** The run over time: metric percentiles, participants and their quality bands, SFU and generator load. */
export class RunSeries {
	constructor(private readonly sql: Sql) {}

	/** p50/p95/p99/avg per bucket: whole run from rollups, a room or a peer from raw samples. */
	async timeseries(runId: string, query: TimeseriesQuery, resolution: Resolution): Promise<Timeseries> {
		// Room and peer drill-downs read raw samples (their prefix of the sort key keeps it cheap), as
		// does a bucket finer than every rollup level.
		const raw = Boolean(query.room || query.peer) || resolution.level === 'raw';
		const params: QueryParams = { run: runId };
		const filters = ['run_id = {run:String}', ...equalities(params, { room_id: query.room, peer_id: query.peer, kind: query.kind })];
		const { series } = await metricSeries(this.sql, {
			table: raw ? 'samples' : `rollup_${resolution.level}s`,
			filters,
			params,
			bucket: resolution.bucket,
			metrics: query.metrics,
		});
		return { bucketSeconds: resolution.bucket, series };
	}

	/**
	 * The run view's charts and, from the same pass over the same rollup states, every sample
	 * metric over the whole run (undefined when the resolution reads raw samples: the summary
	 * then comes from the coarsest rollup instead of from every sample).
	 */
	async overview(runId: string, resolution: Resolution): Promise<{ timeseries: Timeseries; metrics: SampleMetricSummaries | undefined }> {
		if (resolution.level === 'raw') {
			return { timeseries: await this.timeseries(runId, { metrics: seriesMetricNames, bucket: resolution.bucket }, resolution), metrics: undefined };
		}
		const { series, whole } = await metricSeries(this.sql, {
			table: `rollup_${resolution.level}s`,
			filters: ['run_id = {run:String}'],
			params: { run: runId },
			bucket: resolution.bucket,
			metrics: sampleMetricNames,
			whole: true,
		});
		const charted = Object.fromEntries(seriesMetricNames.map((name) => [name, series[name] ?? []]));
		return {
			timeseries: { bucketSeconds: resolution.bucket, series: charted },
			metrics: sampleMetricSummaries(whole, (name) => sampleMetricNames.indexOf(name)),
		};
	}

	/**
	 * Participants over time and their quality bands, in one query: joined, failed and left
	 * (cumulative, from events); active (peers reporting samples) and good / degraded / bad
	 * (by their averages in the bucket) from the per-peer rollup.
	 */
	async people(runId: string, resolution: Resolution): Promise<{ participants: ParticipantsSeries; quality: QualityBands }> {
		const db = this.sql.db;
		const { bucket, level } = peerResolution(resolution);
		const l = qualityBandLimits;
		const band = (col: string, lim: { degraded: number; bad: number; higherIsBetter: boolean }) =>
			lim.higherIsBetter
				? `multiIf(isNaN(${col}), 0, ${col} < ${lim.bad}, 2, ${col} <= ${lim.degraded}, 1, 0)`
				: `multiIf(isNaN(${col}), 0, ${col} > ${lim.bad}, 2, ${col} >= ${lim.degraded}, 1, 0)`;
		const rows = await this.sql.rows<{ t: number; joined: number; failed: number; left: number; active: number; good: number; degraded: number; bad: number }>(
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
						FROM ${db}.peer_rollup_${level}s WHERE run_id = {run:String} AND source_kind NOT IN ('sfu', 'generator')
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
				points: rows.map((r) => ({ t: Number(r.t), joined: Number(r.joined), active: Number(r.active), failed: Number(r.failed), left: Number(r.left) })),
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
		const rows = await this.sql.rows<{ t: number; worker: number; cpu: number | null; consumers: number; peers: number }>(
			`SELECT toUnixTimestamp(toStartOfInterval(ts, INTERVAL {bucket:UInt32} SECOND)) * 1000 AS t, worker,
				avg(cpu_pct) AS cpu, max(consumers) AS consumers, max(peers) AS peers
			FROM ${this.sql.db}.sfu_samples WHERE run_id = {run:String}
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

	/** The load generator's machine CPU, busiest process and worst event-loop lag per bucket, and per process over the run. */
	async generatorHealth(runId: string, bucket: number): Promise<GeneratorHealth> {
		const db = this.sql.db;
		const [points, processes] = await Promise.all([
			this.sql.rows<{ t: number; machine: number | null; cpu: number | null; lag: number | null; saturated: number }>(
				`SELECT toUnixTimestamp(toStartOfInterval(ts, INTERVAL {bucket:UInt32} SECOND)) * 1000 AS t,
					avgIf(cpu_pct, role = 'machine') AS machine, maxIf(cpu_pct, role != 'machine') AS cpu,
					max(lag_ms) AS lag, max(saturated) AS saturated
				FROM ${db}.generator_samples WHERE run_id = {run:String}
				GROUP BY t ORDER BY t SETTINGS aggregate_functions_null_for_empty = 1`,
				{ run: runId, bucket },
			),
			this.sql.rows<{ generator_id: string; role: string; process_id: string; cpu: number | null; lag: number | null; saturated: number } & Record<string, unknown>>(
				// The withheld-figure counts are totals so far: the largest is the process's last.
				`SELECT generator_id, role, process_id, max(cpu_pct) AS cpu, max(lag_ms) AS lag, sum(saturated) AS saturated,
					${storedCountColumns.map((c) => `max(${c}) AS last_${c}`).join(', ')}
				FROM ${db}.generator_samples WHERE run_id = {run:String}
				GROUP BY generator_id, role, process_id ORDER BY generator_id, role, process_id
				SETTINGS aggregate_functions_null_for_empty = 1`,
				{ run: runId },
			),
		]);
		return {
			bucketSeconds: bucket,
			points: points.map((p) => ({
				t: Number(p.t),
				machineCpuPct: finiteOrNull(p.machine),
				maxProcessCpuPct: finiteOrNull(p.cpu),
				maxLagMs: finiteOrNull(p.lag),
				saturated: Number(p.saturated) > 0,
			})),
			processes: processes.map((p) => ({
				generatorId: p.generator_id,
				role: p.role,
				processId: p.process_id,
				peakCpuPct: finiteOrNull(p.cpu),
				peakLagMs: finiteOrNull(p.lag),
				saturatedSeconds: Number(p.saturated),
				...countsFromStored(p, 'last_'),
			})),
		};
	}
}

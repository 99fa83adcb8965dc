import type { AlertState, AppInfo, AppView, AppViewQuery } from '../../protocol/apps.ts';
import type { SampleMetricName } from '../../protocol/metrics.ts';
import { qualityBandLimits } from '../normalize/mos.ts';
import { appRollupLevels, rollupLevels } from '../store/schema.ts';
import { metricSeries } from './metricSeries.ts';
import { finiteOrNull, type Sql } from './sql.ts';

/** The metrics an app view draws (e2e delay joins them when calls report it). */
export const appViewMetrics: readonly SampleMetricName[] = ['rtt_ms', 'jitter_ms', 'loss_pct', 'mos', 'bitrate_in_kbps', 'fps'];

const rangeMs = { '1h': 3600_000, '1d': 86_400_000, '7d': 7 * 86_400_000 } as const;
const maxPoints = 200;
/** How long an answer is reused: the app view is read often (dashboards refresh) and changes slowly. */
const cacheMs = 10_000;
const worstCallsShown = 10;
const breakdownValues = 20;

export interface CallAverages {
	callKey: string;
	participants: number;
	startedAt: number;
	mos: number | null;
	lossPct: number | null;
	rttMs: number | null;
	jitterMs: number | null;
}

/** A call's quality band from its averages, with the same limits as participants' bands in a run. */
export function callBand(call: Pick<CallAverages, 'mos' | 'lossPct' | 'rttMs' | 'jitterMs'>): 'good' | 'degraded' | 'bad' {
	const l = qualityBandLimits;
	const grade = (value: number | null, lim: { degraded: number; bad: number; higherIsBetter: boolean }): number => {
		if (value === null) return 0;
		if (lim.higherIsBetter) return value < lim.bad ? 2 : value <= lim.degraded ? 1 : 0;
		return value > lim.bad ? 2 : value >= lim.degraded ? 1 : 0;
	};
	const worst = Math.max(grade(call.mos, l.mos), grade(call.lossPct, l.loss_pct), grade(call.rttMs, l.rtt_ms), grade(call.jitterMs, l.jitter_ms));
	return (['good', 'degraded', 'bad'] as const)[worst]!;
}

/**
 * An app's production calls over a time range: calls and participants over time, metric
 * percentiles from the app rollups, the share of calls in each quality band, the worst calls
 * and a breakdown by version, region and browser. Every part reads rollups or the small
 * per-participant table, never raw samples, so a week costs about what an hour does.
 */
export class AppViews {
	readonly #cache = new Map<string, { at: number; view: AppView }>();

	constructor(private readonly sql: Sql) {}

	/** The window of a query: the last hour / day / week, or from..to (default the last hour). */
	static window(query: AppViewQuery, now = Date.now()): { from: number; to: number } {
		if (query.from !== undefined) return { from: query.from, to: Math.max(query.to ?? now, query.from + 60_000) };
		return { from: now - rangeMs[query.range ?? '1h'], to: now };
	}

	/** The coarsest bucket that still gives enough points, and the rollup level holding it. */
	static resolution(spanMs: number): { bucket: number; level: number } {
		const level = appRollupLevels.find((l) => spanMs / 1000 / l <= maxPoints) ?? appRollupLevels.at(-1)!;
		const bucket = Math.max(level, Math.ceil(spanMs / 1000 / maxPoints / level) * level);
		return { bucket, level };
	}

	invalidate(appId: string): void {
		for (const key of this.#cache.keys()) if (key.startsWith(`${appId}|`)) this.#cache.delete(key);
	}

	async view(app: AppInfo, query: AppViewQuery, live: { activeCalls: number; alerts: AlertState[] }): Promise<AppView> {
		const { from, to } = AppViews.window(query);
		// Named ranges move with the clock: cached per 10 s step, so refreshes share an answer.
		const key = `${app.appId}|${query.range ?? ''}|${query.from ?? ''}|${query.to ?? ''}|${query.from === undefined ? Math.floor(to / cacheMs) : ''}`;
		const hit = this.#cache.get(key);
		if (hit && Date.now() - hit.at < cacheMs) return { ...hit.view, calls: { ...hit.view.calls, active: live.activeCalls }, alerts: live.alerts };
		const { bucket, level } = AppViews.resolution(to - from);
		const params = { app: app.appId, from: Math.floor(from / 1000), to: Math.ceil(to / 1000) };
		const [{ series }, points, calls, breakdown] = await Promise.all([
			metricSeries(this.sql, {
				table: `app_rollup_${level}s`,
				filters: ['app_id = {app:String}', 'bucket >= toDateTime({from:UInt32})', 'bucket < toDateTime({to:UInt32})'],
				params,
				bucket,
				metrics: appViewMetrics,
			}),
			this.#callPoints(params, bucket),
			this.#calls(params),
			this.#breakdown(params),
		]);
		const bands = { good: 0, degraded: 0, bad: 0 };
		for (const call of calls) bands[callBand(call)]++;
		const worstCalls = calls
			.filter((c) => c.mos !== null || c.lossPct !== null || c.rttMs !== null)
			.sort((a, b) => (a.mos ?? 5) - (b.mos ?? 5) || (b.lossPct ?? 0) - (a.lossPct ?? 0) || (b.rttMs ?? 0) - (a.rttMs ?? 0))
			.slice(0, worstCallsShown)
			.map(({ jitterMs: _jitter, ...c }) => c);
		const view: AppView = {
			app,
			from,
			to,
			bucketSeconds: bucket,
			calls: { total: calls.length, active: live.activeCalls, points },
			series,
			bands,
			worstCalls,
			breakdown,
			alerts: live.alerts,
		};
		this.#cache.set(key, { at: Date.now(), view });
		if (this.#cache.size > 1000) this.#cache.delete(this.#cache.keys().next().value!);
		return view;
	}

	/** Calls started and participants present per bucket (a participant counts in every bucket it spans). */
	async #callPoints(params: Record<string, string | number>, bucket: number): Promise<AppView['calls']['points']> {
		const db = this.sql.db;
		const rows = await this.sql.rows<{ t: number; started: number; participants: number }>(
			`SELECT t, sum(started) AS started, sum(participants) AS participants FROM (
				SELECT toUnixTimestamp(toStartOfInterval(started_at, INTERVAL {bucket:UInt32} SECOND)) * 1000 AS t, count() AS started, 0 AS participants
				FROM ${db}.runs FINAL
				WHERE kind = 'call' AND app_id = {app:String} AND started_at >= toDateTime({from:UInt32}) AND started_at < toDateTime({to:UInt32})
				GROUP BY t
				UNION ALL
				SELECT arrayJoin(range(
					toUInt32(intDiv(toUInt32(greatest(toUnixTimestamp(first_seen), {from:UInt32})), {bucket:UInt32}) * {bucket:UInt32}),
					toUInt32(least(toUnixTimestamp(last_seen), {to:UInt32})) + 1,
					{bucket:UInt32})) * 1000 AS t, 0 AS started, count() AS participants
				FROM ${db}.call_participants FINAL
				WHERE app_id = {app:String} AND last_seen >= toDateTime({from:UInt32}) AND first_seen < toDateTime({to:UInt32})
				GROUP BY t
			) GROUP BY t ORDER BY t`,
			{ ...params, bucket },
		);
		return rows.map((r) => ({ t: Number(r.t), started: Number(r.started), participants: Number(r.participants) }));
	}

	/** Every call with data in the window and its averages (the run rollups, keyed by the call). */
	async #calls(params: Record<string, string | number>): Promise<CallAverages[]> {
		const db = this.sql.db;
		const level = rollupLevels.at(-1)!;
		const rows = await this.sql.rows<{ run_id: string; started: number; participants: number; mos: number | null; loss: number | null; rtt: number | null; jitter: number | null }>(
			`SELECT r.run_id AS run_id, toUnixTimestamp64Milli(min(c.started_at)) AS started, any(p.participants) AS participants,
				avgMergeIf(r.mos_avg, r.direction = 'inbound' AND r.kind = 'audio') AS mos,
				avgMergeIf(r.loss_pct_avg, r.direction = 'inbound') AS loss,
				avgMergeIf(r.rtt_ms_avg, r.direction = 'candidate-pair') AS rtt,
				avgMergeIf(r.jitter_ms_avg, r.direction = 'inbound') AS jitter
			FROM ${db}.rollup_${level}s AS r
			INNER JOIN (SELECT run_id, started_at FROM ${db}.runs FINAL WHERE kind = 'call' AND app_id = {app:String}) AS c ON c.run_id = r.run_id
			LEFT JOIN (SELECT run_id, count() AS participants FROM ${db}.call_participants FINAL WHERE app_id = {app:String} GROUP BY run_id) AS p ON p.run_id = r.run_id
			WHERE r.run_id IN (SELECT run_id FROM ${db}.runs WHERE kind = 'call' AND app_id = {app:String})
				AND r.bucket >= toDateTime({from:UInt32}) - INTERVAL ${level} SECOND AND r.bucket < toDateTime({to:UInt32})
			GROUP BY r.run_id
			SETTINGS join_use_nulls = 0`,
			params,
		);
		return rows.map((r) => ({
			callKey: r.run_id,
			participants: Number(r.participants),
			startedAt: Number(r.started),
			mos: finiteOrNull(r.mos),
			lossPct: finiteOrNull(r.loss),
			rttMs: finiteOrNull(r.rtt),
			jitterMs: finiteOrNull(r.jitter),
		}));
	}

	/** Participants and their averages per app version, region and browser. */
	async #breakdown(params: Record<string, string | number>): Promise<AppView['breakdown']> {
		const db = this.sql.db;
		const level = rollupLevels.at(-1)!;
		const rows = await this.sql.rows<{ label: string; value: string; participants: number; mos: number | null; rtt: number | null; loss: number | null }>(
			`SELECT label, value, count() AS participants, avg(mos) AS mos, avg(rtt) AS rtt, avg(loss) AS loss FROM (
				SELECT p.app_version AS version, p.region AS region, p.user_agent AS browser,
					avgMerge(r.mos) AS mos, avgMerge(r.rtt_ms) AS rtt, avgMerge(r.loss_pct) AS loss
				FROM ${db}.peer_rollup_${level}s AS r
				INNER JOIN (SELECT run_id, peer_id, app_version, region, user_agent FROM ${db}.call_participants FINAL WHERE app_id = {app:String}) AS p
					ON p.run_id = r.run_id AND p.peer_id = r.peer_id
				WHERE r.run_id IN (SELECT run_id FROM ${db}.runs WHERE kind = 'call' AND app_id = {app:String})
					AND r.bucket >= toDateTime({from:UInt32}) - INTERVAL ${level} SECOND AND r.bucket < toDateTime({to:UInt32})
				GROUP BY r.run_id, r.peer_id, version, region, browser
			)
			ARRAY JOIN ['version', 'region', 'browser'] AS label, [version, region, browser] AS value
			WHERE value != ''
			GROUP BY label, value
			ORDER BY label, participants DESC
			LIMIT ${breakdownValues} BY label`,
			params,
		);
		const out: AppView['breakdown'] = { version: [], region: [], browser: [] };
		for (const r of rows) {
			out[r.label]?.push({
				value: r.value,
				participants: Number(r.participants),
				mos: finiteOrNull(r.mos),
				rttMs: finiteOrNull(r.rtt),
				lossPct: finiteOrNull(r.loss),
			});
		}
		return out;
	}
}

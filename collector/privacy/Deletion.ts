import type { DeletionReport, DeletionRequest } from '../../protocol/apps.ts';
import type { AppRegistry } from '../apps/AppRegistry.ts';
import type { CallTracker } from '../apps/CallTracker.ts';
import { HttpError } from '../http.ts';
import type { Ingest } from '../ingest/Ingest.ts';
import type { ClickHouseStore, QueryParams } from '../store/ClickHouseStore.ts';
import { appRollups, rollupRebuild, runRollups } from '../store/schema.ts';

/** Tables holding rows of a participant, with the column naming the participant. */
const personalTables = ['samples', 'events', 'raw_reports', 'call_participants'] as const;

/** Rollup rebuilds cover whole buckets of the coarsest app level. */
const appBucketSeconds = appRollups.levels.at(-1)!;

export interface DeletionHooks {
	/** Cached answers about these calls and this app are stale. */
	invalidate(appId: string, callKeys: string[]): void;
}

/**
 * Erasure of a person's (or a call's) data: every row of theirs in samples, events, raw
 * reports and call participants is deleted (synchronously: the answer comes after the rows are
 * gone), and the rollups those rows fed are rebuilt from what is left, so no aggregate still
 * holds them. Accepted telemetry still in the journal is stored first, or it would come back
 * after the deletion; if the store cannot take it now, the deletion is refused (503) rather
 * than half done.
 */
export class Deletion {
	constructor(
		private readonly store: ClickHouseStore,
		private readonly ingest: Ingest,
		private readonly registry: AppRegistry,
		private readonly calls: CallTracker,
		private readonly hooks: DeletionHooks,
	) {}

	async erase(appId: string, request: DeletionRequest): Promise<DeletionReport> {
		const app = this.registry.get(appId);
		if (!app) throw new HttpError(404, 'not_found', `no app ${appId}`);
		await this.ingest.writer.flush();
		if (this.ingest.writer.pendingRows > 0) {
			throw new HttpError(503, 'unavailable', 'accepted telemetry is not yet in the store (ClickHouse unavailable): retry the deletion later', undefined, { 'retry-after': '5' });
		}
		const db = `\`${this.store.database}\``;
		const whole = 'callId' in request;
		const params: QueryParams = { app: appId };
		let who: string;
		if (whole) {
			params.call = this.registry.callKey(app, request.callId);
			who = 'app_id = {app:String} AND run_id = {call:String}';
		} else {
			params.user = this.registry.userHash(app, request.userId);
			who = 'app_id = {app:String} AND user_id = {user:String}';
		}
		const calls = whole
			? [String(params.call)]
			: (
					await this.store.query<{ run_id: string }>(
						`SELECT DISTINCT run_id FROM (
							SELECT run_id FROM ${db}.call_participants WHERE ${who}
							UNION ALL SELECT run_id FROM ${db}.events WHERE ${who}
							UNION ALL SELECT run_id FROM ${db}.samples WHERE ${who})`,
						params,
					)
				).map((r) => r.run_id);
		const [span] = await this.store.query<{ from: number | null; to: number | null }>(
			`SELECT toUnixTimestamp(min(ts)) AS from, toUnixTimestamp(max(ts)) AS to FROM ${db}.samples WHERE ${who}
			SETTINGS aggregate_functions_null_for_empty = 1`,
			params,
		);
		const rows: Record<string, number> = {};
		for (const table of personalTables) {
			const [count] = await this.store.query<{ n: number }>(`SELECT count() AS n FROM ${db}.${table} WHERE ${who}`, params);
			rows[table] = Number(count?.n ?? 0);
		}
		const sync = { mutations_sync: '2' };
		for (const table of personalTables) {
			if (rows[table]! > 0) await this.store.command(`ALTER TABLE ${db}.${table} DELETE WHERE ${who}`, params, sync);
		}
		if (whole) {
			await this.store.command(`ALTER TABLE ${db}.runs DELETE WHERE app_id = {app:String} AND run_id = {call:String}`, params, sync);
			this.calls.forget(String(params.call));
			this.ingest.forgetRun(String(params.call));
		}
		const rebuilt = await this.#rebuildRollups(appId, calls, span?.from ?? null, span?.to ?? null);
		this.hooks.invalidate(appId, calls);
		return { appId, what: whole ? 'call' : 'user', calls: calls.length, rows, rebuilt };
	}

	/** Rebuilds the run and peer rollups of the calls and the app rollups over the deleted rows' hours; names the families rebuilt. */
	async #rebuildRollups(appId: string, calls: string[], fromS: number | null, toS: number | null): Promise<string[]> {
		if (calls.length === 0) return [];
		const schema = this.store.schema;
		const sync = { mutations_sync: '2', insert_deduplicate: 0 as const };
		const params: QueryParams = { app: appId, calls };
		const inCalls = 'run_id IN {calls:Array(String)}';
		const plans = [
			{ name: 'run rollups', ...rollupRebuild(schema, runRollups, inCalls, inCalls) },
			{ name: 'peer rollups', ...rollupRebuild(schema, 'peer', inCalls, inCalls) },
		];
		if (fromS !== null && toS !== null) {
			params.from = Math.floor(fromS / appBucketSeconds) * appBucketSeconds;
			params.to = (Math.floor(toS / appBucketSeconds) + 1) * appBucketSeconds;
			const range = 'bucket >= toDateTime({from:UInt32}) AND bucket < toDateTime({to:UInt32})';
			const sampleRange = 'ts >= toDateTime({from:UInt32}) AND ts < toDateTime({to:UInt32})';
			plans.push({ name: 'app rollups', ...rollupRebuild(schema, appRollups, `app_id = {app:String} AND ${range}`, `app_id = {app:String} AND ${sampleRange}`) });
		}
		for (const plan of plans) {
			for (const statement of plan.deletes) await this.store.command(statement, params, sync);
			await this.store.command(plan.insert, params, sync);
		}
		return plans.map((p) => p.name);
	}
}

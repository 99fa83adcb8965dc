import type { RunInfo, WithheldFigures } from '../../protocol/api.ts';
import { countsFromStored, storedCountColumns, withheldTotals, type StoredCountColumn } from '../../protocol/metrics.ts';
import { parseJson, type Sql } from './sql.ts';

/** A run's registry row as stored, to be completed by its events (`runInfo`). */
export interface RunRecord {
	run_id: string;
	scenario: string;
	status: RunInfo['status'];
	status_reason: string;
	started_at: number;
	ended_at: number | null;
	planned_participants: number;
	config: string;
	verdict: string;
	kind: string;
	app_id: string;
	shard_count: number;
}

/**
 * What a run's events add to its record: who took part, and when its first and last events were;
 * and its load generator's counts of judged and withheld figures.
 */
export interface RunEventSpan {
	participants: number;
	firstMs: number | null;
	lastMs: number | null;
	withheld: WithheldFigures;
}

interface RunRowResult extends RunRecord, Record<StoredCountColumn, number> {
	participants: number;
	first_ms: number | null;
	last_ms: number | null;
}

const recordColumns = `r.run_id AS run_id, r.scenario AS scenario, r.status AS status, r.status_reason AS status_reason,
	toUnixTimestamp64Milli(r.started_at) AS started_at,
	if(isNull(r.ended_at), NULL, toUnixTimestamp64Milli(assumeNotNull(r.ended_at))) AS ended_at,
	r.planned_participants AS planned_participants, r.config AS config, r.verdict AS verdict, r.kind AS kind, r.app_id AS app_id`;

export interface RunListFilter {
	kind?: 'run' | 'call';
	app?: string;
}

/** Which runs exist, and each run's record: scenario, status, times, participants, verdict. */
export class RunRegistry {
	constructor(private readonly sql: Sql) {}

	async list(limit: number, runId?: string, filter: RunListFilter = {}): Promise<RunInfo[]> {
		const db = this.sql.db;
		const where = [
			...(runId ? ['run_id = {run:String}'] : []),
			...(filter.kind ? ['kind = {kind:String}'] : []),
			...(filter.app ? ['app_id = {app:String}'] : []),
		];
		const rows = await this.sql.rows<RunRowResult>(
			`SELECT ${recordColumns},
				toUInt32(ifNull(p.participants, 0)) AS participants, p.first_ms AS first_ms, p.last_ms AS last_ms,
				toUInt32(ifNull(sh.shard_count, 0)) AS shard_count,
				${storedCountColumns.map((c) => `toUInt64(ifNull(rt.total_${c}, 0)) AS ${c}`).join(', ')}
			FROM (SELECT * FROM ${db}.runs FINAL ${where.length ? `WHERE ${where.join(' AND ')}` : ''}) AS r
			LEFT JOIN (
				SELECT run_id, uniqExactIf(peer_id, type IN ('join', 'fail')) AS participants,
					toUnixTimestamp64Milli(min(ts)) AS first_ms, toUnixTimestamp64Milli(max(ts)) AS last_ms
				FROM ${db}.events ${runId ? 'WHERE run_id = {run:String}' : ''} GROUP BY run_id
			) AS p ON p.run_id = r.run_id
			LEFT JOIN (
				SELECT run_id, max(shard_count) AS shard_count FROM ${db}.run_shards ${runId ? 'WHERE run_id = {run:String}' : ''} GROUP BY run_id
			) AS sh ON sh.run_id = r.run_id
			LEFT JOIN (
				-- A process's counts are its totals so far: its largest are its last.
				SELECT run_id, ${storedCountColumns.map((c) => `sum(last_${c}) AS total_${c}`).join(', ')} FROM (
					SELECT run_id, ${storedCountColumns.map((c) => `max(${c}) AS last_${c}`).join(', ')}
					FROM ${db}.generator_samples ${runId ? 'WHERE run_id = {run:String}' : ''}
					GROUP BY run_id, generator_id, role, process_id
				) GROUP BY run_id
			) AS rt ON rt.run_id = r.run_id
			ORDER BY r.started_at DESC
			LIMIT {limit:UInt32}`,
			{ limit, ...(runId ? { run: runId } : {}), ...(filter.kind ? { kind: filter.kind } : {}), ...(filter.app ? { app: filter.app } : {}) },
		);
		return rows.map((r) =>
			runInfo(r, {
				participants: Number(r.participants),
				firstMs: r.first_ms,
				lastMs: r.last_ms,
				withheld: withheldTotals([countsFromStored(r)]),
			}),
		);
	}

	async get(runId: string): Promise<RunInfo | undefined> {
		return (await this.list(1, runId))[0];
	}

	/** One run's registry row alone, without reading its events (the run view has them from its own pass). */
	async record(runId: string): Promise<RunRecord | undefined> {
		const db = this.sql.db;
		const [row] = await this.sql.rows<RunRecord>(
			`SELECT ${recordColumns},
				toUInt32((SELECT max(shard_count) FROM ${db}.run_shards WHERE run_id = {run:String})) AS shard_count
			FROM ${db}.runs AS r FINAL WHERE r.run_id = {run:String}`,
			{ run: runId },
		);
		return row;
	}
}

/** A run as the API shows it: its registry row, completed by what its events say. */
export function runInfo(r: RunRecord, events: RunEventSpan): RunInfo {
	const startedAt = Number(r.started_at) || events.firstMs || 0;
	const endedAt = r.ended_at ?? null;
	const end = endedAt ?? (r.status === 'running' ? Date.now() : (events.lastMs ?? startedAt));
	return {
		runId: r.run_id,
		scenario: r.scenario,
		status: r.status,
		statusReason: r.status_reason,
		startedAt,
		endedAt,
		durationMs: Math.max(0, end - startedAt),
		plannedParticipants: r.planned_participants,
		participants: events.participants,
		verdict: parseJson(r.verdict, []),
		config: parseJson(r.config, {}),
		kind: r.kind === 'call' ? 'call' : 'run',
		appId: r.app_id,
		// A run with no shard rows ran on one machine (an unmatched join gives 0, not NULL).
		shards: Math.max(1, Number(r.shard_count)),
		...events.withheld,
	};
}

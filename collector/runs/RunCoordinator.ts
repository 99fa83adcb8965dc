import { ShardReport, type AbortRequest, type RunCoordination, type ShardState } from '../../protocol/shards.ts';
import type { RunStatus, ThresholdResult } from '../../protocol/api.ts';
import { formatDuration } from '../../protocol/durations.ts';
import type { ThresholdExpressions } from '../../protocol/thresholds.ts';
import { DomainError } from '../errors.ts';
import type { Ingest } from '../ingest/Ingest.ts';
import type { ThresholdQueries } from '../queries/ThresholdQueries.ts';
import type { ClickHouseStore, QueryParams } from '../store/ClickHouseStore.ts';
import { parseJson } from '../queries/sql.ts';
import { runShardColumns, type RunShardRow } from '../store/tables.ts';

interface CoordinatedRun {
	runId: string;
	expected: number;
	scenario: string;
	/** When every shard starts; null until all are ready for a start "when all are ready". */
	startAt: number | null;
	/** When the coordinator first heard of the run. */
	firstSeen: number;
	thresholds: ThresholdExpressions;
	shards: Map<number, RunShardRow>;
	abort: RunCoordination['abort'];
	verdict: RunCoordination['verdict'];
	/** The verdict is being computed: reports meanwhile see it pending. */
	deciding: boolean;
	/** When the verdict was reached (or the decided run recalled from the store). */
	decidedAt: number | null;
}

/** A shard silent this long is lost: six heartbeats, and never under 15 s (a GC pause, a slow disk). */
export const lostAfterMs = (heartbeatMs: number): number => Math.max(6 * heartbeatMs, 15_000);
/** A heartbeat row is written at most this often per shard (the coordinator keeps the rest in memory). */
const persistEveryMs = 30_000;
/** Once every shard is ready, the schedule starts this much later (time for every shard to hear it). */
const barrierLeadMs = 3000;
/** A shard that never shows up for a start "when all are ready" (pods still scheduling, images pulling) is lost after this. */
const barrierWaitMs = 15 * 60_000;
/**
 * A decided run stays in memory this long for shards still asking for its verdict; then only
 * the store keeps it (a collector runs for months: runs must not pile up in its memory).
 */
export const decidedKeepMs = 10 * 60_000;

/**
 * The collector's side of a multi-machine run. Shards register, heartbeat and finish here; a
 * shard that stops reporting is declared lost (so is one that never showed up), and the run is
 * then marked invalid rather than passed on part of its load. When every shard has finished or
 * is lost, the thresholds are evaluated once over all the data, and the run registry gets the
 * one verdict. An abort asked by any shard (an abortOnFail threshold failing) is handed to
 * every shard with its next heartbeat.
 */
export class RunCoordinator {
	readonly #runs = new Map<string, CoordinatedRun>();
	readonly #persistedAt = new Map<string, number>();
	#timer: NodeJS.Timeout | undefined;

	private constructor(
		private readonly store: ClickHouseStore,
		private readonly ingest: Ingest,
		private readonly thresholds: ThresholdQueries,
	) {}

	/** Loads the runs still coordinating (their shards get a fresh heartbeat window: the collector was away, not them). */
	static async start(store: ClickHouseStore, ingest: Ingest, thresholds: ThresholdQueries, sweepMs = 1000): Promise<RunCoordinator> {
		const coordinator = new RunCoordinator(store, ingest, thresholds);
		await coordinator.#load(`s.run_id IN (SELECT run_id FROM \`${store.database}\`.runs FINAL WHERE status = 'running')`, {});
		coordinator.#timer = setInterval(() => void coordinator.sweep(), sweepMs);
		coordinator.#timer.unref();
		return coordinator;
	}

	/** Runs in memory now: those coordinating, and those decided less than `decidedKeepMs` ago. */
	get trackedRuns(): number {
		return this.#runs.size;
	}

	/** Tracks the runs of the stored shard rows that `where` selects. */
	async #load(where: string, params: QueryParams): Promise<void> {
		const db = `\`${this.store.database}\``;
		const rows = await this.store.query<RunShardRow>(
			`SELECT s.run_id AS run_id, shard, shard_count, generator, state, s.scenario AS scenario, toUnixTimestamp64Milli(s.started_at) AS started_at,
				planned, joined, failed, heartbeat_ms, thresholds, toUnixTimestamp64Milli(last_seen_at) AS last_seen_at,
				if(isNull(finished_at), NULL, toUnixTimestamp64Milli(assumeNotNull(finished_at))) AS finished_at,
				outcome_status, outcome_reason, abort_reason, toUnixTimestamp64Milli(s.updated_at) AS updated_at
			FROM ${db}.run_shards AS s FINAL
			WHERE ${where}`,
			params,
		);
		const now = Date.now();
		const loaded = new Set<CoordinatedRun>();
		for (const row of rows) {
			const run = this.#track(row.run_id, row.shard_count, row.scenario, row.started_at || undefined, JSON.parse(row.thresholds) as ThresholdExpressions);
			if (!run.shards.has(row.shard)) run.shards.set(row.shard, { ...row, last_seen_at: Math.max(row.last_seen_at, now) });
			loaded.add(run);
		}
		for (const run of loaded) {
			const aborted = [...run.shards.values()].find((s) => s.abort_reason !== '');
			if (aborted && !run.abort) run.abort = { shard: aborted.shard, reason: aborted.abort_reason, at: aborted.updated_at };
		}
	}

	/**
	 * A run not in memory, from the store: a decided one (forgotten after `decidedKeepMs`) comes
	 * back with its verdict, so a late shard or a look at it gets the answer, never a second verdict.
	 */
	async #recall(runId: string): Promise<CoordinatedRun | undefined> {
		await this.#load('s.run_id = {run:String}', { run: runId });
		const run = this.#runs.get(runId);
		if (!run || run.verdict) return run;
		const [registered] = await this.store.query<{ status: RunStatus; status_reason: string; verdict: string }>(
			`SELECT status, status_reason, verdict FROM \`${this.store.database}\`.runs FINAL WHERE run_id = {run:String}`,
			{ run: runId },
		);
		if (registered && registered.status !== 'running' && registered.status !== 'finished') {
			run.verdict = {
				status: registered.status as NonNullable<RunCoordination['verdict']>['status'],
				statusReason: registered.status_reason,
				thresholds: parseJson<ThresholdResult[]>(registered.verdict, []),
			};
			run.decidedAt = Date.now();
		}
		return run;
	}

	/** The run's coordination, from memory or the store. */
	async coordination(runId: string): Promise<RunCoordination> {
		if (!this.#runs.has(runId)) await this.#recall(runId);
		return this.state(runId);
	}

	#track(runId: string, expected: number, scenario: string, startAt: number | undefined, thresholds: ThresholdExpressions): CoordinatedRun {
		let run = this.#runs.get(runId);
		if (!run) {
			run = { runId, expected, scenario, startAt: startAt ?? null, firstSeen: Date.now(), thresholds, shards: new Map(), abort: null, verdict: null, deciding: false, decidedAt: null };
			this.#runs.set(runId, run);
		}
		if (run.startAt === null && startAt !== undefined) run.startAt = startAt;
		return run;
	}

	async report(runId: string, index: number, input: ShardReport): Promise<RunCoordination> {
		const report = ShardReport.parse(input);
		if (index > report.count) throw new DomainError('conflict', `shard ${index} of ${report.count} does not exist`);
		const existing = this.#runs.get(runId) ?? (await this.#recall(runId));
		if (existing && existing.expected !== report.count) {
			throw new DomainError('conflict', `run ${runId} has ${existing.expected} shards; shard ${index} says ${report.count}`);
		}
		const run = this.#track(runId, report.count, report.scenario, report.startedAt, report.thresholds);
		if (run.verdict) return this.state(runId);
		const now = Date.now();
		const previous = run.shards.get(index);
		if (previous?.state === 'lost' && report.state === 'running') {
			// A shard declared lost that comes back has lost part of its load already: it stays lost.
			return this.state(runId);
		}
		const row: RunShardRow = {
			run_id: runId,
			shard: index,
			shard_count: report.count,
			generator: report.generator,
			state: report.state,
			scenario: report.scenario,
			started_at: report.startedAt ?? run.startAt ?? 0,
			planned: report.plannedParticipants,
			joined: report.joined,
			failed: report.failed,
			heartbeat_ms: report.heartbeatMs,
			thresholds: JSON.stringify(report.thresholds),
			last_seen_at: now,
			finished_at: report.state === 'finished' ? now : null,
			outcome_status: report.outcome?.status ?? '',
			outcome_reason: report.outcome?.reason ?? '',
			abort_reason: previous?.abort_reason ?? '',
			updated_at: Math.max(now, (previous?.updated_at ?? 0) + 1),
		};
		run.shards.set(index, row);
		// Everyone is there: the schedule starts shortly, for all at once.
		if (run.startAt === null && run.shards.size === run.expected && [...run.shards.values()].every((s) => s.state === 'ready' || s.state === 'running')) {
			run.startAt = now + barrierLeadMs;
		}
		const key = `${runId}/${index}`;
		if (!previous || previous.state !== row.state || now - (this.#persistedAt.get(key) ?? 0) >= persistEveryMs) {
			await this.#persist(row);
		}
		if (row.state === 'finished') await this.#decideIfDone(run);
		return this.state(runId);
	}

	async abort(runId: string, request: AbortRequest): Promise<RunCoordination> {
		const run = this.#runs.get(runId) ?? (await this.#recall(runId));
		if (!run) throw new DomainError('not_found', `run ${runId} has no shards reporting`);
		if (!run.abort && !run.verdict) {
			const now = Date.now();
			run.abort = { shard: request.shard, reason: request.reason, at: now };
			const shard = run.shards.get(request.shard);
			if (shard) {
				shard.abort_reason = request.reason;
				shard.updated_at = Math.max(now, shard.updated_at + 1);
				await this.#persist(shard);
			}
		}
		return this.state(runId);
	}

	state(runId: string): RunCoordination {
		const run = this.#runs.get(runId);
		if (!run) throw new DomainError('not_found', `run ${runId} has no shards reporting`);
		const shards: ShardState[] = Array.from({ length: run.expected }, (_, i) => {
			const s = run.shards.get(i + 1);
			if (!s) return { index: i + 1, generator: '', state: 'running', plannedParticipants: 0, joined: 0, failed: 0, lastSeenAt: null, finishedAt: null, outcome: null };
			return {
				index: s.shard,
				generator: s.generator,
				state: s.state === 'finished' || s.state === 'lost' || s.state === 'ready' ? s.state : 'running',
				plannedParticipants: s.planned,
				joined: s.joined,
				failed: s.failed,
				lastSeenAt: s.last_seen_at,
				finishedAt: s.finished_at,
				outcome: s.outcome_status ? { status: s.outcome_status as NonNullable<ShardState['outcome']>['status'], reason: s.outcome_reason } : null,
			};
		});
		return { runId, expected: run.expected, shards, startAt: run.startAt, abort: run.abort, verdict: run.verdict };
	}

	/** Declares silent and missing shards lost; decides the runs that are then done. */
	async sweep(now = Date.now()): Promise<void> {
		for (const run of [...this.#runs.values()]) {
			if (run.verdict && now - (run.decidedAt ?? now) > decidedKeepMs) this.#forget(run);
			if (run.verdict || run.deciding) continue;
			let changed = false;
			const heartbeat = Math.max(...[...run.shards.values()].map((s) => s.heartbeat_ms), 1000);
			for (let index = 1; index <= run.expected; index++) {
				const shard = run.shards.get(index);
				const missingFor = run.startAt === null ? now - run.firstSeen - barrierWaitMs : now - run.startAt - 2 * lostAfterMs(heartbeat);
				if ((shard?.state === 'running' || shard?.state === 'ready') && now - shard.last_seen_at > lostAfterMs(shard.heartbeat_ms)) {
					shard.state = 'lost';
					shard.outcome_reason = `no heartbeat for ${formatDuration(now - shard.last_seen_at)}`;
					shard.updated_at = Math.max(now, shard.updated_at + 1);
					await this.#persist(shard).catch(() => undefined);
					changed = true;
				} else if (!shard && missingFor > 0) {
					const missing: RunShardRow = {
						run_id: run.runId,
						shard: index,
						shard_count: run.expected,
						generator: '',
						state: 'lost',
						scenario: run.scenario,
						started_at: run.startAt ?? 0,
						planned: 0,
						joined: 0,
						failed: 0,
						heartbeat_ms: heartbeat,
						thresholds: JSON.stringify(run.thresholds),
						last_seen_at: run.startAt ?? run.firstSeen,
						finished_at: null,
						outcome_status: '',
						outcome_reason: run.startAt === null ? `never reported in ${formatDuration(now - run.firstSeen)}` : `never reported (${formatDuration(now - run.startAt)} after the start)`,
						abort_reason: '',
						updated_at: now,
					};
					run.shards.set(index, missing);
					await this.#persist(missing).catch(() => undefined);
					changed = true;
				}
			}
			if (changed) await this.#decideIfDone(run).catch(() => undefined);
		}
	}

	async #persist(row: RunShardRow): Promise<void> {
		await this.store.insertRows('run_shards', runShardColumns, [row]);
		this.#persistedAt.set(`${row.run_id}/${row.shard}`, Date.now());
	}

	/** Every shard finished or lost: the thresholds over all the data, and the run's one status. */
	async #decideIfDone(run: CoordinatedRun): Promise<void> {
		const shards = [...run.shards.values()];
		// A shard lost before the start leaves the others waiting for it: the run is decided without starting.
		const neverStarts = run.startAt === null && shards.some((s) => s.state === 'lost');
		if (run.verdict || run.deciding || shards.length < run.expected) return;
		if (shards.some((s) => s.state === 'running' || (s.state === 'ready' && !neverStarts))) return;
		run.deciding = true;
		try {
			// What the shards sent last is in the journal: the verdict counts it.
			await this.ingest.writer.flush();
			const thresholds: ThresholdResult[] = Object.keys(run.thresholds).length ? await this.thresholds.evaluate(run.runId, run.thresholds) : [];
			const { status, statusReason } = verdictOf(run, shards, thresholds);
			const endedAt = Math.max(...shards.map((s) => s.finished_at ?? s.last_seen_at));
			const startedAt = run.startAt ?? run.firstSeen;
			await this.ingest.registerRun(run.runId, {
				scenario: run.scenario,
				status,
				statusReason,
				startedAt,
				endedAt: Math.max(endedAt, startedAt),
				plannedParticipants: shards.reduce((n, s) => n + s.planned, 0),
				verdict: thresholds,
			});
			run.verdict = { status, statusReason, thresholds };
			run.decidedAt = Date.now();
		} finally {
			run.deciding = false;
		}
	}

	#forget(run: CoordinatedRun): void {
		this.#runs.delete(run.runId);
		for (const index of run.shards.keys()) this.#persistedAt.delete(`${run.runId}/${index}`);
	}

	close(): void {
		clearInterval(this.#timer);
	}
}

/** The run's status from its shards and the thresholds over all the data. */
export function verdictOf(
	run: { expected: number; abort: RunCoordination['abort'] },
	shards: RunShardRow[],
	thresholds: ThresholdResult[],
): { status: Exclude<RunStatus, 'running' | 'finished'>; statusReason: string } {
	const of = (s: RunShardRow) => `shard ${s.shard} of ${run.expected}`;
	const lost = shards.filter((s) => s.state === 'lost');
	if (lost.length) return { status: 'invalid', statusReason: `${lost.map((s) => `${of(s)} lost (${s.outcome_reason})`).join('; ')}: part of the load never ran` };
	const invalid = shards.filter((s) => s.outcome_status === 'invalid');
	if (invalid.length) return { status: 'invalid', statusReason: invalid.map((s) => `${of(s)}: ${s.outcome_reason}`).join('; ') };
	if (run.abort) return { status: 'failed', statusReason: `${run.abort.reason} (found by shard ${run.abort.shard} of ${run.expected}; every shard stopped)` };
	const interrupted = shards.filter((s) => s.outcome_status === 'interrupted' || s.outcome_status === 'stopped');
	if (interrupted.length) return { status: 'aborted', statusReason: interrupted.map((s) => `${of(s)}: ${s.outcome_reason || s.outcome_status}`).join('; ') };
	return { status: thresholds.every((t) => t.ok) ? 'passed' : 'failed', statusReason: '' };
}

import { EventEmitter } from 'node:events';
import type { RunUpsert } from '../../protocol/api.ts';
import type { TelemetryBatch, TelemetryResponse } from '../../protocol/telemetry.ts';
import type { NormalizedBatch, NormalizeOptions, Normalizer } from '../normalize/Normalizer.ts';
import { RowBinaryWriter } from '../store/columns.ts';
import { tables, type RowOfTable, type RunRow, type TableName } from '../store/tables.ts';
import type { Journal, JournalEntry } from './Journal.ts';
import type { RecentIds } from './RecentIds.ts';
import type { StoreWriter } from './StoreWriter.ts';

export interface IngestEvents {
	/** New data or a new registration for a run: cached answers about it are stale. */
	runchanged: [runId: string];
	/** One batch could not be turned into rows (a bug, never the client's fault alone): it was refused, the rest kept. */
	batchfailed: [info: { batchId: string; error: Error }];
}

export type Rows = { [T in TableName]?: Array<RowOfTable<T>> };

/**
 * A batch with who owns its rows: a load-test batch as sent, or a production call's batch
 * translated by the app ingest (its call as the run, its rows' app, hashed user and retention).
 */
export interface OwnedBatch {
	batch: TelemetryBatch;
	options?: NormalizeOptions;
	/** A run registry row to store with the batch (without one, a new run gets a placeholder load-test row). */
	run?: RunRow;
	/** More rows stored with the batch, atomically (a call's participant record). */
	rows?: Rows;
}

/**
 * Accepts validated batches: drops repeats of a batch id, normalises and encodes the rest, and
 * answers only once their rows are in the journal on disk (durable before acknowledged). A
 * batch id counts as seen only then, so a request that failed (a full disk) never blocks its
 * resend. A run first seen in telemetry gets a placeholder registry row that any explicit
 * registration (PUT /v1/runs/:runId) overrides.
 */
export class Ingest extends EventEmitter<IngestEvents> {
	readonly #knownRuns = new Set<string>();
	/** Batch ids being written now: a concurrent resend waits for the first attempt's outcome. */
	readonly #inFlight = new Map<string, Promise<unknown>>();
	readonly #writers = new Map<TableName, RowBinaryWriter>();

	constructor(
		private readonly journal: Journal,
		readonly writer: StoreWriter,
		private readonly normalizer: Normalizer,
		private readonly seen: RecentIds,
		private readonly keepRawReports: boolean,
	) {
		super();
	}

	rememberRuns(runIds: Iterable<string>): void {
		for (const id of runIds) this.#knownRuns.add(id);
	}

	/** A run whose rows were deleted: if data comes again, it is a new run. */
	forgetRun(runId: string): void {
		this.#knownRuns.delete(runId);
	}

	rememberBatches(batchIds: Iterable<string>): void {
		for (const id of batchIds) this.seen.add(id);
	}

	accept(batches: TelemetryBatch[]): Promise<TelemetryResponse> {
		return this.acceptOwned(batches.map((batch) => ({ batch })));
	}

	async acceptOwned(owned: OwnedBatch[]): Promise<TelemetryResponse> {
		const batches = owned.map((o) => o.batch);
		const response: TelemetryResponse = { accepted: 0, duplicates: 0, samples: 0, events: 0, rejected: [] };
		// A resend racing its first attempt waits for it, then counts as a duplicate if that was kept.
		const racing = batches.map((b) => this.#inFlight.get(b.batchId)).filter((p) => p !== undefined);
		if (racing.length) await Promise.allSettled(racing);

		const taken: TelemetryBatch[] = [];
		const normalized: NormalizedBatch[] = [];
		const rows: Rows = {};
		const newRuns = new Set<string>();
		const ids = new Set<string>();
		for (const { batch, options, run, rows: extra } of owned) {
			if (this.seen.has(batch.batchId) || ids.has(batch.batchId)) {
				response.duplicates++;
				continue;
			}
			let result: NormalizedBatch;
			try {
				result = this.normalizer.normalize(batch, { keepRawReports: this.keepRawReports, ...options });
			} catch (error) {
				this.#refuse(response, batch, error);
				continue;
			}
			ids.add(batch.batchId);
			taken.push(batch);
			normalized.push(result);
			for (const r of result.rejected) response.rejected.push({ batchId: batch.batchId, ...r });
			push(rows, 'samples', result.samples);
			push(rows, 'events', result.events);
			push(rows, 'sfu_samples', result.sfu);
			push(rows, 'generator_samples', result.generator);
			push(rows, 'raw_reports', result.raw);
			push(rows, 'batches', [
				{
					run_id: batch.runId,
					batch_id: batch.batchId,
					ts: Date.now(),
					samples: result.samples.length + result.sfu.length,
					events: result.events.length,
				},
			]);
			for (const [table, list] of Object.entries(extra ?? {}) as Array<[TableName, never[]]>) push(rows, table, list);
			if (run) {
				push(rows, 'runs', [run]);
				newRuns.add(batch.runId);
			} else if (!this.#knownRuns.has(batch.runId) && !newRuns.has(batch.runId)) {
				newRuns.add(batch.runId);
				const firstTs = Math.min(...batch.snapshots.map((s) => s.ts), ...batch.events.map((e) => e.ts), Date.now());
				// updated_at 0: an explicit registration, whenever it lands, replaces this row.
				push(rows, 'runs', [runRow(batch.runId, { startedAt: firstTs }, 0)]);
			}
			response.samples += result.samples.length + result.sfu.length + result.generator.length;
			response.events += result.events.length;
		}
		if (taken.length === 0) return response;

		const written = this.#write({ batchIds: [...ids], tables: this.#encode(rows) });
		for (const id of ids) this.#inFlight.set(id, written);
		try {
			await written;
		} finally {
			for (const id of ids) this.#inFlight.delete(id);
		}
		for (const result of normalized) result.commit();
		for (const id of ids) this.seen.add(id);
		for (const runId of newRuns) this.#knownRuns.add(runId);
		for (const runId of new Set(taken.map((b) => b.runId))) this.emit('runchanged', runId);
		response.accepted = taken.length;
		return response;
	}

	/** Stores a run registration; resolves once it is in the store (or safe on disk while the store is down). */
	async registerRun(runId: string, run: RunUpsert, owner?: RunOwner): Promise<void> {
		const rows: Rows = {};
		push(rows, 'runs', [runRow(runId, run, Date.now(), owner)]);
		await this.#write({ batchIds: [], tables: this.#encode(rows) });
		this.#knownRuns.add(runId);
		await this.writer.flush();
		this.emit('runchanged', runId);
	}

	async #write(entry: JournalEntry): Promise<void> {
		await this.journal.append(entry);
		this.writer.appended();
	}

	/** RowBinary per table; each writer's buffer is reused, so the bytes are copied out. */
	#encode(rows: Rows): JournalEntry['tables'] {
		const out: JournalEntry['tables'] = {};
		for (const [table, list] of Object.entries(rows) as Array<[TableName, Array<Record<string, unknown>>]>) {
			if (list.length === 0) continue;
			let writer = this.#writers.get(table);
			if (!writer) this.#writers.set(table, (writer = new RowBinaryWriter(1 << 20)));
			writer.reset();
			writer.writeRows(tables[table], list as never);
			out[table] = { rows: list.length, data: Buffer.from(writer.bytes()) };
		}
		return out;
	}

	#refuse(response: TelemetryResponse, batch: TelemetryBatch, error: unknown): void {
		const err = error instanceof Error ? error : new Error(String(error));
		response.rejected.push({ batchId: batch.batchId, path: '', message: `batch refused: ${err.message}` });
		this.emit('batchfailed', { batchId: batch.batchId, error: err });
	}
}

function push<T extends TableName>(rows: Rows, table: T, list: Array<RowOfTable<T>>): void {
	if (list.length === 0) return;
	const target = (rows[table] ??= []) as Array<RowOfTable<T>>;
	for (const row of list) target.push(row);
}

/** Whose run: a load test, or a production call of an app. */
export interface RunOwner {
	kind: 'run' | 'call';
	appId: string;
}

export function runRow(runId: string, run: RunUpsert, updatedAt: number, owner: RunOwner = { kind: 'run', appId: '' }): RunRow {
	return {
		run_id: runId,
		scenario: run.scenario ?? '',
		status: run.status ?? 'running',
		status_reason: run.statusReason ?? '',
		started_at: run.startedAt,
		ended_at: run.endedAt ?? null,
		planned_participants: run.plannedParticipants ?? 0,
		config: JSON.stringify(run.config ?? {}),
		verdict: JSON.stringify(run.verdict ?? []),
		updated_at: updatedAt,
		kind: owner.kind,
		app_id: owner.appId,
	};
}

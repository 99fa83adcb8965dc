import { EventEmitter } from 'node:events';
import type { RunUpsert } from '../../protocol/api.ts';
import type { TelemetryBatch, TelemetryResponse } from '../../protocol/telemetry.ts';
import type { Normalizer } from '../normalize/Normalizer.ts';
import type { RowOfTable, RunRow, TableName } from '../store/tables.ts';
import { BatchPreparer, type EncodedRows, type OwnedBatch, type PreparedBatch, type Rows } from './BatchPreparer.ts';
import type { Journal, JournalEntry } from './Journal.ts';
import type { RecentIds } from './RecentIds.ts';
import type { StoreWriter } from './StoreWriter.ts';

export interface IngestEvents {
	/** New data or a new registration for a run: cached answers about it are stale. */
	runchanged: [runId: string];
	/** One batch could not be turned into rows (a bug, never the client's fault alone): it was refused, the rest kept. */
	batchfailed: [info: { batchId: string; error: Error }];
}

export type { OwnedBatch, Rows } from './BatchPreparer.ts';

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
	readonly #preparer: BatchPreparer;

	constructor(
		private readonly journal: Journal,
		readonly writer: StoreWriter,
		normalizer: Normalizer,
		private readonly seen: RecentIds,
		keepRawReports: boolean,
	) {
		super();
		this.#preparer = new BatchPreparer(normalizer, keepRawReports);
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

	acceptOwned(owned: OwnedBatch[]): Promise<TelemetryResponse> {
		return this.acceptPrepared(owned.map((o) => this.prepare(o)));
	}

	/** Normalises and encodes a batch on this thread, with the counters this collector remembers. */
	prepare(owned: OwnedBatch): PreparedBatch {
		return this.#preparer.prepare(owned);
	}

	/** Adds rows made on this thread (a call's registry and participant rows) to a batch a worker prepared. */
	attach(prepared: PreparedBatch, own: Pick<OwnedBatch, 'run' | 'rows'>): PreparedBatch {
		return this.#preparer.attach(prepared, own);
	}

	/** Stores batches already normalised and encoded (by this thread or a worker). */
	async acceptPrepared(batches: PreparedBatch[]): Promise<TelemetryResponse> {
		const response: TelemetryResponse = { accepted: 0, duplicates: 0, samples: 0, events: 0, rejected: [] };
		// A resend racing its first attempt waits for it, then counts as a duplicate if that was kept.
		const racing = batches.map((b) => this.#inFlight.get(b.batchId)).filter((p) => p !== undefined);
		if (racing.length) await Promise.allSettled(racing);

		const taken: PreparedBatch[] = [];
		const gathered: Gathered = new Map();
		const rows: Rows = {};
		const newRuns = new Set<string>();
		const ids = new Set<string>();
		for (const prepared of batches) {
			if (this.seen.has(prepared.batchId) || ids.has(prepared.batchId)) {
				response.duplicates++;
				continue;
			}
			if (prepared.failure !== undefined) {
				this.#refuse(response, prepared.batchId, new Error(prepared.failure));
				continue;
			}
			ids.add(prepared.batchId);
			taken.push(prepared);
			for (const r of prepared.rejected) response.rejected.push({ batchId: prepared.batchId, ...r });
			gather(gathered, prepared.tables);
			push(rows, 'batches', [
				{ run_id: prepared.runId, batch_id: prepared.batchId, ts: Date.now(), samples: prepared.streamSamples, events: prepared.events },
			]);
			if (prepared.ownRun) {
				newRuns.add(prepared.runId);
			} else if (!this.#knownRuns.has(prepared.runId) && !newRuns.has(prepared.runId)) {
				newRuns.add(prepared.runId);
				// updated_at 0: an explicit registration, whenever it lands, replaces this row.
				push(rows, 'runs', [runRow(prepared.runId, { startedAt: prepared.firstTs }, 0)]);
			}
			response.samples += prepared.streamSamples + prepared.generatorSamples;
			response.events += prepared.events;
		}
		if (taken.length === 0) return response;

		gather(gathered, this.#preparer.encode(rows));
		const runIds = [...new Set(taken.map((b) => b.runId))];
		const written = this.#write({ batchIds: [...ids], tables: journalTables(gathered), runIds });
		for (const id of ids) this.#inFlight.set(id, written);
		try {
			await written;
		} finally {
			for (const id of ids) this.#inFlight.delete(id);
		}
		for (const prepared of taken) prepared.commit?.();
		for (const id of ids) this.seen.add(id);
		for (const runId of newRuns) this.#knownRuns.add(runId);
		for (const runId of runIds) this.emit('runchanged', runId);
		response.accepted = taken.length;
		return response;
	}

	/** Stores a run registration; resolves once it is in the store (or safe on disk while the store is down). */
	async registerRun(runId: string, run: RunUpsert, owner?: RunOwner): Promise<void> {
		const rows: Rows = {};
		push(rows, 'runs', [runRow(runId, run, Date.now(), owner)]);
		await this.#write({ batchIds: [], tables: journalTables(gather(new Map(), this.#preparer.encode(rows))), runIds: [runId] });
		this.#knownRuns.add(runId);
		await this.writer.flush();
		this.emit('runchanged', runId);
	}

	async #write(entry: JournalEntry): Promise<void> {
		await this.journal.append(entry);
		this.writer.appended();
	}

	#refuse(response: TelemetryResponse, batchId: string, error: Error): void {
		response.rejected.push({ batchId, path: '', message: `batch refused: ${error.message}` });
		this.emit('batchfailed', { batchId, error });
	}
}

/** A request's encoded rows per table, gathered batch by batch and concatenated once, at the end. */
type Gathered = Map<TableName, { rows: number; parts: Uint8Array[] }>;

function gather(gathered: Gathered, tables: Partial<Record<TableName, EncodedRows>>): Gathered {
	for (const [table, encoded] of Object.entries(tables) as Array<[TableName, EncodedRows]>) {
		const entry = gathered.get(table);
		if (entry) {
			entry.rows += encoded.rows;
			entry.parts.push(encoded.data);
		} else gathered.set(table, { rows: encoded.rows, parts: [encoded.data] });
	}
	return gathered;
}

function journalTables(gathered: Gathered): JournalEntry['tables'] {
	const out: JournalEntry['tables'] = {};
	for (const [table, { rows, parts }] of gathered) {
		const only = parts.length === 1 ? parts[0]! : undefined;
		out[table] = { rows, data: only ? Buffer.from(only.buffer, only.byteOffset, only.byteLength) : Buffer.concat(parts) };
	}
	return out;
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

import { EventEmitter } from 'node:events';
import { isPoisonError, type ClickHouseStore } from '../store/ClickHouseStore.ts';
import { migrations } from '../store/schema.ts';
import { tableNames, type TableName } from '../store/tables.ts';
import type { Journal, SealedSegment } from './Journal.ts';

export interface StoreWriterOptions {
	/** Seal and insert when the active journal segment holds this many rows. */
	flushRows: number;
	/** ...or when its first row is this old. */
	flushIntervalMs: number;
	/** Above this many rows waiting for the store, new telemetry is refused (429) until it catches up. */
	maxPendingRows: number;
	/** Above this much journal on disk, new telemetry is refused too. */
	maxJournalBytes: number;
}

export interface StoreWriterEvents {
	/** A segment is in the store; `runIds` are the runs its rows belong to (undefined: not known, a segment an earlier process left). */
	flushed: [info: { segment: string; rows: number; bytes: number; ms: number; runIds: ReadonlySet<string> | undefined }];
	/** The store failed: sealed segments stay on disk until it is back. */
	degraded: [error: Error];
	/** Every waiting segment is stored again. */
	recovered: [info: { segments: number; bytes: number }];
	quarantined: [info: { segment: string; table: TableName; error: Error }];
}

/** Rows of the run registry and batch ids go last: a stored batch id means its rows are stored. */
const insertOrder: TableName[] = [...tableNames.filter((t) => t !== 'batches'), 'batches'];
const schemaVersion = migrations.at(-1)!.version;

/**
 * Moves journal segments into the store. The active segment is sealed by size or age; sealed
 * segments are inserted in order, each table in one RowBinary insert whose deduplication token
 * names the segment, so a segment inserted again (after a crash between the insert and the
 * file's removal) is not stored twice. When the store fails, segments wait on disk and a retry
 * loop with backoff replays them.
 */
export class StoreWriter extends EventEmitter<StoreWriterEvents> {
	readonly #backlog: SealedSegment[];
	#chain: Promise<void> = Promise.resolve();
	#timer: NodeJS.Timeout | undefined;
	#retryTimer: NodeJS.Timeout | undefined;
	#retryDelayMs = 500;
	#degraded = false;
	#closed = false;
	#recoveredSegments = 0;
	#recoveredBytes = 0;

	constructor(
		private readonly store: ClickHouseStore,
		private readonly journal: Journal,
		private readonly options: StoreWriterOptions,
		recovered: SealedSegment[] = [],
	) {
		super();
		this.#backlog = [...recovered];
		if (this.#backlog.length > 0) this.#chain = this.#chain.then(() => this.#drain());
	}

	/** Rows accepted (on disk) and not yet in the store. */
	get pendingRows(): number {
		return this.journal.activeRows + this.#backlog.reduce((n, s) => n + s.rows, 0);
	}

	get degraded(): boolean {
		return this.#degraded;
	}

	/** Sealed segments waiting for the store. */
	get backlogSegments(): number {
		return this.#backlog.length;
	}

	/** Whether new telemetry can be taken now. */
	hasRoom(): boolean {
		return this.pendingRows < this.options.maxPendingRows && this.journal.bytes < this.options.maxJournalBytes;
	}

	/** Called after each journal append: seals by size, or arms the age timer. */
	appended(): void {
		if (this.#closed) return;
		if (this.journal.activeRows >= this.options.flushRows) void this.flush();
		else this.#timer ??= setTimeout(() => void this.flush(), this.options.flushIntervalMs);
	}

	/**
	 * Seals what the journal holds and tries to store everything waiting. Resolves when that
	 * attempt is over: the rows are in the store, or (store down) still safe on disk.
	 */
	flush(): Promise<void> {
		clearTimeout(this.#timer);
		this.#timer = undefined;
		const done = this.#chain.then(async () => {
			const sealed = await this.journal.seal();
			if (sealed) {
				if (this.#degraded) sealed.entries = undefined;
				this.#backlog.push(sealed);
			}
			if (!this.#degraded) await this.#drain();
		});
		this.#chain = done.catch(() => undefined);
		return this.#chain;
	}

	/** Flushes, then stops the timers; what the store did not take stays in the journal for the next start. */
	async close(): Promise<void> {
		await this.flush();
		this.#closed = true;
		clearTimeout(this.#timer);
		clearTimeout(this.#retryTimer);
		await this.journal.close();
	}

	async #drain(): Promise<void> {
		while (this.#backlog.length > 0) {
			const segment = this.#backlog[0]!;
			const started = performance.now();
			const failure = await this.#insert(segment);
			if (failure === 'retry') {
				// Keep memory for new data, not for what is safe on disk.
				for (const s of this.#backlog) s.entries = undefined;
				this.#scheduleRetry();
				return;
			}
			this.#backlog.shift();
			if (failure === 'quarantined') await this.journal.quarantine(segment);
			else await this.journal.remove(segment);
			if (this.#degraded) {
				this.#recoveredSegments++;
				this.#recoveredBytes += segment.bytes;
			}
			this.emit('flushed', { segment: segment.name, rows: segment.rows, bytes: segment.bytes, ms: performance.now() - started, runIds: segment.runIds });
		}
		if (this.#degraded) {
			this.#degraded = false;
			this.#retryDelayMs = 500;
			this.emit('recovered', { segments: this.#recoveredSegments, bytes: this.#recoveredBytes });
			this.#recoveredSegments = 0;
			this.#recoveredBytes = 0;
		}
	}

	/** Inserts every table of a segment; says whether to retry later or set it aside. */
	async #insert(segment: SealedSegment): Promise<'ok' | 'retry' | 'quarantined'> {
		let table: TableName = insertOrder[0]!;
		try {
			// Without its own layout (an older journal), a segment is only readable by the schema it was written for.
			if (!segment.layout && segment.schemaVersion !== schemaVersion) throw new PoisonSegment(`written for schema v${segment.schemaVersion}, the store has v${schemaVersion}`);
			const entries = segment.entries ?? (await this.journal.read(segment));
			for (table of insertOrder) {
				const parts = entries.map((e) => e.tables[table]?.data).filter((d): d is Buffer => d !== undefined && d.length > 0);
				if (parts.length === 0) continue;
				const data = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
				await this.store.insertRowBinary(table, data, `${segment.name}/${table}`, segment.layout?.[table]);
			}
			return 'ok';
		} catch (error) {
			const err = error instanceof Error ? error : new Error(String(error));
			if (error instanceof PoisonSegment || isPoisonError(error)) {
				this.emit('quarantined', { segment: segment.name, table, error: err });
				return 'quarantined';
			}
			if (!this.#degraded) this.emit('degraded', err);
			this.#degraded = true;
			return 'retry';
		}
	}

	#scheduleRetry(): void {
		if (this.#closed || this.#retryTimer) return;
		this.#retryTimer = setTimeout(() => {
			this.#retryTimer = undefined;
			this.#chain = this.#chain
				.then(async () => {
					if (await this.store.ping()) await this.#drain();
					else this.#scheduleRetry();
				})
				.catch(() => this.#scheduleRetry());
			this.#retryDelayMs = Math.min(this.#retryDelayMs * 2, 10_000);
		}, this.#retryDelayMs);
		this.#retryTimer.unref?.();
	}
}

class PoisonSegment extends Error {}

import { EventEmitter } from 'node:events';
import { isPoisonError, type ClickHouseStore } from '../store/ClickHouseStore.ts';
import { RowBinaryWriter } from '../store/columns.ts';
import { tables, type RowOfTable, type TableName } from '../store/tables.ts';
import type { Spool } from './Spool.ts';

export interface WriteQueueOptions {
	/** Flush when this many rows wait. */
	flushRows: number;
	/** ...or when the oldest waiting row is this old. */
	flushIntervalMs: number;
	/** Above this many waiting rows, new telemetry is refused (429) until a flush catches up. */
	maxPendingRows: number;
	/** Above this much spooled data, new telemetry is refused too. */
	maxSpoolBytes: number;
}

export interface WriteQueueEvents {
	flushed: [info: { rows: number; bytes: number; ms: number; spooled: boolean }];
	/** The store failed: payloads go to the spool until it is back. */
	degraded: [error: Error];
	/** The spool is drained into the store again. */
	recovered: [info: { files: number; bytes: number }];
	quarantined: [info: { table: TableName; error: Error }];
}

type Pending = { [T in TableName]: Array<RowOfTable<T>> };
const emptyPending = (): Pending => ({ samples: [], events: [], sfu_samples: [], batches: [], raw_reports: [], runs: [] });

/**
 * Batches rows per table and writes them in few large RowBinary inserts. When the store fails,
 * payloads go to the disk spool (in order) and a retry loop replays them once it answers, so
 * rows accepted here are never dropped.
 */
export class WriteQueue extends EventEmitter<WriteQueueEvents> {
	#pending = emptyPending();
	#pendingRows = 0;
	#flushing: Promise<void> = Promise.resolve();
	#timer: NodeJS.Timeout | undefined;
	#retryTimer: NodeJS.Timeout | undefined;
	#degraded = false;
	#closed = false;
	#retryDelayMs = 500;
	readonly #writer = new RowBinaryWriter(8 << 20);

	constructor(
		private readonly store: ClickHouseStore,
		private readonly spool: Spool,
		private readonly options: WriteQueueOptions,
	) {
		super();
		if (spool.files > 0) this.#degrade(new Error('spool has data from an earlier run'));
	}

	get pendingRows(): number {
		return this.#pendingRows;
	}

	get degraded(): boolean {
		return this.#degraded;
	}

	/** Whether new telemetry can be taken now. */
	hasRoom(): boolean {
		return this.#pendingRows < this.options.maxPendingRows && this.spool.bytes < this.options.maxSpoolBytes;
	}

	add<T extends TableName>(table: T, rows: Array<RowOfTable<T>>): void {
		if (rows.length === 0) return;
		const target = this.#pending[table] as Array<RowOfTable<T>>;
		for (const row of rows) target.push(row);
		this.#pendingRows += rows.length;
		if (this.#pendingRows >= this.options.flushRows) void this.flush();
		else this.#timer ??= setTimeout(() => void this.flush(), this.options.flushIntervalMs);
	}

	/** Writes everything added so far (to the store, or to the spool when it is down). */
	flush(): Promise<void> {
		this.#flushing = this.#flushing.then(() => this.#flushNow());
		return this.#flushing;
	}

	async close(): Promise<void> {
		this.#closed = true;
		clearTimeout(this.#retryTimer);
		await this.flush();
		clearTimeout(this.#timer);
	}

	async #flushNow(): Promise<void> {
		clearTimeout(this.#timer);
		this.#timer = undefined;
		if (this.#pendingRows === 0) return;
		const batch = this.#pending;
		const rows = this.#pendingRows;
		this.#pending = emptyPending();
		this.#pendingRows = 0;
		const started = performance.now();
		let bytes = 0;
		let spooled = false;
		for (const table of Object.keys(batch) as TableName[]) {
			const tableRows = batch[table];
			if (tableRows.length === 0) continue;
			this.#writer.reset();
			this.#writer.writeRows(tables[table], tableRows as Array<RowOfTable<typeof table>>);
			const data = Buffer.from(this.#writer.bytes());
			bytes += data.length;
			if (this.#degraded) {
				await this.spool.write(table, data);
				spooled = true;
				continue;
			}
			try {
				await this.store.insertRowBinary(table, data);
			} catch (error) {
				const err = error instanceof Error ? error : new Error(String(error));
				if (isPoisonError(error)) {
					this.emit('quarantined', { table, error: err });
					continue;
				}
				await this.spool.write(table, data);
				spooled = true;
				this.#degrade(err);
			}
		}
		this.emit('flushed', { rows, bytes, ms: performance.now() - started, spooled });
	}

	#degrade(error: Error): void {
		if (!this.#degraded) this.emit('degraded', error);
		this.#degraded = true;
		this.#scheduleRetry();
	}

	#scheduleRetry(): void {
		if (this.#closed || this.#retryTimer) return;
		this.#retryTimer = setTimeout(() => {
			this.#retryTimer = undefined;
			this.#flushing = this.#flushing.then(() => this.#replay());
		}, this.#retryDelayMs);
	}

	async #replay(): Promise<void> {
		if (!this.#degraded) return;
		const result = (await this.store.ping()) ? await this.spool.replay(this.store) : undefined;
		if (result && !result.stoppedBy && this.spool.files === 0) {
			this.#degraded = false;
			this.#retryDelayMs = 500;
			this.emit('recovered', { files: result.files, bytes: result.bytes });
			return;
		}
		this.#retryDelayMs = Math.min(this.#retryDelayMs * 2, 10_000);
		this.#scheduleRetry();
	}
}

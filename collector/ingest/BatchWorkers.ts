import { EventEmitter } from 'node:events';
import { Worker } from 'node:worker_threads';
import type { ApiError } from '../../protocol/api.ts';
import type { TelemetryBatch } from '../../protocol/telemetry.ts';
import type { AppBatch, CallPart } from '../apps/AppBatch.ts';
import { HttpError } from '../http.ts';
import type { AppRow } from '../store/tables.ts';
import type { PreparedBatch } from './BatchPreparer.ts';

export interface BatchWorkerData {
	defaults: { retentionDays: number; rawRetentionDays: number };
	keepRawReports: boolean;
}

export interface BatchWorkerJob {
	id: number;
	body: Uint8Array;
	/** A page's request (the monitoring SDK's) rather than the load generator's. */
	app?: AppJob;
	/** Added to every time of the request: its sender's clock is this far behind the collector's (senderClockShift). */
	clockShiftMs?: number;
}

/** The app a page's request was posted for (its ingest key already checked), and the request's user agent. */
export interface AppJob {
	row: AppRow;
	userAgent?: string;
}

export type BatchWorkerResult =
	| ({ id: number; ok: true } & WorkedBody)
	| { id: number; ok: false; statusCode: number; code: string; message: string; issues?: ApiError['issues'] };

export interface BatchWorkersEvents {
	/** A worker died; its requests were answered with an error (nothing of them kept) and a new one started. */
	workerexit: [info: { error: Error }];
}

/** Whether these bytes are the whole of their ArrayBuffer: only then can it move to another thread. */
export function ownsItsMemory(bytes: Uint8Array): bytes is Uint8Array<ArrayBuffer> {
	return bytes.buffer instanceof ArrayBuffer && bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength;
}

/** A batch a worker normalised and encoded; a page's carries its call (its rows are added on the collector's thread). */
export type WorkedBatch = PreparedBatch & { call?: CallPart };

/**
 * A batch as sent (the load generator's) or translated (a page's, with its options and call).
 * Without a baseline it goes back as such: normalised where the counters are remembered, the
 * collector's own thread.
 */
export type RememberedBatch = { batch: TelemetryBatch } & Partial<AppBatch>;

/** What a worker made of a request body. */
export interface WorkedBody {
	prepared: WorkedBatch[];
	remembered: RememberedBatch[];
	/** A page's batches of calls outside the app's monitored share (not stored). */
	notSampled: number;
}

interface Slot {
	worker: Worker;
	pending: Map<number, { resolve: (result: WorkedBody) => void; reject: (error: Error) => void }>;
}

/**
 * Worker threads that parse, validate, normalise and encode telemetry request bodies, so that
 * ingest uses every core and the collector's own thread stays free for the dashboard's queries
 * (a 3.8 MB request of 200 bots took 100–300 ms of it). Each body goes to the worker with the fewest
 * bodies in hand. A worker that dies fails only the requests it held (answered as not kept,
 * so their senders retry) and is replaced.
 */
export class BatchWorkers extends EventEmitter<BatchWorkersEvents> {
	readonly #slots: Slot[] = [];
	#nextId = 1;
	#closed = false;

	constructor(
		readonly size: number,
		private readonly data: BatchWorkerData,
	) {
		super();
		for (let i = 0; i < size; i++) this.#slots.push(this.#start());
	}

	/** Request bodies the workers hold now. */
	get inHand(): number {
		return this.#slots.reduce((n, slot) => n + slot.pending.size, 0);
	}

	/** The threads, for diagnostics. */
	get threads(): readonly Worker[] {
		return this.#slots.map((slot) => slot.worker);
	}

	/** Parses, validates and prepares one request body (400 as an HttpError naming the field). */
	run(body: Buffer, { app, clockShiftMs = 0 }: { app?: AppJob; clockShiftMs?: number } = {}): Promise<WorkedBody> {
		if (this.#closed) return Promise.reject(new Error('the ingest workers are closed'));
		const slot = this.#slots.reduce((a, b) => (b.pending.size < a.pending.size ? b : a));
		const id = this.#nextId++;
		return new Promise<WorkedBody>((resolve, reject) => {
			slot.pending.set(id, { resolve, reject });
			// A body in a memory block of its own moves to the worker instead of being copied there (nothing
			// here reads it again); a small one shares Node's pool block with other buffers, so it is copied.
			slot.worker.postMessage({ id, body, ...(app ? { app } : {}), ...(clockShiftMs ? { clockShiftMs } : {}) } satisfies BatchWorkerJob, ownsItsMemory(body) ? [body.buffer] : []);
		});
	}

	async close(): Promise<void> {
		this.#closed = true;
		await Promise.all(this.#slots.map((slot) => slot.worker.terminate()));
	}

	#start(): Slot {
		const worker = new Worker(new URL('./batchWorker.boot.js', import.meta.url), { workerData: this.data, execArgv: [] });
		const slot: Slot = { worker, pending: new Map() };
		worker.on('message', (result: BatchWorkerResult) => {
			const job = slot.pending.get(result.id);
			if (!job) return;
			slot.pending.delete(result.id);
			if (result.ok) job.resolve({ prepared: result.prepared, remembered: result.remembered, notSampled: result.notSampled });
			else job.reject(new HttpError(result.statusCode, result.code, result.message, result.issues));
		});
		const died = (error: Error) => {
			const index = this.#slots.indexOf(slot);
			if (index < 0) return;
			for (const job of slot.pending.values()) job.reject(error);
			slot.pending.clear();
			if (this.#closed) return;
			this.#slots[index] = this.#start();
			this.emit('workerexit', { error });
		};
		worker.on('error', died);
		worker.on('exit', (code) => died(new Error(`an ingest worker exited (code ${code})`)));
		worker.unref();
		return slot;
	}
}

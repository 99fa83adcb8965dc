import { EventEmitter } from 'node:events';
import type { ObjectBatchInput, TelemetryBatchInput } from '../../protocol/telemetry.ts';
import { BaselineKeeper } from '../../protocol/baseline.ts';
import { compactBatch, type TelemetryFormat } from '../../protocol/compact.ts';
import { CollectorError, type CollectorClient } from '../CollectorClient.ts';

export interface TelemetrySenderOptions {
	flushIntervalMs: number;
	/** Batches per request (every bot's batch of an interval usually fits one request). */
	maxBatchesPerRequest: number;
	/** Batches kept while the collector cannot take them; the oldest go first beyond this. */
	maxBufferedBatches: number;
	/**
	 * objects (default): stats objects as getStats gives them; compact: rows under the batch's
	 * columns (protocol/compact.ts): 25–48 % fewer bytes, twice the time to encode.
	 */
	format?: TelemetryFormat;
}

export interface TelemetrySenderEvents {
	/** A request was refused or failed; it is retried (same batch ids, so never stored twice). */
	retry: [error: Error];
	dropped: [count: number, reason: string];
	rejected: [info: { batchId: string; path: string; message: string }];
}

/**
 * Sends bots' telemetry batches to the collector, many bots per request. On 429 it waits
 * Retry-After, on errors it backs off, and it keeps the batches meanwhile: a batch leaves the
 * buffer only once the collector accepted it.
 */
export class TelemetrySender extends EventEmitter<TelemetrySenderEvents> {
	#buffer: TelemetryBatchInput[] = [];
	/** Each sender's previous snapshots: every batch carries its own baseline (stateless collectors). */
	readonly #baselines = new BaselineKeeper();
	#timer: NodeJS.Timeout | undefined;
	#sending: Promise<void> = Promise.resolve();
	#backoffUntil = 0;
	#rejectedReported = 0;
	sentBatches = 0;
	sentSamples = 0;

	constructor(
		private readonly client: CollectorClient,
		private readonly options: TelemetrySenderOptions,
	) {
		super();
	}

	get buffered(): number {
		return this.#buffer.length;
	}

	start(): void {
		this.#timer ??= setInterval(() => void this.flush(false), this.options.flushIntervalMs);
	}

	push(batch: ObjectBatchInput): void {
		if (!batch.baseline?.length && batch.snapshots?.length) {
			const baseline = this.#baselines.take(`${batch.runId}\u0000${batch.source.botId}\u0000${batch.source.peerId}`, batch.snapshots);
			if (baseline.length) batch = { ...batch, baseline };
		}
		this.#buffer.push(this.options.format === 'compact' ? compactBatch(batch) : batch);
		const excess = this.#buffer.length - this.options.maxBufferedBatches;
		if (excess > 0) {
			this.#buffer.splice(0, excess);
			this.emit('dropped', excess, 'telemetry buffer full (collector unreachable for long)');
		}
	}

	/** Sends what is buffered; with `untilEmpty`, keeps retrying up to `timeoutMs`. */
	flush(untilEmpty = true, timeoutMs = 30_000): Promise<void> {
		this.#sending = this.#sending.then(() => this.#send(untilEmpty, Date.now() + timeoutMs));
		return this.#sending;
	}

	async close(timeoutMs = 30_000): Promise<void> {
		clearInterval(this.#timer);
		this.#timer = undefined;
		await this.flush(true, timeoutMs);
		if (this.#buffer.length > 0) {
			this.emit('dropped', this.#buffer.length, 'collector did not take them before shutdown');
			this.#buffer = [];
		}
	}

	async #send(untilEmpty: boolean, deadline: number): Promise<void> {
		while (this.#buffer.length > 0) {
			const wait = this.#backoffUntil - Date.now();
			if (wait > 0) {
				if (!untilEmpty || Date.now() + wait > deadline) return;
				await new Promise((r) => setTimeout(r, wait));
			}
			const request = this.#buffer.slice(0, this.options.maxBatchesPerRequest);
			try {
				const reply = await this.client.postTelemetry(request);
				this.#buffer.splice(0, request.length);
				this.sentBatches += reply.accepted + reply.duplicates;
				this.sentSamples += reply.samples;
				for (const rejected of reply.rejected) {
					// One report per problem kind is enough to see it; a bad field repeats every interval.
					if (this.#rejectedReported++ < 5) this.emit('rejected', rejected);
				}
			} catch (error) {
				const err = error instanceof Error ? error : new Error(String(error));
				if (error instanceof CollectorError && error.status === 400) {
					this.#buffer.splice(0, request.length);
					this.emit('dropped', request.length, err.message);
					continue;
				}
				const delay = error instanceof CollectorError && error.retryAfterMs ? error.retryAfterMs : 1000;
				this.#backoffUntil = Date.now() + delay;
				this.emit('retry', err);
				if (!untilEmpty || Date.now() > deadline) return;
			}
		}
	}
}

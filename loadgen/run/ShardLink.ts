import { EventEmitter } from 'node:events';
import type { RunCoordination, ShardOutcome, ShardReport } from '../../protocol/shards.ts';
import type { CollectorClient } from '../CollectorClient.ts';
import type { Shard } from '../schedule/slots.ts';

export interface ShardLinkEvents {
	/** Another shard (or this one) asked every shard to stop. */
	abort: [abort: NonNullable<RunCoordination['abort']>];
	/** A heartbeat could not be delivered (the collector is away); the shard keeps running. */
	unreachable: [error: Error];
}

type Base = Omit<ShardReport, 'state' | 'joined' | 'failed' | 'outcome' | 'startedAt'>;

/**
 * One shard's line to the collector's coordinator: it registers, heartbeats with its counts
 * (and learns of an abort from the answer), asks for an abort, reports its end, and waits for
 * the run's one verdict.
 */
export class ShardLink extends EventEmitter<ShardLinkEvents> {
	#timer: NodeJS.Timeout | undefined;
	#abortSeen = false;
	#startAt: number | undefined;

	constructor(
		private readonly client: CollectorClient,
		private readonly runId: string,
		private readonly shard: Shard,
		private readonly base: Base,
		private readonly counts: () => { joined: number; failed: number },
	) {
		super();
	}

	get heartbeatMs(): number {
		return this.base.heartbeatMs ?? 5000;
	}

	/**
	 * A start "when all are ready": reports ready until every shard is, and returns the start
	 * time the coordinator set for all. Throws when the run was decided meanwhile (a shard lost)
	 * or the time is up.
	 */
	async ready(timeoutMs: number, onWait?: (state: RunCoordination) => void): Promise<number> {
		const deadline = Date.now() + timeoutMs;
		for (;;) {
			const state = await this.#report('ready');
			if (state.verdict) throw new Error(`run ${this.runId} ended before it started: ${state.verdict.statusReason}`);
			if (state.startAt !== null) return state.startAt;
			if (Date.now() > deadline) throw new Error(`not every shard of run ${this.runId} was ready within ${Math.round(timeoutMs / 1000)} s`);
			onWait?.(state);
			await new Promise((resolve) => setTimeout(resolve, 1000));
		}
	}

	/** Registers the shard as running from `startAt` (a refusal, e.g. a different shard count, throws), then heartbeats. */
	async start(startAt: number): Promise<void> {
		this.#startAt = startAt;
		this.#seen(await this.#report('running'));
		this.#timer = setInterval(() => {
			this.#report('running').then(
				(state) => this.#seen(state),
				(error: unknown) => this.emit('unreachable', error instanceof Error ? error : new Error(String(error))),
			);
		}, this.heartbeatMs);
		this.#timer.unref();
	}

	async requestAbort(reason: string): Promise<void> {
		this.#seen(await this.client.abortRun(this.runId, { shard: this.shard.index, reason }));
	}

	/** Reports this shard done, with how its part ended. */
	async finish(outcome: ShardOutcome): Promise<RunCoordination> {
		clearInterval(this.#timer);
		return this.#report('finished', outcome);
	}

	/** Polls until the coordinator has the verdict (every shard finished or lost), or the time is up. */
	async verdict(timeoutMs: number, onWait?: (state: RunCoordination) => void): Promise<RunCoordination> {
		const deadline = Date.now() + timeoutMs;
		for (;;) {
			const state = await this.client.coordination(this.runId).catch(() => undefined);
			if (state?.verdict || Date.now() > deadline) {
				if (state) return state;
				throw new Error(`the collector did not answer about run ${this.runId}`);
			}
			onWait?.(state!);
			await new Promise((resolve) => setTimeout(resolve, 1000));
		}
	}

	stop(): void {
		clearInterval(this.#timer);
	}

	#report(state: ShardReport['state'], outcome?: ShardOutcome): Promise<RunCoordination> {
		return this.client.reportShard(this.runId, this.shard.index, {
			...this.base,
			state,
			...(this.#startAt !== undefined ? { startedAt: this.#startAt } : {}),
			...this.counts(),
			...(outcome ? { outcome } : {}),
		});
	}

	#seen(state: RunCoordination): void {
		if (state.abort && !this.#abortSeen) {
			this.#abortSeen = true;
			this.emit('abort', state.abort);
		}
	}
}

import { EventEmitter } from 'node:events';
import type { Mediasoup, types } from './mediasoup.ts';

export interface WorkerSlot {
	readonly index: number;
	worker: types.Worker;
	/** Peers in rooms on this worker: the load figure new rooms are placed by. */
	peers: number;
	rooms: number;
}

export interface WorkerPoolEvents {
	/** A worker process died; its routers (and so its rooms) are gone. */
	workerdied: [slot: WorkerSlot, error: Error];
	/** A replacement worker is up in the slot of one that died. */
	workerreplaced: [slot: WorkerSlot];
	/** A replacement could not be started: the slot is lost. */
	respawnfailed: [slot: WorkerSlot, error: Error];
}

export interface WorkerPoolOptions {
	count: number;
	rtcMinPort: number;
	rtcMaxPort: number;
	logLevel: 'debug' | 'warn' | 'error' | 'none';
	respawn: boolean;
}

/** One mediasoup worker process per slot (per core by default), replaced when it dies. */
export class WorkerPool extends EventEmitter<WorkerPoolEvents> {
	readonly slots: WorkerSlot[] = [];
	#closed = false;

	private constructor(
		private readonly mediasoup: Mediasoup,
		private readonly options: WorkerPoolOptions,
	) {
		super();
	}

	static async create(mediasoup: Mediasoup, options: WorkerPoolOptions): Promise<WorkerPool> {
		const pool = new WorkerPool(mediasoup, options);
		try {
			for (let index = 0; index < options.count; index++) {
				const slot: WorkerSlot = { index, worker: await pool.#spawn(), peers: 0, rooms: 0 };
				pool.slots.push(slot);
				pool.#watch(slot);
			}
		} catch (error) {
			pool.close();
			throw error;
		}
		return pool;
	}

	/**
	 * The least-loaded live slot, with a room counted on it at once: rooms created at the same
	 * moment spread over the workers instead of all seeing the same empty one. Give it back with
	 * `releaseRoom` if the room is never made.
	 */
	reserveRoom(): WorkerSlot {
		const slot = this.leastLoaded();
		slot.rooms++;
		return slot;
	}

	releaseRoom(slot: WorkerSlot): void {
		slot.rooms = Math.max(0, slot.rooms - 1);
	}

	/** The live worker slot with the fewest peers, then the fewest rooms. */
	leastLoaded(): WorkerSlot {
		let best: WorkerSlot | undefined;
		for (const slot of this.slots) {
			if (slot.worker.closed) continue;
			if (!best || slot.peers < best.peers || (slot.peers === best.peers && slot.rooms < best.rooms)) best = slot;
		}
		if (!best) throw new Error('no live mediasoup worker');
		return best;
	}

	close(): void {
		this.#closed = true;
		for (const slot of this.slots) slot.worker.close();
	}

	#spawn(): Promise<types.Worker> {
		return this.mediasoup.createWorker({
			logLevel: this.options.logLevel,
			rtcMinPort: this.options.rtcMinPort,
			rtcMaxPort: this.options.rtcMaxPort,
		});
	}

	#watch(slot: WorkerSlot): void {
		slot.worker.on('died', (error) => {
			if (this.#closed) return;
			slot.peers = 0;
			slot.rooms = 0;
			this.emit('workerdied', slot, error);
			if (this.options.respawn) void this.#respawn(slot);
		});
	}

	async #respawn(slot: WorkerSlot): Promise<void> {
		try {
			const worker = await this.#spawn();
			if (this.#closed) {
				worker.close();
				return;
			}
			slot.worker = worker;
			this.#watch(slot);
			this.emit('workerreplaced', slot);
		} catch (error) {
			this.emit('respawnfailed', slot, error instanceof Error ? error : new Error(String(error)));
		}
	}
}

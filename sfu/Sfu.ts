import { EventEmitter } from 'node:events';
import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyInstance } from 'fastify';
import { parseInput } from '../protocol/issues.ts';
import { loadMediasoup, type types } from './mediasoup.ts';
import { SfuOptions, mediaCodecs, type SfuOptionsInput } from './options.ts';
import { botPagePlugin } from './plugins/botpage.ts';
import type { SfuTotals, WorkerLoad } from './types.ts';
import { signalingPlugin } from './plugins/signaling.ts';
import { statusPlugin, type StatusSource } from './plugins/status.ts';
import { Room, type RoomSnapshot } from './Room.ts';
import type { SessionHost } from './SignalingSession.ts';
import { SignalingError } from './SignalingError.ts';
import { WorkerPool } from './WorkerPool.ts';

export interface SfuEvents {
	workerdied: [info: { worker: number; pid: number; error: Error }];
	workerreplaced: [info: { worker: number; pid: number }];
	roomcreated: [room: Room];
	roomclosed: [info: { roomId: string; reason: string }];
}

/** The bundled SFU: mediasoup workers, rooms, signaling and status endpoints on one port. */
export class Sfu extends EventEmitter<SfuEvents> implements SessionHost, StatusSource {
	readonly rooms = new Map<string, Room>();
	readonly #creating = new Map<string, Promise<Room>>();
	#closed = false;

	private constructor(
		readonly options: SfuOptions,
		readonly pool: WorkerPool,
		readonly app: FastifyInstance,
	) {
		super();
		pool.on('workerdied', (slot, error) => {
			app.log.error({ worker: slot.index, pid: slot.worker.pid, err: error }, 'mediasoup worker died');
			this.emit('workerdied', { worker: slot.index, pid: slot.worker.pid, error });
		});
		pool.on('workerreplaced', (slot) => {
			app.log.warn({ worker: slot.index, pid: slot.worker.pid }, 'mediasoup worker replaced');
			this.emit('workerreplaced', { worker: slot.index, pid: slot.worker.pid });
		});
		pool.on('respawnfailed', (slot, error) =>
			app.log.error({ worker: slot.index, err: error }, 'could not replace a dead mediasoup worker'),
		);
	}

	get log(): FastifyInstance['log'] {
		return this.app.log;
	}

	static async start(input: SfuOptionsInput = {}): Promise<Sfu> {
		const options = parseInput(SfuOptions, input, 'SFU options');
		const mediasoup = await loadMediasoup();
		const pool = await WorkerPool.create(mediasoup, {
			count: options.workers,
			rtcMinPort: options.rtcMinPort,
			rtcMaxPort: options.rtcMaxPort,
			logLevel: options.logLevel,
			respawn: options.respawnWorkers,
		});
		const app = Fastify({
			logger: options.logLevel === 'none' ? false : { level: options.logLevel === 'debug' ? 'debug' : options.logLevel },
		});
		const sfu = new Sfu(options, pool, app);
		try {
			await app.register(signalingPlugin, { host: sfu });
			await app.register(statusPlugin, { source: sfu });
			await app.register(botPagePlugin);
			await app.listen({ host: options.listenIp, port: options.port });
		} catch (error) {
			pool.close();
			await app.close();
			throw error;
		}
		return sfu;
	}

	/** http://host:port of the signaling/status server. */
	get url(): string {
		const address = this.app.server.address() as AddressInfo;
		const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
		return `http://${host === '0.0.0.0' || host === '[::]' ? '127.0.0.1' : host}:${address.port}`;
	}

	get wsUrl(): string {
		return `${this.url.replace(/^http/, 'ws')}/ws`;
	}

	get botPageUrl(): string {
		return `${this.url}/bot/`;
	}

	async room(roomId: string): Promise<Room> {
		if (this.#closed) throw new SignalingError('room_reset', 'the SFU is shutting down');
		const existing = this.rooms.get(roomId);
		if (existing && !existing.closed) return existing;
		const pending = this.#creating.get(roomId);
		if (pending) return pending;
		if (this.rooms.size + this.#creating.size >= this.options.maxRooms) {
			throw new SignalingError('limit_reached', `room limit reached (maxRooms=${this.options.maxRooms})`);
		}
		const slot = this.pool.reserveRoom();
		const creation = Room.create(roomId, slot, mediaCodecs as unknown as types.RtpCodecCapability[], { peers: this.options.maxPeersPerRoom, viewers: this.options.maxViewersPerRoom }, {
			pool: this.options.spreadViewers && this.pool.slots.length > 1 ? this.pool : undefined,
		}).catch(
			(error: unknown) => {
				this.pool.releaseRoom(slot);
				throw error;
			},
		);
		this.#creating.set(roomId, creation);
		try {
			const room = await creation;
			this.rooms.set(roomId, room);
			room.once('close', (reason) => {
				if (this.rooms.get(roomId) === room) this.rooms.delete(roomId);
				this.emit('roomclosed', { roomId, reason });
			});
			this.emit('roomcreated', room);
			return room;
		} finally {
			this.#creating.delete(roomId);
		}
	}

	liveWorkers(): number {
		return this.pool.slots.filter((s) => !s.worker.closed).length;
	}

	roomSnapshots(): RoomSnapshot[] {
		return [...this.rooms.values()].map((r) => r.snapshot());
	}

	/** What the SFU holds, in all its rooms or in those named. */
	totals(only?: ReadonlySet<string>): SfuTotals {
		const rooms = [...this.rooms.values()].filter((room) => !only || only.has(room.id));
		const totals: SfuTotals = { rooms: rooms.length, peers: 0, transports: 0, producers: 0, consumers: 0, forwardingConsumers: 0 };
		for (const room of rooms) {
			for (const peer of room.peers.values()) {
				totals.peers++;
				totals.transports += peer.transports.size;
				totals.producers += peer.producers.size;
				totals.consumers += peer.consumers.size;
				for (const consumer of peer.consumers.values()) if (!consumer.paused && !consumer.producerPaused) totals.forwardingConsumers++;
			}
		}
		return totals;
	}

	/** Per worker: CPU time and memory (getResourceUsage) and what is placed on it. */
	async workerLoad(): Promise<WorkerLoad[]> {
		return Promise.all(
			this.pool.slots.map(async (slot) => {
				const usage = slot.worker.closed ? undefined : await slot.worker.getResourceUsage().catch(() => undefined);
				let producers = 0;
				let consumers = 0;
				for (const room of this.rooms.values()) {
					for (const peer of room.peers.values()) {
						// A viewer's consumers live on the worker it was placed on; the room's pipes to it are not counted.
						if (room.slotOf(peer) !== slot) continue;
						producers += peer.producers.size;
						consumers += peer.consumers.size;
					}
				}
				return {
					worker: slot.index,
					pid: slot.worker.pid,
					alive: !slot.worker.closed,
					cpuSeconds: usage ? (usage.ru_utime + usage.ru_stime) / 1000 : 0,
					maxRssBytes: usage ? usage.ru_maxrss * 1024 : 0,
					rooms: slot.rooms,
					peers: slot.peers,
					producers,
					consumers,
				};
			}),
		);
	}

	async close(): Promise<void> {
		if (this.#closed) return;
		this.#closed = true;
		for (const room of this.rooms.values()) room.close('SFU shutting down');
		await this.app.close();
		this.pool.close();
	}
}

/** Starts the bundled SFU; options are validated (see SfuOptions) and errors name the field. */
export function startSfu(options: SfuOptionsInput = {}): Promise<Sfu> {
	return Sfu.start(options);
}

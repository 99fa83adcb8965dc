import { EventEmitter } from 'node:events';
import type { NotificationData, SignalingNotificationName } from '../protocol/signaling.ts';
import type { types } from './mediasoup.ts';
import type { Peer } from './Peer.ts';
import { SignalingError } from './SignalingError.ts';
import type { WorkerPool, WorkerSlot } from './WorkerPool.ts';

export interface RoomEvents {
	/** The room is gone: emptied, or reset because its worker died (reason says which). */
	close: [reason: string];
}

export interface RoomSnapshot {
	roomId: string;
	worker: number;
	workerPid: number;
	createdAt: string;
	peers: Array<{ peerId: string; displayName: string; botKind: string; producers: number; consumers: number }>;
}

export interface RoomLimits {
	/** Participants (everyone but viewers). */
	peers: number;
	viewers: number;
}

/**
 * Where a room's viewers receive: with `pool`, each on the least-loaded worker, through a router
 * there that the room's producers are piped to; without, on the room's own router.
 */
export interface AudiencePlacement {
	pool?: WorkerPool;
	mediaCodecs: types.RtpCodecCapability[];
}

/** A router of the room on another worker, for viewers only: the room's producers piped in on demand. */
interface AudienceRouter {
	readonly worker: types.Worker;
	readonly router: Promise<types.Router>;
}

/**
 * A call: one mediasoup router on one worker, and the peers in it. Viewers may receive from
 * routers on other workers (AudiencePlacement): one worker forwarding a stream to a thousand
 * viewers spends its whole loop on each packet, and every other packet waits behind it.
 */
export class Room extends EventEmitter<RoomEvents> {
	readonly peers = new Map<string, Peer>();
	readonly createdAt = new Date();
	readonly #worker: types.Worker;
	#closed = false;
	/** Who is loud now, loudest first (the last audioLevels sent). */
	#loud: string[] = [];
	#viewers = 0;
	readonly #audience = new Map<WorkerSlot, AudienceRouter>();
	/** Where each peer's media lives (the room's slot, or a viewer's), and the worker that slot held then. */
	readonly #placed = new Map<Peer, { slot: WorkerSlot; worker: types.Worker }>();
	/** `<router id>:<producer id>` -> the producer's pipe into that audience router. */
	readonly #pipes = new Map<string, Promise<void>>();

	private constructor(
		readonly id: string,
		readonly router: types.Router,
		readonly slot: WorkerSlot,
		private readonly limits: RoomLimits,
		readonly speakers: types.ActiveSpeakerObserver,
		readonly levels: types.AudioLevelObserver,
		private readonly placement: AudiencePlacement,
	) {
		super();
		// Every peer's session listens for the room closing.
		this.setMaxListeners(0);
		this.#worker = slot.worker;
		router.on('workerclose', () => this.close('media worker died', true));
		// Participants learn who speaks (viewers do not follow speakers): last-N receivers follow the speaker with their video.
		speakers.on('dominantspeaker', ({ producer }) => {
			const peerId = producer.appData.peerId;
			if (typeof peerId === 'string') this.#tellParticipants(undefined, 'activeSpeaker', { peerId });
		});
		// Top-N audio receivers follow who is loud; told only when that set changes, not every interval.
		const tell = (peerIds: string[]) => {
			if ([...peerIds].sort().join('\u0000') === [...this.#loud].sort().join('\u0000')) return;
			this.#loud = peerIds;
			this.#tellParticipants(undefined, 'audioLevels', { peerIds });
		};
		levels.on('volumes', (volumes) => {
			tell([...new Set(volumes.map((v) => v.producer.appData.peerId).filter((p): p is string => typeof p === 'string'))]);
		});
		levels.on('silence', () => tell([]));
	}

	/** A room on `slot`, which already counts it (WorkerPool.reserveRoom). */
	static async create(
		id: string,
		slot: WorkerSlot,
		mediaCodecs: types.RtpCodecCapability[],
		limits: RoomLimits,
		placement: Omit<AudiencePlacement, 'mediaCodecs'> = {},
	): Promise<Room> {
		const router = await slot.worker.createRouter({ mediaCodecs, appData: { roomId: id } });
		const speakers = await router.createActiveSpeakerObserver({ interval: 300 });
		// Loud: above -60 dBov (speech; a muted microphone's silence is -127), up to 16 at a time.
		const levels = await router.createAudioLevelObserver({ maxEntries: 16, threshold: -60, interval: 500 });
		return new Room(id, router, slot, limits, speakers, levels, { ...placement, mediaCodecs });
	}

	get closed(): boolean {
		return this.#closed;
	}

	/** Whether the slot still runs the worker this room was made on. */
	#onLiveWorker(): boolean {
		return this.slot.worker === this.#worker && !this.#worker.closed;
	}

	addPeer(peer: Peer): void {
		if (this.#closed) throw new SignalingError('room_reset', `room ${this.id} is closing, join again`);
		if (this.peers.has(peer.id)) {
			throw new SignalingError('already_joined', `peer ${peer.id} is already in room ${this.id}`, 'peerId');
		}
		if (peer.botKind === 'viewer') {
			if (this.#viewers >= this.limits.viewers) {
				throw new SignalingError('limit_reached', `room ${this.id} has its most viewers (maxViewersPerRoom=${this.limits.viewers})`);
			}
			// Audience is neither announced nor listed: a thousand viewers would cost everyone a million notices.
			this.#viewers++;
			this.peers.set(peer.id, peer);
			this.#place(peer, this.placement.pool?.leastLoaded() ?? this.slot);
			return;
		}
		if (this.peers.size - this.#viewers >= this.limits.peers) {
			throw new SignalingError('limit_reached', `room ${this.id} is full (maxPeersPerRoom=${this.limits.peers})`);
		}
		this.#tellParticipants(undefined, 'peerJoined', {
			peerId: peer.id,
			displayName: peer.displayName,
			botKind: peer.botKind,
		});
		this.peers.set(peer.id, peer);
		this.#place(peer, this.slot);
		// A newcomer learns who is loud now, not only at the next change.
		if (this.#loud.length > 0) peer.notify('audioLevels', { peerIds: this.#loud });
	}

	/** Takes a peer out, closing its media; the others are told. An empty room closes. */
	removePeer(peer: Peer): void {
		if (this.peers.get(peer.id) !== peer) return;
		this.peers.delete(peer.id);
		this.#release(peer);
		if (peer.botKind === 'viewer') this.#viewers--;
		const producerIds = [...peer.producers.keys()];
		peer.close();
		for (const producerId of producerIds) this.broadcast(peer.id, 'producerClosed', { producerId, peerId: peer.id });
		if (peer.botKind !== 'viewer') this.#tellParticipants(peer.id, 'peerLeft', { peerId: peer.id });
		if (this.peers.size === 0) this.close('empty');
	}

	/** Counts a peer on the slot its media lives on. */
	#place(peer: Peer, slot: WorkerSlot): void {
		this.#placed.set(peer, { slot, worker: slot === this.slot ? this.#worker : slot.worker });
		slot.peers++;
	}

	/** Gives a peer's place back, unless its worker died (the pool zeroed that slot, which may hold a new worker by now). */
	#release(peer: Peer): void {
		const placed = this.#placed.get(peer);
		this.#placed.delete(peer);
		if (placed && placed.slot.worker === placed.worker && !placed.worker.closed) placed.slot.peers--;
	}

	/** The worker slot a peer's media lives on. */
	slotOf(peer: Peer): WorkerSlot {
		return this.#placed.get(peer)?.slot ?? this.slot;
	}

	/** The router a peer's transports and consumers live on: the room's, or a viewer's audience router. */
	async routerOf(peer: Peer): Promise<types.Router> {
		const placed = this.#placed.get(peer);
		if (!placed || placed.slot === this.slot) return this.router;
		if (placed.slot.worker !== placed.worker || placed.worker.closed) {
			throw new SignalingError('room_reset', 'the media worker this viewer was placed on died, join again');
		}
		let audience = this.#audience.get(placed.slot);
		if (!audience || audience.worker !== placed.worker) {
			const router = placed.worker.createRouter({ mediaCodecs: this.placement.mediaCodecs, appData: { roomId: this.id, audience: true } });
			audience = { worker: placed.worker, router };
			this.#audience.set(placed.slot, audience);
			const made = audience;
			router.then(
				(r) => {
					if (this.#closed) r.close();
					// Its viewers' transports close with it; they are told to join again.
					r.on('workerclose', () => this.#resetAudience(placed.slot, made));
				},
				() => this.#audience.get(placed.slot) === made && this.#audience.delete(placed.slot),
			);
		}
		return audience.router;
	}

	/** Makes `producerId` consumable on `router`: piped there from the room's router, once. */
	bringProducerTo(router: types.Router, producerId: string): Promise<void> {
		if (router === this.router) return Promise.resolve();
		const key = `${router.id}:${producerId}`;
		let pipe = this.#pipes.get(key);
		if (!pipe) {
			pipe = this.router.pipeToRouter({ producerId, router }).then(({ pipeProducer }) => {
				// Closed with the producer (or the router): a later consumer pipes it again if it comes back.
				pipeProducer?.observer.once('close', () => this.#pipes.delete(key));
			});
			this.#pipes.set(key, pipe);
			pipe.catch(() => this.#pipes.get(key) === pipe && this.#pipes.delete(key));
		}
		return pipe;
	}

	/** An audience router's worker died: its viewers are told to join again, and leave. */
	#resetAudience(slot: WorkerSlot, audience: AudienceRouter): void {
		if (this.#audience.get(slot) === audience) this.#audience.delete(slot);
		for (const [peer, placed] of [...this.#placed]) {
			if (placed.worker !== audience.worker) continue;
			peer.notify('roomReset', { roomId: this.id, reason: 'media worker died' });
			this.removePeer(peer);
		}
	}

	/** Audio producers take part in the active-speaker detection and the audio levels (until they close). */
	async listenTo(producer: types.Producer): Promise<void> {
		if (producer.kind !== 'audio') return;
		if (!this.speakers.closed) await this.speakers.addProducer({ producerId: producer.id }).catch(() => undefined);
		if (!this.levels.closed) await this.levels.addProducer({ producerId: producer.id }).catch(() => undefined);
	}

	broadcast<N extends SignalingNotificationName>(
		exceptPeerId: string | undefined,
		name: N,
		data: NotificationData<N>,
	): void {
		for (const peer of this.peers.values()) if (peer.id !== exceptPeerId) peer.notify(name, data);
	}

	/** Who joins, leaves and speaks goes to participants only: viewers follow media, not the roster. */
	#tellParticipants<N extends SignalingNotificationName>(
		exceptPeerId: string | undefined,
		name: N,
		data: NotificationData<N>,
	): void {
		for (const peer of this.peers.values()) if (peer.id !== exceptPeerId && peer.botKind !== 'viewer') peer.notify(name, data);
	}

	/** The participants a newcomer is told about (viewers are not listed). */
	participants(): Peer[] {
		return [...this.peers.values()].filter((p) => p.botKind !== 'viewer');
	}

	snapshot(): RoomSnapshot {
		return {
			roomId: this.id,
			worker: this.slot.index,
			workerPid: this.slot.worker.pid,
			createdAt: this.createdAt.toISOString(),
			peers: [...this.peers.values()].map((p) => ({
				peerId: p.id,
				displayName: p.displayName,
				botKind: p.botKind,
				producers: p.producers.size,
				consumers: p.consumers.size,
			})),
		};
	}

	/** Closes the room; with `reset`, peers are told (roomReset) so they can join again. */
	close(reason: string, reset = false): void {
		if (this.#closed) return;
		this.#closed = true;
		for (const peer of this.peers.values()) {
			if (reset) peer.notify('roomReset', { roomId: this.id, reason });
			peer.close();
		}
		for (const peer of this.peers.values()) this.#release(peer);
		// A dead worker's slot was zeroed by the pool (and may hold a new worker by now).
		if (this.#onLiveWorker()) this.slot.rooms = Math.max(0, this.slot.rooms - 1);
		this.peers.clear();
		for (const audience of this.#audience.values()) audience.router.then((r) => r.close(), () => undefined);
		this.#audience.clear();
		this.router.close();
		this.emit('close', reason);
	}
}

/**
 * A participant of a call over callswarm signaling and mediasoup-client: joins a room,
 * publishes tracks, consumes every other producer it subscribes to, and joins again after a
 * room reset. The same code drives the browser bot page and the lite (werift) bots.
 */
import { enhancedEvents, type Device, type types } from 'mediasoup-client';
import type { BotKind, ProducerInfo, VideoLayer } from '../../protocol/signaling.ts';
import type { SignalingClient } from './SignalingClient.ts';

export type CallState = 'idle' | 'joining' | 'joined' | 'rejoining' | 'left' | 'failed';

export interface Subscription {
	audio: boolean;
	video: boolean;
	/** The layer asked for from simulcast and SVC senders (default "auto"). */
	layer?: VideoLayer;
	/**
	 * Last-N: at most this many remote videos forwarded at a time, those of the most recent active
	 * speakers (the others stay paused at the SFU and cost no bandwidth). All when absent.
	 */
	lastN?: number;
	/**
	 * Top-N audio: at most this many remote microphones forwarded at a time, those loudest now
	 * (then the most recently loud, then the earliest to arrive). All when absent.
	 */
	audioTopN?: number;
}

export interface CallClientOptions {
	roomId: string;
	peerId: string;
	displayName?: string;
	botKind: BotKind;
	signaling: SignalingClient;
	/** A fresh, unloaded mediasoup-client Device (one per join: a reset needs a new one). */
	createDevice: () => Device;
	subscribe: Subscription;
	/** After a roomReset, join again and publish the same tracks. */
	rejoinOnReset: boolean;
	/** Rewrites the SFU's ICE candidates before connecting (e.g. through a network impairment relay). */
	mapIceCandidates?: (candidates: types.IceCandidate[]) => Promise<types.IceCandidate[]>;
}

export interface PublishOptions {
	encodings?: types.RtpEncodingParameters[];
	codecOptions?: types.ProducerCodecOptions;
	/** e.g. 'video/VP8': the first router codec with this MIME type is used. */
	codecMimeType?: string;
	degradationPreference?: RTCDegradationPreference;
	appData?: Record<string, string | number | boolean>;
}

export interface RemoteConsumer {
	consumer: types.Consumer;
	peerId: string;
	/** Whether the SFU forwards it (false: held back by last-N). */
	forwarded: boolean;
	/** A shared screen (producer appData source "screen"): always shown, outside last-N. */
	screen: boolean;
}

export type CallClientEvents = {
	state: [state: CallState];
	/** Joined; attempt 1 for the first join, more after resets. */
	joined: [info: { peerId: string; attempt: number; joinMs: number }];
	consumer: [remote: RemoteConsumer];
	consumerclosed: [consumerId: string];
	/** First media from any remote: ms since the join request. */
	firstmedia: [info: { ms: number; kind: types.MediaKind }];
	peerjoined: [peerId: string];
	peerleft: [peerId: string];
	/** The room's dominant speaker changed. */
	activespeaker: [peerId: string];
	reset: [reason: string];
	failed: [error: Error];
	/** One remote stream could not be received (e.g. no common codec); the call goes on. */
	consumefailed: [info: { producerId: string; message: string }];
};

export class CallClient extends enhancedEvents.EnhancedEventEmitter<CallClientEvents> {
	state: CallState = 'idle';
	readonly consumers = new Map<string, RemoteConsumer>();
	readonly producers = new Map<string, types.Producer>();
	readonly peers = new Set<string>();
	/** The room's dominant speaker, as the SFU last said. */
	activeSpeaker: string | undefined;
	/** Peers by when they last spoke, most recent first (last-N order). */
	#spokeLast: string[] = [];
	/** Last-N changes, one at a time in order. */
	#selectionApplied: Promise<void> = Promise.resolve();
	/** Peers by how recently they were loud, the loudest now first (the SFU's audio levels). */
	#loudLast: string[] = [];
	#device: Device | undefined;
	#send: types.Transport | undefined;
	#recv: types.Transport | undefined;
	readonly #published: Array<{ track: MediaStreamTrack; options: PublishOptions }> = [];
	/** Producers announced while the join was still being set up. */
	#pendingProducers: ProducerInfo[] = [];
	#ready = false;
	#attempt = 0;
	#joinStartedAt = 0;
	#firstMediaSeen = false;
	/** Producers consumed (or being consumed) on this attempt's receive transport. */
	readonly #asked = new Set<string>();

	constructor(private readonly options: CallClientOptions) {
		super();
		const s = options.signaling;
		s.on('newProducer', (info) => {
			if (this.#ready) void this.#consume(info);
			else this.#pendingProducers.push(info);
		});
		s.on('consumerClosed', ({ consumerId }) => this.#dropConsumer(consumerId));
		s.on('consumerPaused', ({ consumerId }) => this.consumers.get(consumerId)?.consumer.pause());
		s.on('consumerResumed', ({ consumerId }) => this.consumers.get(consumerId)?.consumer.resume());
		s.on('peerJoined', ({ peerId }) => {
			this.peers.add(peerId);
			this.safeEmit('peerjoined', peerId);
		});
		s.on('peerLeft', ({ peerId }) => {
			this.peers.delete(peerId);
			this.safeEmit('peerleft', peerId);
		});
		s.on('activeSpeaker', ({ peerId }) => {
			this.activeSpeaker = peerId;
			this.#spokeLast = [peerId, ...this.#spokeLast.filter((p) => p !== peerId)];
			this.safeEmit('activespeaker', peerId);
			void this.#applySelection();
		});
		s.on('audioLevels', ({ peerIds }) => {
			this.#loudLast = [...peerIds, ...this.#loudLast.filter((p) => !peerIds.includes(p))];
			if (this.options.subscribe.audioTopN !== undefined && peerIds.length > 0) void this.#applySelection();
		});
		s.on('roomReset', ({ reason }) => void this.#onReset(reason));
		s.on('close', () => {
			if (this.state !== 'left') this.#fail(new Error('signaling connection lost'));
		});
	}

	get peerId(): string {
		return this.options.peerId;
	}

	async join(): Promise<void> {
		this.#setState('joining');
		try {
			if (!this.options.signaling.closed) await this.#enter();
			else throw new Error('signaling is closed');
		} catch (error) {
			this.#fail(error instanceof Error ? error : new Error(String(error)));
			throw error;
		}
	}

	/** Publishes a track now if joined, and again after every rejoin. */
	async publish(track: MediaStreamTrack, options: PublishOptions = {}): Promise<types.Producer | undefined> {
		this.#published.push({ track, options });
		return this.#ready ? this.#produce(track, options) : undefined;
	}

	async leave(): Promise<void> {
		if (this.state === 'left') return;
		this.#setState('left');
		try {
			if (!this.options.signaling.closed) await this.options.signaling.request('leave', {});
		} catch {
			// The server drops the peer when the socket closes anyway.
		}
		this.#closeMedia();
		this.options.signaling.disconnect();
	}

	/**
	 * Leaves and joins again with new connections (new ICE/DTLS), republishing the same tracks:
	 * what a network handover does. `joined` fires with attempt > 1.
	 */
	async reconnect(): Promise<void> {
		if (this.state !== 'joined') return;
		this.#setState('rejoining');
		try {
			await this.options.signaling.request('leave', {});
			this.#closeMedia();
			await this.#enter();
		} catch (error) {
			this.#fail(error instanceof Error ? error : new Error(String(error)));
		}
	}

	/** Raw getStats() of each transport's RTCPeerConnection. */
	async getStats(): Promise<Array<{ direction: 'send' | 'recv'; report: RTCStatsReport }>> {
		const out: Array<{ direction: 'send' | 'recv'; report: RTCStatsReport }> = [];
		for (const [direction, transport] of [['send', this.#send], ['recv', this.#recv]] as const) {
			if (transport && !transport.closed) out.push({ direction, report: await transport.getStats() });
		}
		return out;
	}

	async #enter(): Promise<void> {
		const { signaling, subscribe } = this.options;
		this.#asked.clear();
		this.#attempt++;
		this.#ready = false;
		this.#firstMediaSeen = false;
		this.#joinStartedAt = Date.now();
		const joined = await signaling.request('join', {
			roomId: this.options.roomId,
			peerId: this.options.peerId,
			displayName: this.options.displayName,
			botKind: this.options.botKind,
		});
		const device = this.options.createDevice();
		await device.load({ routerRtpCapabilities: joined.routerRtpCapabilities as types.RtpCapabilities });
		this.#device = device;
		await signaling.request('setRtpCapabilities', { rtpCapabilities: device.rtpCapabilities });
		if (this.#published.length > 0) this.#send = await this.#createTransport('send');
		if (subscribe.audio || subscribe.video) this.#recv = await this.#createTransport('recv');
		for (const { track, options } of this.#published) await this.#produce(track, options);
		for (const peer of joined.peers) this.peers.add(peer.peerId);
		const producers = [...joined.peers.flatMap((p) => p.producers), ...this.#pendingProducers];
		this.#pendingProducers = [];
		this.#ready = true;
		this.#setState('joined');
		this.safeEmit('joined', { peerId: joined.peerId, attempt: this.#attempt, joinMs: Date.now() - this.#joinStartedAt });
		await Promise.all(producers.map((p) => this.#consume(p)));
	}

	async #createTransport(direction: 'send' | 'recv'): Promise<types.Transport> {
		const { signaling } = this.options;
		const device = this.#device!;
		const params = await signaling.request('createWebRtcTransport', { direction });
		const candidates = params.iceCandidates as types.IceCandidate[];
		const transportOptions = {
			id: params.transportId,
			iceParameters: params.iceParameters as types.IceParameters,
			iceCandidates: this.options.mapIceCandidates ? await this.options.mapIceCandidates(candidates) : candidates,
			dtlsParameters: params.dtlsParameters as types.DtlsParameters,
		};
		const transport =
			direction === 'send' ? device.createSendTransport(transportOptions) : device.createRecvTransport(transportOptions);
		transport.on('connect', ({ dtlsParameters }, callback, errback) => {
			signaling
				.request('connectWebRtcTransport', { transportId: transport.id, dtlsParameters })
				.then(() => callback(), errback);
		});
		transport.on('produce', ({ kind, rtpParameters, appData }, callback, errback) => {
			signaling
				.request('produce', {
					transportId: transport.id,
					kind,
					rtpParameters,
					appData: appData as Record<string, string | number | boolean>,
				})
				.then(({ producerId }) => callback({ id: producerId }), errback);
		});
		transport.on('connectionstatechange', (state) => {
			if (state === 'failed' && this.state === 'joined') this.#fail(new Error(`${direction} transport failed (ICE/DTLS)`));
		});
		return transport;
	}

	async #produce(track: MediaStreamTrack, options: PublishOptions): Promise<types.Producer> {
		const transport = this.#send ?? (this.#send = await this.#createTransport('send'));
		const codec = options.codecMimeType
			? this.#device!.rtpCapabilities.codecs?.find((c) => c.mimeType.toLowerCase() === options.codecMimeType!.toLowerCase())
			: undefined;
		const producer = await transport.produce({
			track,
			encodings: options.encodings,
			codecOptions: options.codecOptions,
			codec,
			stopTracks: false,
			appData: options.appData,
			onRtpSender: options.degradationPreference
				? (sender) => {
						const parameters = sender.getParameters();
						parameters.degradationPreference = options.degradationPreference;
						void sender.setParameters(parameters).catch(() => undefined);
					}
				: undefined,
		});
		this.producers.set(producer.id, producer);
		producer.observer.once('close', () => this.producers.delete(producer.id));
		return producer;
	}

	async #consume(info: ProducerInfo): Promise<void> {
		if (!this.options.subscribe[info.kind] || !this.#recv || info.peerId === this.options.peerId) return;
		// A producer made while we joined comes both in join's peers and as newProducer: one consumer.
		if (this.#asked.has(info.producerId)) return;
		this.#asked.add(info.producerId);
		const recv = this.#recv;
		try {
			const reply = await this.options.signaling.request('consume', {
				transportId: recv.id,
				producerId: info.producerId,
				layer: this.options.subscribe.layer ?? 'auto',
			});
			const consumer = await recv.consume({
				id: reply.consumerId,
				producerId: reply.producerId,
				kind: reply.kind,
				rtpParameters: reply.rtpParameters as types.RtpParameters,
			});
			const remote: RemoteConsumer = { consumer, peerId: reply.peerId, forwarded: false, screen: info.appData?.source === 'screen' };
			this.consumers.set(consumer.id, remote);
			consumer.observer.once('close', () => this.consumers.delete(consumer.id));
			const { lastN, audioTopN } = this.options.subscribe;
			if ((lastN !== undefined && consumer.kind === 'video' && !remote.screen) || (audioTopN !== undefined && consumer.kind === 'audio')) await this.#applySelection();
			else {
				await this.options.signaling.request('resumeConsumer', { consumerId: consumer.id });
				remote.forwarded = true;
			}
			this.safeEmit('consumer', remote);
			if (!this.#firstMediaSeen) void this.#watchFirstMedia(recv);
		} catch (error) {
			this.#asked.delete(info.producerId);
			// A producer closed or a reset racing the consume is normal churn in a call.
			if (this.state === 'joined' && !recv.closed) {
				const message = error instanceof Error ? error.message : String(error);
				if (!/not_found|closed/.test(message)) this.safeEmit('consumefailed', { producerId: info.producerId, message });
			}
		}
	}

	/**
	 * Forwards the camera videos of the `lastN` peers who spoke last and the microphones of the
	 * `audioTopN` loudest (then the earliest to arrive), and pauses the rest at the SFU. Shared
	 * screens stay shown, as call apps pin them.
	 */
	#applySelection(): Promise<void> {
		const { lastN, audioTopN } = this.options.subscribe;
		if (lastN === undefined && audioTopN === undefined) return Promise.resolve();
		const apply = async () => {
			if (lastN !== undefined) await this.#forwardFirst('video', lastN, this.#spokeLast);
			if (audioTopN !== undefined) await this.#forwardFirst('audio', audioTopN, this.#loudLast);
		};
		this.#selectionApplied = this.#selectionApplied.then(apply, apply);
		return this.#selectionApplied;
	}

	/** Forwards the `kind` consumers of the first `n` peers by `recent` (then arrival order), pauses the others. */
	async #forwardFirst(kind: types.MediaKind, n: number, recent: readonly string[]): Promise<void> {
		const remotes = [...this.consumers.values()].filter((r) => r.consumer.kind === kind && !r.screen && !r.consumer.closed);
		const arrival = [...new Set(remotes.map((r) => r.peerId))];
		const rank = (peerId: string) => {
			const i = recent.indexOf(peerId);
			return i === -1 ? recent.length + arrival.indexOf(peerId) : i;
		};
		const shown = new Set([...arrival].sort((a, b) => rank(a) - rank(b)).slice(0, n));
		const changes = remotes.filter((r) => shown.has(r.peerId) !== r.forwarded);
		// Pauses before resumes: at no moment does the SFU forward more than n.
		changes.sort((a, b) => Number(shown.has(a.peerId)) - Number(shown.has(b.peerId)));
		for (const remote of changes) {
			const wanted = shown.has(remote.peerId);
			try {
				await this.options.signaling.request(wanted ? 'resumeConsumer' : 'pauseConsumer', { consumerId: remote.consumer.id });
				remote.forwarded = wanted;
			} catch {
				// The consumer closed meanwhile (its producer left): nothing to forward or hold.
			}
		}
	}

	/** Polls the receive transport until a remote stream shows decoded frames or received audio. */
	async #watchFirstMedia(recv: types.Transport): Promise<void> {
		const startedAt = this.#joinStartedAt;
		this.#firstMediaSeen = true;
		const deadline = Date.now() + 60_000;
		while (!recv.closed && Date.now() < deadline && startedAt === this.#joinStartedAt) {
			const report = await recv.getStats();
			for (const stat of report.values() as IterableIterator<Record<string, unknown>>) {
				if (stat.type !== 'inbound-rtp') continue;
				const kind = stat.kind as types.MediaKind;
				const flowing =
					typeof stat.framesDecoded === 'number' ? stat.framesDecoded > 0 : Number(stat.packetsReceived ?? 0) > 0;
				if (flowing) {
					this.safeEmit('firstmedia', { ms: Date.now() - startedAt, kind });
					return;
				}
			}
			await new Promise((resolve) => setTimeout(resolve, 100));
		}
	}

	#dropConsumer(consumerId: string): void {
		const remote = this.consumers.get(consumerId);
		if (!remote) return;
		remote.consumer.close();
		this.consumers.delete(consumerId);
		this.safeEmit('consumerclosed', consumerId);
		// Someone else's video or microphone may take the freed place.
		void this.#applySelection();
	}

	async #onReset(reason: string): Promise<void> {
		this.#closeMedia();
		this.safeEmit('reset', reason);
		if (!this.options.rejoinOnReset || this.state === 'left') return;
		this.#setState('rejoining');
		for (let attempt = 1; attempt <= 5; attempt++) {
			try {
				await this.#enter();
				return;
			} catch (error) {
				if (attempt === 5 || this.options.signaling.closed) {
					this.#fail(error instanceof Error ? error : new Error(String(error)));
					return;
				}
				await new Promise((resolve) => setTimeout(resolve, 250 * attempt));
			}
		}
	}

	#closeMedia(): void {
		this.#ready = false;
		for (const remote of this.consumers.values()) remote.consumer.close();
		this.consumers.clear();
		this.#spokeLast = [];
		this.#loudLast = [];
		this.activeSpeaker = undefined;
		for (const producer of this.producers.values()) producer.close();
		this.producers.clear();
		this.#send?.close();
		this.#recv?.close();
		this.#send = undefined;
		this.#recv = undefined;
		this.peers.clear();
	}

	#fail(error: Error): void {
		if (this.state === 'failed' || this.state === 'left') return;
		this.#setState('failed');
		this.safeEmit('failed', error);
	}

	#setState(state: CallState): void {
		this.state = state;
		this.safeEmit('state', state);
	}
}

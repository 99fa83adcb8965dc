import { randomUUID } from 'node:crypto';
import type { WebSocket, RawData } from 'ws';
import type { z } from 'zod';
import {
	plainTransportCryptoSuite,
	RequestEnvelope,
	signalingMethods,
	type ParsedRequestData,
	type ResponseData,
	type SignalingMethod,
	type ResponseEnvelope,
} from '../protocol/signaling.ts';
import { formatIssuePath } from '../protocol/issues.ts';
import type { types } from './mediasoup.ts';
import type { SfuOptions } from './options.ts';
import { preferredLayers } from './layers.ts';
import { Peer, producerAppData, type Notify } from './Peer.ts';
import type { Room } from './Room.ts';
import { SignalingError } from './SignalingError.ts';

/** What a session needs from the server it belongs to. */
export interface SessionHost {
	readonly options: SfuOptions;
	/** The room, created on the least-loaded worker when it does not exist yet. */
	room(roomId: string): Promise<Room>;
	log: { warn(obj: object, msg: string): void; error(obj: object, msg: string): void };
}

const maxTransportsPerPeer = 8;
const maxProducersPerPeer = 16;

type Handlers = {
	[M in SignalingMethod]: (data: ParsedRequestData<M>) => Promise<ResponseData<M>>;
};

/**
 * One signaling connection. Requests run one at a time in arrival order, so a client that
 * pipelines join + createWebRtcTransport gets them applied in that order. Any bad message gets
 * an error reply and the connection stays usable.
 */
export class SignalingSession {
	#peer: Peer | undefined;
	#room: Room | undefined;
	#queue: Promise<void> = Promise.resolve();
	#answered = true;
	readonly #heartbeat: NodeJS.Timeout;
	readonly #onRoomClose = (): void => {
		this.#peer = undefined;
		this.#room = undefined;
	};

	constructor(
		private readonly socket: WebSocket,
		private readonly host: SessionHost,
	) {
		socket.on('message', (raw, isBinary) => this.#receive(raw, isBinary));
		socket.on('pong', () => {
			this.#answered = true;
		});
		// A peer whose process stopped keeps its TCP connection open but answers nothing.
		this.#heartbeat = setInterval(() => {
			if (!this.#answered) {
				host.log.warn({ peerId: this.peerId }, 'signaling peer answered no ping: closing it');
				socket.terminate();
				return;
			}
			this.#answered = false;
			socket.ping();
		}, host.options.heartbeatMs);
		socket.on('close', () => {
			clearInterval(this.#heartbeat);
			this.#queue = this.#queue.then(() => this.#leave());
		});
		socket.on('error', () => socket.terminate());
	}

	get peerId(): string | undefined {
		return this.#peer?.id;
	}

	#receive(raw: RawData, isBinary: boolean): void {
		const bytes = Array.isArray(raw) ? raw.reduce((n, b) => n + b.length, 0) : raw.byteLength;
		if (bytes > this.host.options.maxMessageBytes) {
			this.#reply({
				id: null,
				ok: false,
				error: {
					code: 'message_too_large',
					message: `message of ${bytes} bytes exceeds the ${this.host.options.maxMessageBytes}-byte limit`,
				},
			});
			return;
		}
		if (isBinary) {
			this.#fail(null, new SignalingError('bad_json', 'binary frames are not accepted, send JSON text'));
			return;
		}
		let json: unknown;
		try {
			json = JSON.parse(raw.toString());
		} catch (error) {
			this.#fail(null, new SignalingError('bad_json', `not JSON: ${(error as Error).message}`));
			return;
		}
		const envelope = RequestEnvelope.safeParse(json);
		if (!envelope.success) {
			const issue = envelope.error.issues[0]!;
			const id = idOf(json);
			this.#fail(id, new SignalingError('bad_request', issue.message, formatIssuePath(issue.path)));
			return;
		}
		const { id, method, data } = envelope.data;
		if (!Object.hasOwn(signalingMethods, method)) {
			this.#fail(id, new SignalingError('unknown_method', `unknown method "${method}"`, 'method'));
			return;
		}
		this.#queue = this.#queue.then(() => this.#dispatch(id, method as SignalingMethod, data));
	}

	async #dispatch(id: string | number, method: SignalingMethod, data: unknown): Promise<void> {
		const schema: z.ZodType = signalingMethods[method].request;
		const parsed = schema.safeParse(data ?? {});
		if (!parsed.success) {
			const issue = parsed.error.issues[0]!;
			this.#fail(id, new SignalingError('bad_request', issue.message, formatIssuePath(['data', ...issue.path])));
			return;
		}
		try {
			const handler = this.#handlers[method] as (d: unknown) => Promise<unknown>;
			const result = await handler(parsed.data);
			this.#reply({ id, ok: true, data: result ?? {} });
		} catch (error) {
			this.#fail(id, error);
		}
	}

	#fail(id: string | number | null, error: unknown): void {
		if (error instanceof SignalingError) {
			this.#reply({
				id,
				ok: false,
				error: { code: error.code, message: error.message, ...(error.path ? { path: error.path } : {}) },
			});
			return;
		}
		// mediasoup rejects bad parameters and wrong states by throwing; the request fails, not the server.
		this.host.log.warn({ err: error, peerId: this.peerId }, 'signaling request failed');
		this.#reply({
			id,
			ok: false,
			error: error instanceof Error
				? { code: 'media_error', message: error.message }
				: { code: 'internal', message: String(error) },
		});
	}

	#reply(message: ResponseEnvelope): void {
		if (this.socket.readyState === this.socket.OPEN) this.socket.send(JSON.stringify(message));
	}

	readonly #notify: Notify = (name, data) => {
		if (this.socket.readyState === this.socket.OPEN) this.socket.send(JSON.stringify({ notification: name, data }));
	};

	#joined(): { peer: Peer; room: Room } {
		if (!this.#peer || !this.#room) throw new SignalingError('not_joined', 'join a room first');
		return { peer: this.#peer, room: this.#room };
	}

	async #leave(): Promise<void> {
		const room = this.#room;
		const peer = this.#peer;
		if (!room || !peer) return;
		room.off('close', this.#onRoomClose);
		this.#onRoomClose();
		room.removePeer(peer);
	}

	#transportOptions(direction: 'send' | 'recv'): types.WebRtcTransportOptions {
		const o = this.host.options;
		const base = {
			ip: o.rtcListenIp ?? o.listenIp,
			announcedAddress: o.announcedAddress,
			portRange: { min: o.rtcMinPort, max: o.rtcMaxPort },
		};
		return {
			listenInfos: [
				{ protocol: 'udp', ...base },
				...(o.enableTcp ? [{ protocol: 'tcp' as const, ...base }] : []),
			],
			preferUdp: true,
			initialAvailableOutgoingBitrate: o.initialAvailableOutgoingBitrate,
			appData: { peerId: this.#peer?.id ?? '', direction },
		};
	}

	/** A new transport of the peer, within its limit; closed again if the room reset meanwhile. */
	async #addTransport<T extends types.WebRtcTransport | types.PlainTransport>(create: (router: types.Router, peer: Peer) => Promise<T>): Promise<T> {
		const { peer, room } = this.#joined();
		if (peer.transports.size >= maxTransportsPerPeer) {
			throw new SignalingError('limit_reached', `at most ${maxTransportsPerPeer} transports per peer`);
		}
		const transport = await create(await room.routerOf(peer), peer);
		if (peer.closed) {
			transport.close();
			throw new SignalingError('room_reset', 'the room was reset while the transport was created, join again');
		}
		peer.addTransport(transport);
		return transport;
	}

	readonly #handlers: Handlers = {
		join: async (data) => {
			if (this.#peer) throw new SignalingError('already_joined', `already joined room ${this.#room?.id}, leave first`);
			const room = await this.host.room(data.roomId);
			const peerId = data.peerId ?? randomUUID();
			const peer = new Peer(peerId, data.displayName ?? peerId, data.botKind, this.#notify);
			peer.rtpCapabilities = data.rtpCapabilities;
			const others = room.participants().map((p) => p.info());
			try {
				room.addPeer(peer);
			} catch (error) {
				if (room.peers.size === 0) room.close('empty');
				throw error;
			}
			this.#peer = peer;
			this.#room = room;
			room.once('close', this.#onRoomClose);
			return {
				peerId,
				roomId: room.id,
				routerRtpCapabilities: room.router.rtpCapabilities,
				peers: others,
			};
		},
		getRouterRtpCapabilities: async () => ({ rtpCapabilities: this.#joined().room.router.rtpCapabilities }),
		setRtpCapabilities: async ({ rtpCapabilities }) => {
			this.#joined().peer.rtpCapabilities = rtpCapabilities;
			return {};
		},
		createWebRtcTransport: async ({ direction }) => {
			const transport = await this.#addTransport((router) => router.createWebRtcTransport(this.#transportOptions(direction)));
			return {
				transportId: transport.id,
				iceParameters: transport.iceParameters,
				iceCandidates: transport.iceCandidates,
				dtlsParameters: transport.dtlsParameters,
			};
		},
		createPlainTransport: async () => {
			const o = this.host.options;
			const transport = await this.#addTransport((router, peer) => router.createPlainTransport({
				listenInfo: {
					protocol: 'udp',
					ip: o.rtcListenIp ?? o.listenIp,
					announcedAddress: o.announcedAddress,
					portRange: { min: o.rtcMinPort, max: o.rtcMaxPort },
				},
				rtcpMux: true,
				// The client's address comes from its first packet: it may sit behind NAT or a relay.
				comedia: true,
				enableSrtp: true,
				srtpCryptoSuite: plainTransportCryptoSuite,
				appData: { peerId: peer.id, direction: 'recv' },
			}));
			return {
				transportId: transport.id,
				ip: transport.tuple.localAddress ?? transport.tuple.localIp,
				port: transport.tuple.localPort,
				srtpParameters: { cryptoSuite: plainTransportCryptoSuite, keyBase64: transport.srtpParameters!.keyBase64 },
			};
		},
		connectPlainTransport: async ({ transportId, srtpParameters }) => {
			const transport = this.#joined().peer.plainTransport(transportId);
			await transport.connect({ srtpParameters });
			return {};
		},
		connectWebRtcTransport: async ({ transportId, dtlsParameters }) => {
			const transport = this.#joined().peer.webRtcTransport(transportId);
			await transport.connect({ dtlsParameters: dtlsParameters as types.DtlsParameters });
			return {};
		},
		restartIce: async ({ transportId }) => {
			const transport = this.#joined().peer.webRtcTransport(transportId);
			return { iceParameters: await transport.restartIce() };
		},
		produce: async ({ transportId, kind, rtpParameters, paused, appData }) => {
			const { peer, room } = this.#joined();
			const transport = peer.webRtcTransport(transportId);
			if (transport.appData.direction !== 'send') {
				throw new SignalingError('bad_request', `transport ${transportId} is a recv transport`, 'data.transportId');
			}
			if (peer.producers.size >= maxProducersPerPeer) {
				throw new SignalingError('limit_reached', `at most ${maxProducersPerPeer} producers per peer`);
			}
			const producer = await transport.produce({
				kind,
				rtpParameters: rtpParameters as types.RtpParameters,
				paused,
				appData: { ...appData, peerId: peer.id },
			});
			peer.addProducer(producer);
			await room.listenTo(producer);
			room.broadcast(peer.id, 'newProducer', {
				producerId: producer.id,
				peerId: peer.id,
				kind: producer.kind,
				paused: producer.paused,
				appData: producerAppData(producer),
			});
			return { producerId: producer.id };
		},
		pauseProducer: async ({ producerId }) => {
			await this.#joined().peer.producer(producerId).pause();
			return {};
		},
		resumeProducer: async ({ producerId }) => {
			await this.#joined().peer.producer(producerId).resume();
			return {};
		},
		closeProducer: async ({ producerId }) => {
			const { peer, room } = this.#joined();
			peer.producer(producerId).close();
			room.broadcast(peer.id, 'producerClosed', { producerId, peerId: peer.id });
			return {};
		},
		consume: async ({ transportId, producerId, layer }) => {
			const { peer, room } = this.#joined();
			const transport = peer.transport(transportId);
			if (transport.appData.direction !== 'recv') {
				throw new SignalingError('bad_request', `transport ${transportId} is a send transport`, 'data.transportId');
			}
			const owner = [...room.peers.values()].find((p) => p.producers.has(producerId));
			if (!owner) throw new SignalingError('not_found', `no producer ${producerId} in room ${room.id}`, 'data.producerId');
			if (owner === peer) throw new SignalingError('cannot_consume', 'a peer does not consume its own producer');
			if (!peer.rtpCapabilities) {
				throw new SignalingError('cannot_consume', 'send rtpCapabilities (join or setRtpCapabilities) before consuming');
			}
			const rtpCapabilities = peer.rtpCapabilities as types.RtpCapabilities;
			const router = await room.routerOf(peer);
			await room.bringProducerTo(router, producerId);
			if (!router.canConsume({ producerId, rtpCapabilities })) {
				throw new SignalingError('cannot_consume', `your rtpCapabilities cannot receive producer ${producerId}`);
			}
			const consumer = await transport.consume({ producerId, rtpCapabilities, paused: true });
			peer.addConsumer(consumer);
			const layers = preferredLayers(consumer, layer);
			if (layers) await consumer.setPreferredLayers(layers);
			return {
				consumerId: consumer.id,
				producerId,
				peerId: owner.id,
				kind: consumer.kind,
				rtpParameters: consumer.rtpParameters,
				producerPaused: consumer.producerPaused,
			};
		},
		pauseConsumer: async ({ consumerId }) => {
			await this.#joined().peer.consumer(consumerId).pause();
			return {};
		},
		resumeConsumer: async ({ consumerId }) => {
			await this.#joined().peer.consumer(consumerId).resume();
			return {};
		},
		setConsumerLayer: async ({ consumerId, layer }) => {
			const consumer = this.#joined().peer.consumer(consumerId);
			const layers = preferredLayers(consumer, layer);
			if (layers) await consumer.setPreferredLayers(layers);
			return {};
		},
		closeConsumer: async ({ consumerId }) => {
			this.#joined().peer.consumer(consumerId).close();
			return {};
		},
		leave: async () => {
			this.#joined();
			await this.#leave();
			return {};
		},
	};
}

function idOf(json: unknown): string | number | null {
	if (json && typeof json === 'object' && 'id' in json) {
		const id = (json as { id: unknown }).id;
		if (typeof id === 'string' || typeof id === 'number') return id;
	}
	return null;
}

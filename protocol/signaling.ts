/**
 * WebSocket signaling between a participant (bot page, lite bot, any app) and the SFU.
 *
 * Client -> server:  { id, method, data }            a request
 * Server -> client:  { id, ok: true, data }          its reply
 *                    { id, ok: false, error }        or a typed error (id null when unreadable)
 *                    { notification, data }          events of the room
 */
import { z } from 'zod';
import {
	DtlsParameters,
	IceCandidate,
	IceParameters,
	MediaKind,
	RtpCapabilities,
	RtpParameters,
} from './rtp.ts';

/** Ids of rooms, peers and bots: safe in URLs, logs and file names. */
export const Identifier = z
	.string()
	.min(1)
	.max(128)
	.regex(/^[\w.:@-]+$/, 'only letters, digits and . : @ _ -')
	.refine((id) => !/^\.+$/.test(id), 'must not be only dots');
export const RoomId = Identifier;
export const PeerId = Identifier;
const EntityId = z.string().min(1).max(64);
const AppData = z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).optional();

/**
 * What a participant is. A `viewer` is audience: it only receives, over a plain SRTP transport
 * (no ICE, no DTLS), and the room neither lists nor announces it to the others.
 */
export const BotKind = z.enum(['browser', 'lite', 'app', 'viewer']);
export type BotKind = z.infer<typeof BotKind>;

export const ProducerInfo = z.object({
	producerId: EntityId,
	peerId: PeerId,
	kind: MediaKind,
	paused: z.boolean(),
	appData: AppData,
});
export type ProducerInfo = z.infer<typeof ProducerInfo>;

/**
 * The video layer a receiver asks for (simulcast or SVC senders): "auto" lets the SFU send the
 * highest its bandwidth estimate allows; "low", "medium" and "high" also cap it there.
 */
export const VideoLayer = z.enum(['low', 'medium', 'high', 'auto']);
export type VideoLayer = z.infer<typeof VideoLayer>;

export const PeerInfo = z.object({
	peerId: PeerId,
	displayName: z.string(),
	botKind: BotKind,
	producers: z.array(ProducerInfo),
});
export type PeerInfo = z.infer<typeof PeerInfo>;

const Empty = z.object({}).default({});

/**
 * SDES keying of a plain transport: master key and salt, base64 (16 + 12 bytes). AES-GCM, the
 * family the SFU settles on with browsers over DTLS, so a viewer costs the SFU about what a browser does.
 */
export const plainTransportCryptoSuite = 'AEAD_AES_128_GCM';
export const SrtpParameters = z.object({
	cryptoSuite: z.literal(plainTransportCryptoSuite),
	keyBase64: z.string().regex(/^[A-Za-z0-9+/]{38}(==)?$/, 'must be 28 bytes in base64 (40 characters with its padding)'),
});
export type SrtpParameters = z.infer<typeof SrtpParameters>;

/** Every request method: the shape of its `data` and of its reply's `data`. */
export const signalingMethods = {
	join: {
		request: z.object({
			roomId: RoomId,
			peerId: PeerId.optional(),
			displayName: z.string().max(200).optional(),
			botKind: BotKind.default('app'),
			rtpCapabilities: RtpCapabilities.optional(),
		}),
		response: z.object({
			peerId: PeerId,
			roomId: RoomId,
			routerRtpCapabilities: RtpCapabilities,
			peers: z.array(PeerInfo),
		}),
	},
	getRouterRtpCapabilities: {
		request: Empty,
		response: z.object({ rtpCapabilities: RtpCapabilities }),
	},
	setRtpCapabilities: {
		request: z.object({ rtpCapabilities: RtpCapabilities }),
		response: Empty,
	},
	createWebRtcTransport: {
		request: z.object({ direction: z.enum(['send', 'recv']) }),
		response: z.object({
			transportId: EntityId,
			iceParameters: IceParameters,
			iceCandidates: z.array(IceCandidate),
			dtlsParameters: DtlsParameters,
		}),
	},
	connectWebRtcTransport: {
		request: z.object({ transportId: EntityId, dtlsParameters: DtlsParameters }),
		response: Empty,
	},
	/**
	 * A receive-only transport without ICE or DTLS, for viewers: SRTP with keys given here. The
	 * SFU learns the client's address from its first packet (send RTCP first); RTCP is muxed.
	 */
	createPlainTransport: {
		request: Empty,
		response: z.object({
			transportId: EntityId,
			ip: z.string(),
			port: z.number().int().min(1).max(65535),
			srtpParameters: SrtpParameters,
		}),
	},
	/** The client's SRTP key (for the RTCP it sends). */
	connectPlainTransport: {
		request: z.object({ transportId: EntityId, srtpParameters: SrtpParameters }),
		response: Empty,
	},
	restartIce: {
		request: z.object({ transportId: EntityId }),
		response: z.object({ iceParameters: IceParameters }),
	},
	produce: {
		request: z.object({
			transportId: EntityId,
			kind: MediaKind,
			rtpParameters: RtpParameters,
			paused: z.boolean().default(false),
			appData: AppData,
		}),
		response: z.object({ producerId: EntityId }),
	},
	pauseProducer: { request: z.object({ producerId: EntityId }), response: Empty },
	resumeProducer: { request: z.object({ producerId: EntityId }), response: Empty },
	closeProducer: { request: z.object({ producerId: EntityId }), response: Empty },
	consume: {
		request: z.object({ transportId: EntityId, producerId: EntityId, layer: VideoLayer.default('auto') }),
		response: z.object({
			consumerId: EntityId,
			producerId: EntityId,
			peerId: PeerId,
			kind: MediaKind,
			rtpParameters: RtpParameters,
			producerPaused: z.boolean(),
		}),
	},
	pauseConsumer: { request: z.object({ consumerId: EntityId }), response: Empty },
	resumeConsumer: { request: z.object({ consumerId: EntityId }), response: Empty },
	closeConsumer: { request: z.object({ consumerId: EntityId }), response: Empty },
	/** Changes the layer a video consumer of a simulcast or SVC producer asks for. */
	setConsumerLayer: { request: z.object({ consumerId: EntityId, layer: VideoLayer }), response: Empty },
	leave: { request: Empty, response: Empty },
} as const;

export type SignalingMethod = keyof typeof signalingMethods;
export const SignalingMethod = z.enum(
	Object.keys(signalingMethods) as [SignalingMethod, ...SignalingMethod[]],
);
export type RequestData<M extends SignalingMethod> = z.input<(typeof signalingMethods)[M]['request']>;
export type ParsedRequestData<M extends SignalingMethod> = z.output<
	(typeof signalingMethods)[M]['request']
>;
export type ResponseData<M extends SignalingMethod> = z.infer<
	(typeof signalingMethods)[M]['response']
>;

export const RequestEnvelope = z.object({
	id: z.union([z.number().int(), z.string().max(64)]),
	method: z.string().max(64),
	data: z.unknown().optional(),
});
export type RequestEnvelope = z.infer<typeof RequestEnvelope>;

export const SignalingErrorCode = z.enum([
	'bad_json',
	'bad_request',
	'unknown_method',
	'message_too_large',
	'not_joined',
	'already_joined',
	'not_found',
	'limit_reached',
	'cannot_consume',
	'media_error',
	'room_reset',
	'internal',
]);
export type SignalingErrorCode = z.infer<typeof SignalingErrorCode>;

export const SignalingError = z.object({
	code: SignalingErrorCode,
	message: z.string(),
	/** For bad_request: where in `data` the problem is, e.g. "rtpParameters.codecs[0].payloadType". */
	path: z.string().optional(),
});
export type SignalingError = z.infer<typeof SignalingError>;

export const ResponseEnvelope = z.discriminatedUnion('ok', [
	z.object({ id: z.union([z.number(), z.string()]), ok: z.literal(true), data: z.unknown() }),
	z.object({ id: z.union([z.number(), z.string(), z.null()]), ok: z.literal(false), error: SignalingError }),
]);
export type ResponseEnvelope = z.infer<typeof ResponseEnvelope>;

/** Server -> client events. */
export const signalingNotifications = {
	peerJoined: z.object({ peerId: PeerId, displayName: z.string(), botKind: BotKind }),
	peerLeft: z.object({ peerId: PeerId }),
	newProducer: ProducerInfo,
	producerClosed: z.object({ producerId: EntityId, peerId: PeerId }),
	consumerClosed: z.object({ consumerId: EntityId, producerId: EntityId }),
	consumerPaused: z.object({ consumerId: EntityId }),
	consumerResumed: z.object({ consumerId: EntityId }),
	/** The room's dominant speaker changed (mediasoup's ActiveSpeakerObserver over audio levels). */
	activeSpeaker: z.object({ peerId: PeerId }),
	/**
	 * Who is loud now, loudest first (mediasoup's AudioLevelObserver): sent when that set of
	 * peers changes, empty when the room falls silent. Top-N audio receivers follow it.
	 */
	audioLevels: z.object({ peerIds: z.array(PeerId).max(100) }),
	/** The room's media worker died: all media state of the room is gone, join again. */
	roomReset: z.object({ roomId: RoomId, reason: z.string() }),
} as const;

export type SignalingNotificationName = keyof typeof signalingNotifications;
export type NotificationData<N extends SignalingNotificationName> = z.infer<
	(typeof signalingNotifications)[N]
>;

export const NotificationEnvelope = z.object({
	notification: z.string(),
	data: z.unknown(),
});

/**
 * The mediasoup RTP and transport parameter shapes that cross the signaling wire.
 * Structure is checked here; semantic checks (codec support, SSRC clashes) stay with mediasoup,
 * whose errors the SFU turns into typed error replies.
 */
import { z } from 'zod';

export const MediaKind = z.enum(['audio', 'video']);
export type MediaKind = z.infer<typeof MediaKind>;

const codecParameters = z.record(z.string(), z.unknown());

const RtcpFeedback = z.looseObject({
	type: z.string(),
	parameter: z.string().optional(),
});

export const RtpCodecCapability = z.looseObject({
	kind: MediaKind,
	mimeType: z.string().regex(/^(audio|video)\/.+$/, 'must be "audio/<codec>" or "video/<codec>"'),
	preferredPayloadType: z.number().int().min(0).max(127).optional(),
	clockRate: z.number().int().positive(),
	channels: z.number().int().positive().optional(),
	parameters: codecParameters.optional(),
	rtcpFeedback: z.array(RtcpFeedback).optional(),
});

const RtpHeaderExtension = z.looseObject({
	kind: MediaKind,
	uri: z.string(),
	preferredId: z.number().int(),
	preferredEncrypt: z.boolean().optional(),
	direction: z.enum(['sendrecv', 'sendonly', 'recvonly', 'inactive']).optional(),
});

export const RtpCapabilities = z.looseObject({
	codecs: z.array(RtpCodecCapability).max(64).optional(),
	headerExtensions: z.array(RtpHeaderExtension).max(64).optional(),
});
export type RtpCapabilities = z.infer<typeof RtpCapabilities>;

const RtpCodecParameters = z.looseObject({
	mimeType: z.string().regex(/^(audio|video)\/.+$/, 'must be "audio/<codec>" or "video/<codec>"'),
	payloadType: z.number().int().min(0).max(127),
	clockRate: z.number().int().positive(),
	channels: z.number().int().positive().optional(),
	parameters: codecParameters.optional(),
	rtcpFeedback: z.array(RtcpFeedback).optional(),
});

const RtpEncodingParameters = z.looseObject({
	ssrc: z.number().int().nonnegative().optional(),
	rid: z.string().optional(),
	codecPayloadType: z.number().int().optional(),
	rtx: z.object({ ssrc: z.number().int().nonnegative() }).optional(),
	dtx: z.boolean().optional(),
	scalabilityMode: z.string().optional(),
	maxBitrate: z.number().nonnegative().optional(),
});

export const RtpParameters = z.looseObject({
	mid: z.string().optional(),
	codecs: z.array(RtpCodecParameters).min(1).max(32),
	headerExtensions: z
		.array(z.looseObject({ uri: z.string(), id: z.number().int(), encrypt: z.boolean().optional() }))
		.max(32)
		.optional(),
	encodings: z.array(RtpEncodingParameters).max(8).optional(),
	rtcp: z
		.looseObject({ cname: z.string().optional(), reducedSize: z.boolean().optional() })
		.optional(),
});
export type RtpParameters = z.infer<typeof RtpParameters>;

export const DtlsParameters = z.looseObject({
	role: z.enum(['auto', 'client', 'server']).optional(),
	fingerprints: z
		.array(z.object({ algorithm: z.string(), value: z.string() }))
		.min(1)
		.max(8),
});
export type DtlsParameters = z.infer<typeof DtlsParameters>;

export const IceParameters = z.looseObject({
	usernameFragment: z.string(),
	password: z.string(),
	iceLite: z.boolean().optional(),
});

export const IceCandidate = z.looseObject({
	foundation: z.string(),
	priority: z.number(),
	address: z.string(),
	protocol: z.enum(['udp', 'tcp']),
	port: z.number().int(),
	type: z.string(),
	tcpType: z.string().optional(),
});
export type IceCandidate = z.infer<typeof IceCandidate>;

/**
 * Telemetry from participants (and the SFU) to the collector: POST /v1/telemetry.
 *
 * A batch carries raw W3C getStats() reports, exactly as `[...report.values()]` gives them,
 * so any WebRTC app can post its own stats; the collector normalises them. Unknown stats types
 * and fields are ignored. A known field with a wrong type rejects that snapshot, and the reply
 * names the field path.
 */
import { z } from 'zod';
import { Identifier, PeerId, RoomId } from './signaling.ts';

export const RunId = z
	.string()
	.min(1)
	.max(64)
	.regex(/^[\w.-]+$/, 'only letters, digits and . _ -');
export type RunId = z.infer<typeof RunId>;


export const SourceKind = z.enum(['browser', 'lite', 'sfu']);
export type SourceKind = z.infer<typeof SourceKind>;

export const TelemetrySource = z.object({
	/** The process-level identity: a bot, or an SFU instance. */
	botId: Identifier,
	/** Room and peer of the participant; '-' for an SFU. */
	roomId: RoomId,
	peerId: PeerId,
	kind: SourceKind,
	userAgent: z.string().max(512).optional(),
});
export type TelemetrySource = z.infer<typeof TelemetrySource>;

/** Something that happened to a participant, as opposed to a sampled metric. */
export const ParticipantEventType = z.enum(['join', 'first-media', 'leave', 'fail', 'reconnect']);
export type ParticipantEventType = z.infer<typeof ParticipantEventType>;

export const ParticipantEvent = z.object({
	type: ParticipantEventType,
	/** Epoch milliseconds. */
	ts: z.number().positive(),
	/** join: time to join; first-media: join request to first decoded frame / first audio; reconnect: time to rejoin. */
	durationMs: z.number().nonnegative().optional(),
	/** fail / leave / reconnect: why. */
	reason: z.string().max(2000).optional(),
	mediaKind: z.enum(['audio', 'video']).optional(),
	attempt: z.number().int().positive().optional(),
});
export type ParticipantEvent = z.infer<typeof ParticipantEvent>;

const isStatsObject = (value: unknown): value is Record<string, unknown> =>
	typeof value === 'object' && value !== null && !Array.isArray(value);

export const StatsSnapshot = z.object({
	/** Epoch milliseconds when getStats() resolved. */
	ts: z.number().positive(),
	/** Which connection of the participant, e.g. "send" / "recv". */
	pc: z.string().max(32).default(''),
	/** `[...report.values()]`; each entry is checked only when its type is one callswarm reads. */
	stats: z
		.array(z.custom<Record<string, unknown>>(isStatsObject, 'must be a stats object'))
		.max(5000),
});
export type StatsSnapshot = z.infer<typeof StatsSnapshot>;
export type StatsSnapshotInput = z.input<typeof StatsSnapshot>;

export const TelemetryBatch = z.object({
	/** Unique per batch: a retried batch with the same id is stored once. */
	batchId: z.string().min(8).max(128),
	runId: RunId,
	source: TelemetrySource,
	snapshots: z.array(StatsSnapshot).max(2000).default([]),
	events: z.array(ParticipantEvent).max(2000).default([]),
});
export type TelemetryBatch = z.infer<typeof TelemetryBatch>;
export type TelemetryBatchInput = z.input<typeof TelemetryBatch>;

/** The request body: one batch, or many (e.g. every bot of a load generator) at once. */
export const TelemetryRequest = z.object({
	batches: z.array(TelemetryBatch).min(1).max(5000),
});
export type TelemetryRequestInput = z.input<typeof TelemetryRequest>;

export const TelemetryResponse = z.object({
	accepted: z.number().int(),
	duplicates: z.number().int(),
	samples: z.number().int(),
	events: z.number().int(),
	rejected: z.array(
		z.object({ batchId: z.string(), path: z.string(), message: z.string() }),
	),
});
export type TelemetryResponse = z.infer<typeof TelemetryResponse>;

// ---- The stats types callswarm reads (W3C webrtc-stats names and units) ----

const counter = z.number().nonnegative();
const num = z.number();
const MediaKindField = z.enum(['audio', 'video']);

const base = { id: z.string(), timestamp: num };

export const InboundRtpStats = z.object({
	...base,
	type: z.literal('inbound-rtp'),
	ssrc: z.number().int().nonnegative(),
	kind: MediaKindField.optional(),
	mediaType: MediaKindField.optional(),
	trackIdentifier: z.string().optional(),
	mid: z.string().optional(),
	transportId: z.string().optional(),
	packetsReceived: counter.optional(),
	/** May go negative with duplicates (RFC 3550); deltas handle that. */
	packetsLost: num.optional(),
	bytesReceived: counter.optional(),
	/** Seconds. */
	jitter: counter.optional(),
	framesDecoded: counter.optional(),
	framesDropped: counter.optional(),
	framesPerSecond: counter.optional(),
	frameWidth: counter.optional(),
	frameHeight: counter.optional(),
	freezeCount: counter.optional(),
	/** Seconds. */
	totalFreezesDuration: counter.optional(),
	/** Seconds, summed over emitted samples/frames. */
	jitterBufferDelay: counter.optional(),
	jitterBufferEmittedCount: counter.optional(),
	concealedSamples: counter.optional(),
	totalSamplesReceived: counter.optional(),
	nackCount: counter.optional(),
	pliCount: counter.optional(),
	firCount: counter.optional(),
});
export type InboundRtpStats = z.infer<typeof InboundRtpStats>;

export const OutboundRtpStats = z.object({
	...base,
	type: z.literal('outbound-rtp'),
	ssrc: z.number().int().nonnegative(),
	kind: MediaKindField.optional(),
	mediaType: MediaKindField.optional(),
	mid: z.string().optional(),
	transportId: z.string().optional(),
	packetsSent: counter.optional(),
	bytesSent: counter.optional(),
	framesEncoded: counter.optional(),
	framesPerSecond: counter.optional(),
	frameWidth: counter.optional(),
	frameHeight: counter.optional(),
	qualityLimitationReason: z.string().max(32).optional(),
	nackCount: counter.optional(),
	pliCount: counter.optional(),
	firCount: counter.optional(),
	targetBitrate: counter.optional(),
	retransmittedPacketsSent: counter.optional(),
});
export type OutboundRtpStats = z.infer<typeof OutboundRtpStats>;

export const RemoteInboundRtpStats = z.object({
	...base,
	type: z.literal('remote-inbound-rtp'),
	ssrc: z.number().int().nonnegative(),
	kind: MediaKindField.optional(),
	mediaType: MediaKindField.optional(),
	transportId: z.string().optional(),
	packetsLost: num.optional(),
	/** 0..1, from the last receiver report. */
	fractionLost: counter.optional(),
	jitter: counter.optional(),
	roundTripTime: counter.optional(),
});
export type RemoteInboundRtpStats = z.infer<typeof RemoteInboundRtpStats>;

export const CandidatePairStats = z.object({
	...base,
	type: z.literal('candidate-pair'),
	transportId: z.string().optional(),
	state: z.string().max(32).optional(),
	nominated: z.boolean().optional(),
	/** Firefox marks the pair in use this way. */
	selected: z.boolean().optional(),
	currentRoundTripTime: counter.optional(),
	availableOutgoingBitrate: counter.optional(),
	availableIncomingBitrate: counter.optional(),
	bytesSent: counter.optional(),
	bytesReceived: counter.optional(),
});
export type CandidatePairStats = z.infer<typeof CandidatePairStats>;

export const TransportStats = z.object({
	...base,
	type: z.literal('transport'),
	selectedCandidatePairId: z.string().optional(),
});
export type TransportStats = z.infer<typeof TransportStats>;

/** Server-side load, posted by callswarm's SFU reporter with source kind "sfu". */
export const SfuWorkerStats = z.object({
	...base,
	type: z.literal('sfu-worker'),
	worker: z.number().int().nonnegative(),
	pid: z.number().int().nonnegative(),
	/** Cumulative CPU seconds of the worker process. */
	cpuSeconds: counter,
	maxRssBytes: counter,
	rooms: counter,
	peers: counter,
	producers: counter,
	consumers: counter,
});
export type SfuWorkerStats = z.infer<typeof SfuWorkerStats>;

/** The stats types read, by W3C type name; every other type is ignored. */
export const knownStatsTypes = {
	'inbound-rtp': InboundRtpStats,
	'outbound-rtp': OutboundRtpStats,
	'remote-inbound-rtp': RemoteInboundRtpStats,
	'candidate-pair': CandidatePairStats,
	transport: TransportStats,
	'sfu-worker': SfuWorkerStats,
} as const;
export type KnownStatsType = keyof typeof knownStatsTypes;
export type KnownStats = z.infer<(typeof knownStatsTypes)[KnownStatsType]>;

const knownFields = Object.fromEntries(
	Object.entries(knownStatsTypes).map(([type, schema]) => [type, Object.keys(schema.shape)]),
) as Record<KnownStatsType, string[]>;

/**
 * A stats report cut down to what the collector reads: the known types with their known
 * fields. Senders that do not ask for raw-report drill-down use it to send (and have the
 * collector parse) about a quarter of the bytes. Cheap enough to run in the bot page.
 */
export function keepKnownStats(stats: ReadonlyArray<Record<string, unknown>>): Array<Record<string, unknown>> {
	const out: Array<Record<string, unknown>> = [];
	for (const stat of stats) {
		const fields = knownFields[stat.type as KnownStatsType];
		if (!fields) continue;
		const kept: Record<string, unknown> = {};
		for (const field of fields) if (stat[field] !== undefined) kept[field] = stat[field];
		out.push(kept);
	}
	return out;
}

/**
 * Telemetry from participants (and the SFU) to the collector: POST /v1/telemetry.
 *
 * A batch carries raw W3C getStats() reports, exactly as `[...report.values()]` gives them,
 * so any WebRTC app can post its own stats (or the same as compact rows: protocol/compact.ts);
 * the collector normalises them. Unknown stats types
 * and fields are ignored. A known field with a wrong type rejects that snapshot, and the reply
 * names the field path.
 */
import { z } from 'zod';
import { reservedColumnNames, type StatsRows } from './compact.ts';
import { processCountShape } from './metrics.ts';
import { Identifier, PeerId, RoomId } from './signaling.ts';

/** Run ids name output folders and URLs: no "." or ".." (they would mean a parent folder). */
export const RunId = z
	.string()
	.min(1)
	.max(64)
	.regex(/^[\w.-]+$/, 'only letters, digits and . _ -')
	.refine((id) => !/^\.+$/.test(id), 'must not be only dots');
export type RunId = z.infer<typeof RunId>;

// ---- bounds: every number and string that reaches a column fits that column ----

/** 2000-01-01 .. 2100-01-01: what any real clock gives, and far inside DateTime64(3)'s range. */
export const epochMsRange = { min: 946_684_800_000, max: 4_102_444_800_000 } as const;

/** A wall-clock instant in epoch milliseconds. */
export const EpochMs = z
	.number()
	.min(epochMsRange.min, 'must be epoch milliseconds (after 2000-01-01)')
	.max(epochMsRange.max, 'must be epoch milliseconds (before 2100-01-01)');

/** Largest count a counter may carry: exact in a double and in an Int64 column. */
export const maxCount = Number.MAX_SAFE_INTEGER;
const counter = z.number().nonnegative().max(maxCount, `must be at most ${maxCount}`);
/** Counters that may go negative (packetsLost with duplicates, RFC 3550). */
const signedCounter = z.number().min(-maxCount, `must be at least -${maxCount}`).max(maxCount, `must be at most ${maxCount}`);
const uint32 = z.number().int().nonnegative().max(0xffff_ffff, 'must fit 32 bits (at most 4294967295)');
/** A stats object id or reference: long enough for every browser's ids, short enough for a row. */
const statsId = z.string().max(256);
const shortText = z.string().max(64);


export const SourceKind = z.enum(['browser', 'lite', 'viewer', 'sfu', 'generator', 'app']);
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
	ts: EpochMs,
	/** join: time to join; first-media: join request to first decoded frame / first audio; reconnect: time to rejoin. At most a day. */
	durationMs: z.number().nonnegative().max(86_400_000, 'must be at most a day (86400000 ms)').optional(),
	/** fail / leave / reconnect: why. */
	reason: z.string().max(2000).optional(),
	mediaKind: z.enum(['audio', 'video']).optional(),
	attempt: z.number().int().positive().max(1_000_000).optional(),
});
export type ParticipantEvent = z.infer<typeof ParticipantEvent>;

const isStatsObject = (value: unknown): value is Record<string, unknown> =>
	typeof value === 'object' && value !== null && !Array.isArray(value);

export const StatsSnapshot = z.object({
	/** Epoch milliseconds when getStats() resolved. */
	ts: EpochMs,
	/** Which connection of the participant, e.g. "send" / "recv". */
	pc: z.string().max(32).default(''),
	/** `[...report.values()]`; each entry is checked only when its type is one callswarm reads. */
	stats: z
		.array(z.custom<Record<string, unknown>>(isStatsObject, 'must be a stats object'))
		.max(5000),
});
export type StatsSnapshot = z.infer<typeof StatsSnapshot>;
export type StatsSnapshotInput = z.input<typeof StatsSnapshot>;

/** A snapshot as sent: stats objects, or rows in the batch's columns (protocol/compact.ts), or both. */
const WireSnapshot = StatsSnapshot.extend({
	stats: StatsSnapshot.shape.stats.default([]),
	/** Per stats type, rows of values in the order of the batch's `columns`. */
	rows: z.custom<StatsRows>(isStatsObject, 'must be an object of rows per stats type').optional(),
});
export type WireSnapshot = z.output<typeof WireSnapshot>;

/** Per stats type, the fields of its compact rows, in order ("type" is the key, not a column). */
export const StatsColumns = z.record(
	z.string().min(1).max(64),
	z.array(z.string().min(1).max(128).refine((name) => !reservedColumnNames.has(name), 'is not a field name ("type" is the key of the columns)')).min(1).max(256),
);
export type StatsColumns = z.infer<typeof StatsColumns>;

export const TelemetryBatch = z.object({
	/** Unique per batch: a retried batch with the same id is stored once. */
	batchId: z.string().min(8).max(128),
	runId: RunId,
	source: TelemetrySource,
	/** The fields of the compact rows of this batch's snapshots and baseline, per stats type. */
	columns: StatsColumns.optional(),
	snapshots: z.array(WireSnapshot).max(2000).default([]),
	events: z.array(ParticipantEvent).max(2000).default([]),
	/**
	 * The sender's latest snapshot of each connection before this batch, cut to its counters:
	 * deltas are then computed from the batch alone, so any collector (or worker) can take any
	 * batch. Without it the collector remembers the previous snapshot itself (one collector).
	 */
	baseline: z.array(WireSnapshot).max(100).default([]),
});
export type TelemetryBatch = z.infer<typeof TelemetryBatch>;
export type TelemetryBatchInput = z.input<typeof TelemetryBatch>;
/** A batch as callswarm's senders build it, of stats objects (`compactBatch` gives its compact wire form). */
export type ObjectBatchInput = Omit<TelemetryBatchInput, 'columns' | 'snapshots' | 'baseline'> & { snapshots?: StatsSnapshotInput[]; baseline?: StatsSnapshotInput[] };

/** A participant's source (its room and peer ids name it as a bot too), or a server-side one (roomId and peerId "-"). */
export function participantSource(kind: SourceKind, roomId: string, peerId: string, userAgent?: string): TelemetrySource {
	return { botId: peerId, roomId, peerId, kind, ...(userAgent ? { userAgent } : {}) };
}

export function serverSource(kind: 'sfu' | 'generator', id: string): TelemetrySource {
	return { botId: id, roomId: '-', peerId: '-', kind };
}

/** A telemetry batch with a fresh id: the one way callswarm's own senders build them (browser or Node). */
export function newBatch(runId: string, source: TelemetrySource, snapshots: StatsSnapshotInput[] = [], events: ParticipantEvent[] = []): ObjectBatchInput {
	return { batchId: globalThis.crypto.randomUUID(), runId, source, snapshots, events };
}

/** The request body: one batch, or many (e.g. every bot of a load generator) at once. */
export const TelemetryRequest = z.object({
	batches: z.array(TelemetryBatch).min(1).max(5000),
});
export type TelemetryRequestInput = z.input<typeof TelemetryRequest>;

/**
 * The query of both telemetry routes. `sentAt`: when the sender sent this request, by its own
 * clock, set again on every attempt (not when its batches were made): with it, the collector
 * corrects the times of a sender whose clock is far off its own (senderClockShift).
 */
export const TelemetryQuery = z.object({
	sentAt: z.string().regex(/^\d{1,16}$/, 'must be epoch milliseconds').transform(Number).pipe(EpochMs).optional(),
});

/**
 * A sender's clock no further than this from the collector's is taken as right: the gap between
 * `sentAt` and the request's arrival is also its time in transit (a slow upload from a phone, a
 * collector's queue), which no correction may add to right times. A clock further off than any
 * request takes (a device set by hand, to another time zone, or never set) is corrected.
 */
export const clockToleranceMs = 60_000;

/** How much to add to a request's times: the collector's clock less the sender's, when that is beyond the tolerance; else 0. */
export function senderClockShift(sentAt: number | undefined, receivedAt: number): number {
	if (sentAt === undefined) return 0;
	const behind = receivedAt - sentAt;
	return Math.abs(behind) > clockToleranceMs ? behind : 0;
}

/** Moves a batch's snapshot, baseline and event times by `shiftMs` (in place): its times by the collector's clock. */
export function shiftBatchTimes(batch: { snapshots: Array<{ ts: number }>; baseline: Array<{ ts: number }>; events: Array<{ ts: number }> }, shiftMs: number): void {
	if (shiftMs === 0) return;
	for (const list of [batch.snapshots, batch.baseline, batch.events]) for (const item of list) item.ts += shiftMs;
}

export const TelemetryResponse = z.object({
	accepted: z.number().int(),
	duplicates: z.number().int(),
	samples: z.number().int(),
	events: z.number().int(),
	rejected: z.array(
		z.object({ batchId: z.string(), path: z.string(), message: z.string() }),
	),
	/** The sender's clock was this far behind the collector's (ms; negative: ahead), beyond the tolerance: every time of the request was moved by it. */
	clockShiftMs: z.number().int().optional(),
});
export type TelemetryResponse = z.infer<typeof TelemetryResponse>;

// ---- The stats types callswarm reads (W3C webrtc-stats names and units) ----

const MediaKindField = z.enum(['audio', 'video']);
/** Seconds (jitter, RTT, cumulative durations). */
const seconds = counter;

const base = { id: statsId, timestamp: z.number() };

export const InboundRtpStats = z.object({
	...base,
	type: z.literal('inbound-rtp'),
	ssrc: uint32,
	kind: MediaKindField.optional(),
	mediaType: MediaKindField.optional(),
	trackIdentifier: statsId.optional(),
	mid: shortText.optional(),
	/** "screenshare" for a shared screen (libwebrtc's name; callswarm's capture sets it when the browser does not). */
	contentType: shortText.optional(),
	transportId: statsId.optional(),
	packetsReceived: counter.optional(),
	/** May go negative with duplicates (RFC 3550); deltas handle that. */
	packetsLost: signedCounter.optional(),
	bytesReceived: counter.optional(),
	/** Seconds. */
	jitter: seconds.optional(),
	framesDecoded: counter.optional(),
	framesDropped: counter.optional(),
	framesPerSecond: counter.optional(),
	frameWidth: counter.optional(),
	frameHeight: counter.optional(),
	freezeCount: counter.optional(),
	/** Seconds. */
	totalFreezesDuration: seconds.optional(),
	/** Seconds, summed over emitted samples/frames. */
	jitterBufferDelay: seconds.optional(),
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
	ssrc: uint32,
	kind: MediaKindField.optional(),
	mediaType: MediaKindField.optional(),
	mid: shortText.optional(),
	contentType: shortText.optional(),
	transportId: statsId.optional(),
	packetsSent: counter.optional(),
	bytesSent: counter.optional(),
	framesEncoded: counter.optional(),
	framesPerSecond: counter.optional(),
	frameWidth: counter.optional(),
	frameHeight: counter.optional(),
	qualityLimitationReason: shortText.optional(),
	/** Seconds spent limited by each reason since the stream started. */
	qualityLimitationDurations: z.object({ none: counter, cpu: counter, bandwidth: counter, other: counter }).partial().optional(),
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
	ssrc: uint32,
	kind: MediaKindField.optional(),
	mediaType: MediaKindField.optional(),
	transportId: statsId.optional(),
	packetsLost: signedCounter.optional(),
	/** 0..1, from the last receiver report. */
	fractionLost: z.number().min(0).max(1).optional(),
	jitter: seconds.optional(),
	roundTripTime: seconds.optional(),
});
export type RemoteInboundRtpStats = z.infer<typeof RemoteInboundRtpStats>;

export const CandidatePairStats = z.object({
	...base,
	type: z.literal('candidate-pair'),
	transportId: statsId.optional(),
	state: shortText.optional(),
	nominated: z.boolean().optional(),
	/** Firefox marks the pair in use this way. */
	selected: z.boolean().optional(),
	currentRoundTripTime: seconds.optional(),
	availableOutgoingBitrate: counter.optional(),
	availableIncomingBitrate: counter.optional(),
	bytesSent: counter.optional(),
	bytesReceived: counter.optional(),
});
export type CandidatePairStats = z.infer<typeof CandidatePairStats>;

export const TransportStats = z.object({
	...base,
	type: z.literal('transport'),
	selectedCandidatePairId: statsId.optional(),
});
export type TransportStats = z.infer<typeof TransportStats>;

/**
 * End-to-end delay as callswarm's capture measures it on a received track: for video, marks
 * drawn into the sender's frames, read off every decoded frame; for audio, bursts in the
 * sender's microphone, heard in the received audio (frames: bursts heard; marks: bursts decoded)
 * (capture/e2e.ts). Counters are cumulative since the track started; `sender` is the sending
 * participant (the load generator names it from `senderMark`, the 16-bit id in the marks).
 */
export const E2eStats = z.object({
	...base,
	type: z.literal('callswarm-e2e'),
	kind: MediaKindField,
	senderMark: z.number().int().min(0).max(0xffff),
	sender: statsId.optional(),
	framesSeen: counter,
	marksRead: counter,
	/** Sum of the delays of the marks read (video: capture to decode; audio: microphone to playout), ms (negative only with skewed clocks). */
	delaySumMs: signedCounter,
	freezeCount: counter,
	frozenMs: counter,
});
export type E2eStats = z.infer<typeof E2eStats>;

/** Server-side load, posted by callswarm's SFU reporter with source kind "sfu". */
export const SfuWorkerStats = z.object({
	...base,
	type: z.literal('sfu-worker'),
	worker: uint32,
	pid: uint32,
	/** Cumulative CPU seconds of the worker process. */
	cpuSeconds: counter,
	maxRssBytes: counter,
	rooms: uint32,
	peers: uint32,
	producers: uint32,
	consumers: uint32,
});
export type SfuWorkerStats = z.infer<typeof SfuWorkerStats>;

/**
 * Health of one load-generator process (or the whole machine), posted by callswarm's run
 * with source kind "generator": a generator that saturates makes the run's figures suspect.
 */
export const GeneratorProcessStats = z.object({
	...base,
	type: z.literal('generator-process'),
	role: z.enum(['runner', 'browser', 'lite', 'machine']),
	pid: uint32,
	/** Percent of one core (a process) or of the whole machine (role machine). */
	cpuPct: z.number().min(0).max(100_000),
	/** Event-loop delay p99 over the interval, ms (Node processes). */
	lagMs: z.number().min(0).max(3_600_000).optional(),
	rssBytes: counter,
	saturated: z.boolean(),
	/**
	 * The figures the process's bots (lite bots, viewers) judged so far, per metric, and how many
	 * of them were withheld because the process itself stood still (e.g. roundTripsJudged,
	 * roundTripsWithheld for rtt_ms): cumulative.
	 */
	...processCountShape(uint32.optional()),
});
export type GeneratorProcessStats = z.infer<typeof GeneratorProcessStats>;

/** The stats types read, by W3C type name; every other type is ignored. */
export const knownStatsTypes = {
	'inbound-rtp': InboundRtpStats,
	'outbound-rtp': OutboundRtpStats,
	'remote-inbound-rtp': RemoteInboundRtpStats,
	'candidate-pair': CandidatePairStats,
	transport: TransportStats,
	'sfu-worker': SfuWorkerStats,
	'generator-process': GeneratorProcessStats,
	'callswarm-e2e': E2eStats,
} as const;
export type KnownStatsType = keyof typeof knownStatsTypes;
export type KnownStats = z.infer<(typeof knownStatsTypes)[KnownStatsType]>;

/** The known type of a stats object, or undefined ("__proto__" and other inherited names are not types). */
export function knownStatsType(type: unknown): KnownStatsType | undefined {
	return typeof type === 'string' && Object.hasOwn(knownStatsTypes, type) ? (type as KnownStatsType) : undefined;
}


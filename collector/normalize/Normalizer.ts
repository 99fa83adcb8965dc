import { expandSnapshot, statsPath } from '../../protocol/compact.ts';
import { formatIssuePath } from '../../protocol/issues.ts';
import { storedCounts } from '../../protocol/metrics.ts';
import {
	knownStatsType,
	knownStatsTypes,
	type CandidatePairStats,
	type E2eStats,
	type GeneratorProcessStats,
	type InboundRtpStats,
	type KnownStats,
	type OutboundRtpStats,
	type RemoteInboundRtpStats,
	type SfuWorkerStats,
	type TelemetryBatch,
} from '../../protocol/telemetry.ts';
import type { EventRow, GeneratorSampleRow, RawReportRow, SampleRow, SfuSampleRow } from '../store/tables.ts';
import { redactStats } from '../../protocol/redaction.ts';
import { estimateMos } from './mos.ts';
import { validStats } from './statsCheck.ts';

/** The known stats of a baseline snapshot (one that fails validation simply seeds nothing). */
function parseKnown(stats: ReadonlyArray<Record<string, unknown>>): KnownStats[] {
	const parsed: KnownStats[] = [];
	for (const stat of stats) {
		const type = knownStatsType(stat.type);
		if (!type) continue;
		if (validStats[type]?.(stat)) {
			parsed.push(stat as unknown as KnownStats);
			continue;
		}
		const result = knownStatsTypes[type].safeParse(stat);
		if (result.success) parsed.push(result.data);
	}
	return parsed;
}

/** Who the rows belong to and how long they are kept. */
export interface NormalizeOptions {
	/** Also keep the whole getStats() reports (redacted). */
	keepRawReports?: boolean;
	/** Days sample and event rows are kept (the tables' TTL reads it). */
	retentionDays?: number;
	rawRetentionDays?: number;
	/** Production telemetry: the app, and the participant's user id as stored (already an HMAC). */
	appId?: string;
	userId?: string;
}

export interface NormalizedBatch {
	samples: SampleRow[];
	sfu: SfuSampleRow[];
	generator: GeneratorSampleRow[];
	events: EventRow[];
	raw: RawReportRow[];
	/** Snapshots and events refused: a known field of the wrong type, a time out of the retention. */
	rejected: Array<{ path: string; message: string }>;
	/** The earliest time of its snapshots and events within the retention (undefined: none was). */
	firstTs: number | undefined;
	/**
	 * Makes this batch's counters the streams' previous ones. Called once the rows are safely
	 * stored: a batch that could not be kept (and will be sent again) must not become the
	 * baseline of its own retry.
	 */
	commit(): void;
}

/** Cumulative counters of one stream at its previous snapshot. */
interface Previous {
	ts: number;
	seenAt: number;
	c: Record<string, number | undefined>;
}

const counterNames = [
	'packets',
	'bytes',
	'lost',
	'frames',
	'freezeS',
	'jbDelay',
	'jbEmitted',
	'concealed',
	'samplesReceived',
	'cpuSeconds',
	'marks',
	'delaySum',
	'freezes',
	'frozenMs',
	'height',
	'qlNone',
	'qlCpu',
	'qlBandwidth',
	'qlOther',
] as const;
type Counters = Partial<Record<(typeof counterNames)[number], number>>;

const dayMs = 86_400_000;
/** How far ahead of the collector's clock a sender's times may be (a clock set a little wrong). */
const maxAheadMs = dayMs;
const isoTime = (epochMs: number) => new Date(epochMs).toISOString();

/**
 * Why a row of time `ts` is not taken, or undefined when it is. One past its retention would be
 * deleted by the table's TTL as it is written, and one far ahead would be kept past its
 * retention (and each day of times is a partition of its own): refused and named, so that an
 * accepted row is one that is kept, for as long as promised.
 */
export function timeRefusal(ts: number, now: number, retentionDays: number): string | undefined {
	if (ts < now - retentionDays * dayMs) return `is ${isoTime(ts)}, older than this telemetry's retention of ${retentionDays} days: it would be deleted as it is stored`;
	if (ts > now + maxAheadMs) return `is ${isoTime(ts)}, more than a day ahead of the collector's clock (${isoTime(now)}): the sender's clock is wrong`;
	return undefined;
}

const ms = (seconds: number | undefined): number | null => (seconds === undefined ? null : seconds * 1000);
const ratioPct = (part: number | null, whole: number | null): number | null =>
	part === null || whole === null || whole <= 0 ? null : (part / whole) * 100;

/**
 * Turns raw getStats() snapshots into sample rows: cumulative counters become per-interval
 * deltas, rates, loss and MOS. It remembers each stream's previous counters across batches; a
 * counter that goes backwards (a restarted bot, a reused id) starts the stream over instead of
 * giving a negative delta.
 */
export class Normalizer {
	readonly #previous = new Map<string, Previous>();
	/** Owner columns of the batch being normalised. */
	#owner = { app_id: '', user_id: '', retention_days: 30 };
	/** Counters of the batch being normalised, applied by its commit(). */
	#staged = new Map<string, Previous>();
	/** The batch carries its baseline: deltas come from it alone, never from what this process remembers. */
	#selfContained = false;
	/** When the batch being normalised arrived (epoch ms): what the stream sweep ages streams by. */
	#now = 0;

	constructor(
		private readonly defaults: { retentionDays: number; rawRetentionDays: number } = { retentionDays: 30, rawRetentionDays: 7 },
		private readonly maxStreams = 1_000_000,
	) {}

	get trackedStreams(): number {
		return this.#previous.size;
	}

	normalize(batch: TelemetryBatch, options: NormalizeOptions = {}): NormalizedBatch {
		const staged = new Map<string, Previous>();
		this.#staged = staged;
		this.#now = Date.now();
		const owner = {
			app_id: options.appId ?? '',
			user_id: options.userId ?? '',
			retention_days: options.retentionDays ?? this.defaults.retentionDays,
		};
		this.#owner = owner;
		const out: NormalizedBatch = {
			samples: [],
			sfu: [],
			generator: [],
			events: [],
			raw: [],
			rejected: [],
			firstTs: undefined,
			commit: () => {
				for (const [key, previous] of staged) this.#previous.set(key, previous);
				if (this.#previous.size > this.maxStreams) this.sweep(Date.now() - 60_000);
			},
		};
		const { runId, source } = batch;
		this.#selfContained = batch.baseline.length > 0;
		if (this.#selfContained) {
			// Only their counters matter: they seed the deltas of the batch's first snapshots.
			const discard: NormalizedBatch = { ...out, samples: [], sfu: [], generator: [], events: [], raw: [], rejected: [] };
			for (const snapshot of batch.baseline) {
				const expanded = expandSnapshot(snapshot, batch.columns);
				if ('stats' in expanded) this.#snapshot(batch, snapshot.ts, snapshot.pc, parseKnown(expanded.stats), discard);
			}
		}
		const refusedTime = (ts: number) => {
			const refusal = timeRefusal(ts, this.#now, owner.retention_days);
			if (refusal === undefined) out.firstTs = Math.min(out.firstTs ?? ts, ts);
			return refusal;
		};
		const rawKeptFrom = this.#now - (options.rawRetentionDays ?? this.defaults.rawRetentionDays) * dayMs;
		batch.snapshots.forEach((snapshot, i) => {
			const refusal = refusedTime(snapshot.ts);
			if (refusal) {
				out.rejected.push({ path: formatIssuePath(['snapshots', i, 'ts']), message: refusal });
				return;
			}
			const expanded = expandSnapshot(snapshot, batch.columns);
			if (!('stats' in expanded)) {
				out.rejected.push({ path: formatIssuePath(['snapshots', i, ...expanded.path]), message: expanded.message });
				return;
			}
			const { stats, layout } = expanded;
			const parsed: KnownStats[] = [];
			for (let j = 0; j < stats.length; j++) {
				const stat = stats[j]!;
				const type = knownStatsType(stat.type);
				if (!type) continue;
				const schema = knownStatsTypes[type];
				if (validStats[type]?.(stat)) {
					parsed.push(stat as unknown as KnownStats);
					continue;
				}
				const result = schema.safeParse(stat);
				if (!result.success) {
					const issue = result.error.issues[0]!;
					out.rejected.push({
						path: formatIssuePath(['snapshots', i, ...statsPath(layout, j), ...issue.path]),
						message: issue.message,
					});
					return;
				}
				parsed.push(result.data);
			}
			this.#snapshot(batch, snapshot.ts, snapshot.pc, parsed, out);
			if (options.keepRawReports && snapshot.ts >= rawKeptFrom) {
				out.raw.push({
					run_id: runId,
					ts: snapshot.ts,
					room_id: source.roomId,
					peer_id: source.peerId,
					pc: snapshot.pc,
					// Whatever a client sent, only the allow-listed fields are kept (no addresses, no usernames).
					report: JSON.stringify(redactStats(stats, 'full')),
					...owner,
					retention_days: options.rawRetentionDays ?? this.defaults.rawRetentionDays,
				});
			}
		});
		batch.events.forEach((event, i) => {
			const refusal = refusedTime(event.ts);
			if (refusal) {
				out.rejected.push({ path: formatIssuePath(['events', i, 'ts']), message: refusal });
				return;
			}
			out.events.push({
				run_id: runId,
				ts: event.ts,
				room_id: source.roomId,
				peer_id: source.peerId,
				bot_id: source.botId,
				source_kind: source.kind,
				type: event.type,
				duration_ms: event.durationMs ?? null,
				reason: event.reason ?? '',
				media_kind: event.mediaKind ?? '',
				attempt: event.attempt ?? 1,
				...owner,
			});
		});
		return out;
	}

	/** Forgets streams not seen since `olderThan` (epoch ms). */
	sweep(olderThan: number): void {
		for (const [key, previous] of this.#previous) if (previous.seenAt < olderThan) this.#previous.delete(key);
	}

	#snapshot(batch: TelemetryBatch, ts: number, pc: string, stats: KnownStats[], out: NormalizedBatch): void {
		const pair = selectedPair(stats);
		const pairRttMs = ms(pair?.currentRoundTripTime);
		for (const stat of stats) {
			switch (stat.type) {
				case 'inbound-rtp':
					if (!isProbation(stat)) out.samples.push(this.#inbound(batch, ts, pc, stat, pairRttMs));
					break;
				case 'outbound-rtp':
					out.samples.push(this.#outbound(batch, ts, pc, stat));
					break;
				case 'remote-inbound-rtp':
					out.samples.push(this.#remoteInbound(batch, ts, pc, stat));
					break;
				case 'candidate-pair':
					if (stat === pair) out.samples.push(this.#pair(batch, ts, pc, stat));
					break;
				case 'sfu-worker':
					out.sfu.push(this.#sfuWorker(batch, ts, stat));
					break;
				case 'generator-process':
					out.generator.push(generatorRow(batch, ts, stat));
					break;
				case 'callswarm-e2e':
					out.samples.push(this.#e2e(batch, ts, pc, stat));
					break;
				case 'transport':
					break;
			}
		}
	}

	/** Counter deltas since the stream's previous snapshot, and that snapshot's values (`before`). */
	#deltas(key: string, ts: number, counters: Counters, resetOn: keyof Counters): { intervalMs: number | null; d: Counters; before?: Counters } {
		const previous = this.#staged.get(key) ?? (this.#selfContained ? undefined : this.#previous.get(key));
		this.#staged.set(key, { ts, seenAt: this.#now, c: counters });
		if (!previous || ts <= previous.ts) return { intervalMs: null, d: {} };
		const current = counters[resetOn];
		const before = previous.c[resetOn];
		if (current !== undefined && before !== undefined && current < before) return { intervalMs: null, d: {} };
		const d: Counters = {};
		// The stream's own few counters (one for a remote report, ten for an inbound one), not every name.
		for (const key in counters) {
			const name = key as keyof Counters;
			const now = counters[name];
			const then = previous.c[name];
			if (now !== undefined && then !== undefined) d[name] = Math.max(0, now - then);
		}
		return { intervalMs: ts - previous.ts, d, before: previous.c };
	}

	#base(batch: TelemetryBatch, ts: number, pc: string, direction: string, kind: string, streamId: string, ssrc: number): SampleRow {
		return {
			run_id: batch.runId,
			ts,
			room_id: batch.source.roomId,
			peer_id: batch.source.peerId,
			bot_id: batch.source.botId,
			source_kind: batch.source.kind,
			pc,
			kind,
			direction,
			stream_id: streamId,
			ssrc,
			interval_ms: null,
			packets: null,
			packets_delta: null,
			bytes: null,
			bytes_delta: null,
			packets_lost: null,
			lost_delta: null,
			loss_pct: null,
			bitrate_bps: null,
			rtt_ms: null,
			jitter_ms: null,
			fps: null,
			width: null,
			height: null,
			frames_delta: null,
			freeze_count: null,
			freeze_ms_delta: null,
			freeze_pct: null,
			jitter_buffer_ms: null,
			concealment_pct: null,
			nack_count: null,
			pli_count: null,
			quality_limitation: '',
			cpu_limited_pct: null,
			bandwidth_limited_pct: null,
			layer_switches_per_min: null,
			available_outgoing_bps: null,
			mos: null,
			e2e_ms: null,
			e2e_marks_pct: null,
			// Named, not spread: every row gets one shape, which keeps the encoder's property reads monomorphic.
			app_id: this.#owner.app_id,
			user_id: this.#owner.user_id,
			retention_days: this.#owner.retention_days,
		};
	}

	#key(batch: TelemetryBatch, pc: string, id: string, ssrc: number): string {
		return `${batch.runId}\u0000${batch.source.peerId}\u0000${pc}\u0000${id}\u0000${ssrc}`;
	}

	#inbound(batch: TelemetryBatch, ts: number, pc: string, s: InboundRtpStats, pairRttMs: number | null): SampleRow {
		const kind = mediaKind(s);
		const row = this.#base(batch, ts, pc, 'inbound', kind, s.id, s.ssrc);
		const { intervalMs, d, before } = this.#deltas(
			this.#key(batch, pc, s.id, s.ssrc),
			ts,
			{
				height: s.frameHeight,
				packets: s.packetsReceived,
				bytes: s.bytesReceived,
				lost: s.packetsLost,
				frames: s.framesDecoded,
				freezeS: s.totalFreezesDuration,
				jbDelay: s.jitterBufferDelay,
				jbEmitted: s.jitterBufferEmittedCount,
				concealed: s.concealedSamples,
				samplesReceived: s.totalSamplesReceived,
			},
			'packets',
		);
		row.interval_ms = intervalMs;
		row.packets = s.packetsReceived ?? null;
		row.bytes = s.bytesReceived ?? null;
		row.packets_lost = s.packetsLost ?? null;
		row.packets_delta = d.packets ?? null;
		row.bytes_delta = d.bytes ?? null;
		row.lost_delta = d.lost ?? null;
		if (row.packets_delta !== null && row.lost_delta !== null) {
			row.loss_pct = ratioPct(row.lost_delta, row.packets_delta + row.lost_delta) ?? (row.packets_delta === 0 ? null : 0);
		}
		if (intervalMs && d.bytes !== undefined) row.bitrate_bps = (d.bytes * 8 * 1000) / intervalMs;
		row.jitter_ms = ms(s.jitter);
		row.fps = s.framesPerSecond ?? (intervalMs && d.frames !== undefined ? (d.frames * 1000) / intervalMs : null);
		row.width = s.frameWidth ?? null;
		row.height = s.frameHeight ?? null;
		// A simulcast or SVC receiver switching layers shows as a change of frame size.
		if (intervalMs && s.frameHeight !== undefined && before?.height !== undefined) {
			row.layer_switches_per_min = s.frameHeight === before.height ? 0 : 60_000 / intervalMs;
		}
		row.frames_delta = d.frames ?? null;
		row.freeze_count = s.freezeCount ?? null;
		if (d.freezeS !== undefined) {
			row.freeze_ms_delta = d.freezeS * 1000;
			row.freeze_pct = intervalMs ? Math.min(100, (row.freeze_ms_delta / intervalMs) * 100) : null;
		}
		if (d.jbDelay !== undefined && d.jbEmitted) row.jitter_buffer_ms = (d.jbDelay / d.jbEmitted) * 1000;
		if (kind === 'audio') row.concealment_pct = ratioPct(d.concealed ?? null, d.samplesReceived ?? null);
		row.nack_count = s.nackCount ?? null;
		row.pli_count = s.pliCount ?? null;
		if (pairRttMs !== null && row.jitter_ms !== null && row.loss_pct !== null) {
			row.mos = estimateMos(pairRttMs, row.jitter_ms, row.loss_pct);
		}
		return row;
	}

	#outbound(batch: TelemetryBatch, ts: number, pc: string, s: OutboundRtpStats): SampleRow {
		const row = this.#base(batch, ts, pc, 'outbound', mediaKind(s), s.id, s.ssrc);
		const { intervalMs, d } = this.#deltas(
			this.#key(batch, pc, s.id, s.ssrc),
			ts,
			{
				packets: s.packetsSent,
				bytes: s.bytesSent,
				frames: s.framesEncoded,
				qlNone: s.qualityLimitationDurations?.none,
				qlCpu: s.qualityLimitationDurations?.cpu,
				qlBandwidth: s.qualityLimitationDurations?.bandwidth,
				qlOther: s.qualityLimitationDurations?.other,
			},
			'packets',
		);
		row.interval_ms = intervalMs;
		row.packets = s.packetsSent ?? null;
		row.bytes = s.bytesSent ?? null;
		row.packets_delta = d.packets ?? null;
		row.bytes_delta = d.bytes ?? null;
		if (intervalMs && d.bytes !== undefined) row.bitrate_bps = (d.bytes * 8 * 1000) / intervalMs;
		row.fps = s.framesPerSecond ?? (intervalMs && d.frames !== undefined ? (d.frames * 1000) / intervalMs : null);
		row.width = s.frameWidth ?? null;
		row.height = s.frameHeight ?? null;
		row.frames_delta = d.frames ?? null;
		row.nack_count = s.nackCount ?? null;
		row.pli_count = s.pliCount ?? null;
		row.quality_limitation = s.qualityLimitationReason ?? '';
		const limitedS = (d.qlNone ?? 0) + (d.qlCpu ?? 0) + (d.qlBandwidth ?? 0) + (d.qlOther ?? 0);
		if (d.qlCpu !== undefined && limitedS > 0) {
			row.cpu_limited_pct = ((d.qlCpu ?? 0) / limitedS) * 100;
			row.bandwidth_limited_pct = ((d.qlBandwidth ?? 0) / limitedS) * 100;
		}
		return row;
	}

	#remoteInbound(batch: TelemetryBatch, ts: number, pc: string, s: RemoteInboundRtpStats): SampleRow {
		const row = this.#base(batch, ts, pc, 'remote-inbound', s.kind ?? s.mediaType ?? '', s.id, s.ssrc);
		const { intervalMs, d } = this.#deltas(this.#key(batch, pc, s.id, s.ssrc), ts, { lost: s.packetsLost }, 'lost');
		row.interval_ms = intervalMs;
		row.packets_lost = s.packetsLost ?? null;
		row.lost_delta = d.lost ?? null;
		row.loss_pct = s.fractionLost === undefined ? null : s.fractionLost * 100;
		row.rtt_ms = ms(s.roundTripTime);
		row.jitter_ms = ms(s.jitter);
		return row;
	}

	#pair(batch: TelemetryBatch, ts: number, pc: string, s: CandidatePairStats): SampleRow {
		const row = this.#base(batch, ts, pc, 'candidate-pair', '', s.id, 0);
		const { intervalMs, d } = this.#deltas(this.#key(batch, pc, s.id, 0), ts, { bytes: s.bytesSent }, 'bytes');
		row.interval_ms = intervalMs;
		row.bytes = s.bytesSent ?? null;
		row.bytes_delta = d.bytes ?? null;
		if (intervalMs && d.bytes !== undefined) row.bitrate_bps = (d.bytes * 8 * 1000) / intervalMs;
		row.rtt_ms = ms(s.currentRoundTripTime);
		row.available_outgoing_bps = s.availableOutgoingBitrate ?? null;
		return row;
	}

	/** Capture-to-decode delay from a sender over the interval: the mean of the marks read, the share of frames they were read on, freezes. */
	#e2e(batch: TelemetryBatch, ts: number, pc: string, s: E2eStats): SampleRow {
		const sender = s.sender ?? `mark-${s.senderMark.toString(16).padStart(4, '0')}`;
		const row = this.#base(batch, ts, pc, 'e2e', s.kind, sender, s.senderMark);
		const { intervalMs, d } = this.#deltas(
			this.#key(batch, pc, s.id, s.senderMark),
			ts,
			{ frames: s.framesSeen, marks: s.marksRead, delaySum: s.delaySumMs, freezes: s.freezeCount, frozenMs: s.frozenMs },
			'frames',
		);
		row.interval_ms = intervalMs;
		row.frames_delta = d.frames ?? null;
		row.packets_delta = d.marks ?? null;
		if (d.marks) row.e2e_ms = (d.delaySum ?? 0) / d.marks;
		if (d.frames) row.e2e_marks_pct = ((d.marks ?? 0) / d.frames) * 100;
		row.freeze_count = s.freezeCount;
		if (d.frozenMs !== undefined) {
			row.freeze_ms_delta = d.frozenMs;
			row.freeze_pct = intervalMs ? Math.min(100, (d.frozenMs / intervalMs) * 100) : null;
		}
		return row;
	}

	#sfuWorker(batch: TelemetryBatch, ts: number, s: SfuWorkerStats): SfuSampleRow {
		const { intervalMs, d } = this.#deltas(
			this.#key(batch, 'sfu', `${s.worker}`, s.pid),
			ts,
			{ cpuSeconds: s.cpuSeconds },
			'cpuSeconds',
		);
		return {
			run_id: batch.runId,
			ts,
			sfu_id: batch.source.botId,
			worker: s.worker,
			pid: s.pid,
			cpu_pct: intervalMs && d.cpuSeconds !== undefined ? (d.cpuSeconds * 1000 * 100) / intervalMs : null,
			max_rss_bytes: s.maxRssBytes,
			rooms: s.rooms,
			peers: s.peers,
			producers: s.producers,
			consumers: s.consumers,
		};
	}
}

function generatorRow(batch: TelemetryBatch, ts: number, s: GeneratorProcessStats): GeneratorSampleRow {
	return {
		run_id: batch.runId,
		ts,
		generator_id: batch.source.botId,
		role: s.role,
		process_id: s.id,
		pid: s.pid,
		cpu_pct: s.cpuPct,
		lag_ms: s.lagMs ?? null,
		rss_bytes: s.rssBytes,
		saturated: s.saturated ? 1 : 0,
		...storedCounts(s),
	};
}

/**
 * mediasoup's bandwidth probation stream (mid "probator", SSRC 1234): padding the SFU sends to
 * probe bandwidth, not media anyone watches. Browsers label it by mid, werift only by SSRC.
 */
function isProbation(stat: InboundRtpStats): boolean {
	return stat.mid === 'probator' || (stat.ssrc === 1234 && (stat.kind ?? stat.mediaType) === 'video');
}

/** The candidate pair in use: the transport's selected one, else a nominated succeeded one. */
export function selectedPair(stats: KnownStats[]): CandidatePairStats | undefined {
	let selectedId: string | undefined;
	const pairs: CandidatePairStats[] = [];
	for (const s of stats) {
		if (s.type === 'transport' && s.selectedCandidatePairId) selectedId = s.selectedCandidatePairId;
		else if (s.type === 'candidate-pair') pairs.push(s);
	}
	if (selectedId) {
		const pair = pairs.find((p) => p.id === selectedId);
		if (pair) return pair;
	}
	return pairs.find((p) => p.selected) ?? pairs.find((p) => p.nominated && p.state === 'succeeded');
}

/** audio, video, or screen: a shared screen is its own kind, so camera figures stay camera figures. */
function mediaKind(s: InboundRtpStats | OutboundRtpStats): string {
	const kind = s.kind ?? s.mediaType ?? '';
	return kind === 'video' && s.contentType === 'screenshare' ? 'screen' : kind;
}

/**
 * The metric names users write in thresholds (`rtt_ms: ['p(95)<150']`) and see on the
 * dashboard, with where each comes from. Sample metrics are per-interval values of normalised
 * getStats() streams; event metrics are durations of participant events; rate metrics are
 * shares of participants.
 */
import { z } from 'zod';
import type { FigureCounts, WithheldFigures } from './api.ts';

export type SeriesStat = 'avg' | 'p50' | 'p95' | 'p99';

/** How the run view draws a metric over time: on chart `chart`, shared by metrics with the same id. */
export interface SeriesChart {
	chart: string;
	title: string;
	note: string;
	/** The statistics drawn, first one solid. */
	stats: readonly SeriesStat[];
	/** Legend prefix when several metrics share the chart. */
	legend?: string;
	range?: readonly [number, number];
}

export interface SampleMetric {
	source: 'samples';
	label: string;
	unit: string;
	/** samples column the values come from */
	column:
		| 'rtt_ms'
		| 'jitter_ms'
		| 'loss_pct'
		| 'bitrate_bps'
		| 'fps'
		| 'mos'
		| 'freeze_pct'
		| 'jitter_buffer_ms'
		| 'concealment_pct'
		| 'available_outgoing_bps'
		| 'e2e_ms'
		| 'e2e_marks_pct'
		| 'height'
		| 'layer_switches_per_min'
		| 'cpu_limited_pct'
		| 'bandwidth_limited_pct';
	direction: 'inbound' | 'outbound' | 'remote-inbound' | 'candidate-pair' | 'e2e';
	/** `screen`: shared screens (contentType "screenshare"); `video` is cameras only. */
	kind?: 'audio' | 'video' | 'screen';
	/** Values are multiplied by this (bps -> kbps). */
	scale?: number;
	higherIsBetter?: boolean;
	/** Drawn over time in the run view (and its report). */
	series?: SeriesChart;
	/** Compared between runs (callswarm compare, the compare view). */
	compare?: true;
	description: string;
}

export interface EventMetric {
	source: 'events';
	label: string;
	unit: 'ms';
	eventType: 'join' | 'first-media' | 'reconnect';
	higherIsBetter?: boolean;
	compare?: true;
	description: string;
}

export interface RateMetric {
	source: 'rate';
	label: string;
	unit: 'ratio';
	compare?: true;
	description: string;
}

/**
 * Above this share of a metric's figures withheld (the bot's own process stood still while they
 * were measured), the metric rests on noticeably fewer figures than the bots measured.
 */
const withheldFiguresWarning = 0.1;

/**
 * A frame sent this late grows its receivers' jitter by more than 5 ms: it arrives its lateness
 * after the frame before it and the next one on time, two transit differences of that size each
 * weighing a sixteenth in RFC 3550's estimator. 5 ms is what a receiver's own stall may add
 * before its figure is withheld (ReceiveJitter).
 */
export const lateFrameMs = 40;

/**
 * Above this share of frames sent late, jitter_ms is in doubt: the estimator keeps half of a late
 * frame's mark for 11 frames, so at 1 in 100 about a tenth of all jitter figures carry one,
 * more than a p95 can pass over.
 */
const lateFramesWarning = 0.01;

/** What a kind whose figures are withheld (left out of its metric) does to the metric, and when that puts it in doubt. */
const withheldKind = { verb: 'leaves out', doubt: 'rests on fewer figures than were measured', warning: withheldFiguresWarning } as const;

/**
 * The figures a lite-bot process's own stalls may have distorted, by kind, and what each kind
 * puts in doubt. Lite bots and viewers withhold a round trip or a jitter figure that a stall of
 * their own process may have stretched (rtt_ms, jitter_ms, media_rtt_ms); their media pump counts
 * the frames it sent late because the process stood still when they fell due (frames_sent_late),
 * which grew the jitter their receivers measured, in whatever process or browser they are.
 *
 * Per kind: the metric it puts in doubt, the heading of a column of its counts, what its figures
 * are, what the counted ones did to the metric (`verb`) and why, the share above which the metric
 * is in doubt (`warning`; the summary, the run view and a comparison then say so in red, and
 * `doubt` says what it means), and where a process's, a run's and a run's outcome's counts are
 * (`counts`: the key in WithheldFigures, RunInfo and the run's outcome; `process`: a process's
 * fields in the health telemetry and the run view; `stored`: its columns in generator_samples).
 * The lists of these fields and columns are made from here; only the redaction allow-list, which
 * pages bundle without zod, names them again.
 */
const figureKindTable = {
	rtt_ms: {
		metric: 'rtt_ms',
		column: 'RTT withheld',
		figures: 'round trips lite bots and viewers timed',
		reason: 'their own process stood still while the answer was on its way, a wait of this machine, not of the network.',
		...withheldKind,
		counts: 'roundTrips',
		process: ['roundTripsJudged', 'roundTripsWithheld'],
		stored: ['round_trips_judged', 'round_trips_withheld'],
	},
	jitter_ms: {
		metric: 'jitter_ms',
		column: 'jitter withheld',
		figures: 'jitter figures lite bots reported',
		reason: 'a stall of their own process may have grown them (packets that waited through it are stamped as they are read), a wait of this machine, not of the network.',
		...withheldKind,
		counts: 'jitterFigures',
		process: ['jitterJudged', 'jitterWithheld'],
		stored: ['jitter_judged', 'jitter_withheld'],
	},
	media_rtt_ms: {
		metric: 'media_rtt_ms',
		column: 'media RTT withheld',
		figures: 'RTCP round trips of what lite bots sent',
		reason: 'their own process stood still while the receiver report was on its way, a wait of this machine, not of the network.',
		...withheldKind,
		counts: 'mediaRoundTrips',
		process: ['mediaRoundTripsJudged', 'mediaRoundTripsWithheld'],
		stored: ['media_round_trips_judged', 'media_round_trips_withheld'],
	},
	frames_sent_late: {
		metric: 'jitter_ms',
		column: 'frames sent late',
		figures: `frames and audio packets lite bots sent, late by more than ${lateFrameMs} ms`,
		verb: 'takes in',
		doubt: "takes in this machine's waits",
		reason: `their own process stood still when these fell due; each grew the jitter every receiver of it measured by up to an eighth of its lateness (over ${lateFrameMs / 8} ms), a wait of this machine, not of the network.`,
		warning: lateFramesWarning,
		counts: 'framesSentLate',
		process: ['framesDue', 'framesSentLate'],
		stored: ['frames_due', 'frames_sent_late'],
	},
} as const satisfies Record<
	string,
	{ metric: MetricName; column: string; figures: string; verb: string; doubt: string; reason: string; warning: number; counts: keyof WithheldFigures; process: readonly [string, string]; stored: readonly [string, string] }
>;
/** A kind of figures a lite-bot process's stalls may have distorted (its key in the kinds table). */
export type FigureKind = keyof typeof figureKindTable;
export const figureKindNames = Object.keys(figureKindTable) as FigureKind[];
type FigureKindEntry = (typeof figureKindTable)[FigureKind];
const figureKinds: readonly FigureKindEntry[] = Object.values(figureKindTable);

/** A load-generator process's count fields (judged and withheld, or frames due and sent late), in the health telemetry and the run view. */
export type GeneratorProcessCountField = FigureKindEntry['process'][number];
/** The generator_samples columns that store them. */
export type StoredCountColumn = FigureKindEntry['stored'][number];
export const storedCountColumns: readonly StoredCountColumn[] = figureKinds.flatMap((k) => k.stored);

/** One field per process count, each of `schema`: for the zod objects that carry them. */
export function processCountShape<S>(schema: S): Record<GeneratorProcessCountField, S> {
	return Object.fromEntries(figureKinds.flatMap((k) => k.process).map((field) => [field, schema])) as Record<GeneratorProcessCountField, S>;
}

/** A health sample's counts as generator_samples stores them (0 where the process has none: not a lite-bot process). */
export function storedCounts(counts: Partial<GeneratorProcessCounts>): Record<StoredCountColumn, number> {
	const out: Partial<Record<StoredCountColumn, number>> = {};
	for (const kind of figureKinds) for (const [i, column] of kind.stored.entries()) out[column] = counts[kind.process[i]!] ?? 0;
	return out as Record<StoredCountColumn, number>;
}

/** Counts read back from generator_samples as a process's fields: `row` names each `${prefix}${column}` (a query's aliases). */
export function countsFromStored(row: object, prefix = ''): GeneratorProcessCounts {
	const values = row as Record<string, unknown>;
	const out: Partial<GeneratorProcessCounts> = {};
	for (const kind of figureKinds) for (const [i, field] of kind.process.entries()) out[field] = Number(values[`${prefix}${kind.stored[i]!}`] ?? 0);
	return out as GeneratorProcessCounts;
}

/** Where a kind's counts are in WithheldFigures, a RunInfo and a run's outcome. */
export function figureCountsKey(kind: FigureKind): keyof WithheldFigures {
	return figureKindTable[kind].counts;
}

/** The metric a kind's counted figures put in doubt. */
export function doubtedMetric(kind: FigureKind): MetricName {
	return figureKindTable[kind].metric;
}

/** The heading of a column of a kind's counts (`RTT withheld`, `frames sent late`), and what it means. */
export function figureColumn(kind: FigureKind): { heading: string; title: string } {
	const { metric, figures, verb } = figureKindTable[kind];
	return { heading: figureKindTable[kind].column, title: `The ${figures} that a stall of their own process may have distorted (${metric} ${verb} them), flagged where so many are that ${metric} is in doubt` };
}

/** What to do when so many of a kind's figures were distorted that its metric is in doubt. */
export function figureCountsAdvice(kind: FigureKind): string {
	const { metric, doubt } = figureKindTable[kind];
	return `${metric} ${doubt}: run fewer lite bots or viewers per process or per machine (--shard).`;
}

/** What a load-generator process reports of the figures its bots judged and withheld (totals so far). */
export type GeneratorProcessCounts = Record<GeneratorProcessCountField, number>;

/** A lite-bot process's counts as the load-generator health telemetry carries them (its flat fields). */
export function processCounts(withheld: WithheldFigures, bound: (count: number) => number): GeneratorProcessCounts {
	const out: Partial<GeneratorProcessCounts> = {};
	for (const kind of figureKinds) {
		const [judged, withheldKey] = kind.process;
		out[judged] = bound(withheld[kind.counts].judged);
		out[withheldKey] = bound(withheld[kind.counts].withheld);
	}
	return out as GeneratorProcessCounts;
}

/** A load-generator process's counts of one kind's figures: judged, and of them withheld (or frames due, and of them sent late). */
export function figureCounts(process: GeneratorProcessCounts, kind: FigureKind): FigureCounts {
	const [judged, withheld] = figureKindTable[kind].process;
	return { judged: process[judged], withheld: process[withheld] };
}

/** A run's figures of one kind over its load-generator processes (each process's counts are its totals). */
export function figureTotals(processes: ReadonlyArray<GeneratorProcessCounts>, kind: FigureKind): FigureCounts {
	return addCounts(processes.map((p) => figureCounts(p, kind)));
}

/** A run's figures of every kind over its load-generator processes. */
export function withheldTotals(processes: ReadonlyArray<GeneratorProcessCounts>): WithheldFigures {
	return Object.fromEntries(figureKindNames.map((kind) => [figureCountsKey(kind), figureTotals(processes, kind)])) as WithheldFigures;
}

/** Several processes' or drivers' judged and withheld figures added up. */
export function sumWithheld(all: ReadonlyArray<WithheldFigures>): WithheldFigures {
	return Object.fromEntries(figureKinds.map((k) => [k.counts, addCounts(all.map((w) => w[k.counts]))])) as WithheldFigures;
}

function addCounts(all: ReadonlyArray<FigureCounts>): FigureCounts {
	return { judged: all.reduce((n, c) => n + c.judged, 0), withheld: all.reduce((n, c) => n + c.withheld, 0) };
}

/** The share of figures withheld as people read it: `12.5 %`. */
function withheldShare(withheld: number, judged: number): string {
	return `${((withheld / judged) * 100).toFixed(1)} %`;
}

/** `W of J (x %)`: a process's or a run's withheld figures in a table cell, alike in the run view, the runs list and the CLI. */
export function withheldCount(withheld: number, judged: number): string {
	return `${withheld} of ${judged} (${withheldShare(withheld, judged)})`;
}

/** Whether so many of a kind's figures were distorted that its metric is in doubt (none judged: nothing to doubt). */
export function inDoubt(kind: FigureKind, withheld: number, judged: number): boolean {
	return judged > 0 && withheld / judged > figureKindTable[kind].warning;
}

/**
 * `rtt_ms leaves out W of J round trips …: why` (or jitter_ms's jitter figures, or the frames sent
 * late it takes in), alike in the summary, the run view and a comparison (`whose`: e.g. "B's ").
 */
export function figureCountsText(kind: FigureKind, withheld: number, judged: number, whose = ''): string {
	const { metric, verb, figures, reason } = figureKindTable[kind];
	return `${whose}${metric} ${verb} ${withheld} of ${judged} ${figures} (${withheldShare(withheld, judged)}): ${reason}`;
}

export const metricCatalogue = {
	rtt_ms: {
		source: 'samples',
		label: 'Round-trip time',
		unit: 'ms',
		column: 'rtt_ms',
		direction: 'candidate-pair',
		series: { chart: 'rtt', title: 'Round-trip time', note: 'candidate pair RTT, participant ↔ SFU', stats: ['p50', 'p95'] },
		compare: true,
		description: 'ICE candidate pair currentRoundTripTime of every connection (participant to SFU)',
	},
	media_rtt_ms: {
		source: 'samples',
		label: 'Media round-trip time',
		unit: 'ms',
		column: 'rtt_ms',
		direction: 'remote-inbound',
		description: 'remote-inbound-rtp roundTripTime from RTCP receiver reports on sent streams',
	},
	jitter_ms: {
		source: 'samples',
		label: 'Jitter',
		unit: 'ms',
		column: 'jitter_ms',
		direction: 'inbound',
		series: { chart: 'jitter', title: 'Jitter', note: 'received streams', stats: ['p50', 'p95'] },
		compare: true,
		description: 'inbound-rtp jitter of received streams',
	},
	loss_pct: {
		source: 'samples',
		label: 'Packet loss',
		unit: '%',
		column: 'loss_pct',
		direction: 'inbound',
		series: { chart: 'loss', title: 'Packet loss', note: 'received streams, per interval', stats: ['avg', 'p95'] },
		compare: true,
		description: 'lost / (received + lost) per interval, received streams',
	},
	bitrate_in_kbps: {
		source: 'samples',
		label: 'Receive bitrate (video)',
		unit: 'kbps',
		column: 'bitrate_bps',
		direction: 'inbound',
		kind: 'video',
		scale: 0.001,
		higherIsBetter: true,
		series: { chart: 'bitrate', title: 'Video bitrate', note: 'per stream, median', stats: ['p50'], legend: 'received' },
		compare: true,
		description: 'bytesReceived per interval of each received video stream',
	},
	bitrate_out_kbps: {
		source: 'samples',
		label: 'Send bitrate (video)',
		unit: 'kbps',
		column: 'bitrate_bps',
		direction: 'outbound',
		kind: 'video',
		scale: 0.001,
		higherIsBetter: true,
		series: { chart: 'bitrate', title: 'Video bitrate', note: 'per stream, median', stats: ['p50'], legend: 'sent' },
		description: 'bytesSent per interval of each sent video stream',
	},
	audio_bitrate_in_kbps: {
		source: 'samples',
		label: 'Receive bitrate (audio)',
		unit: 'kbps',
		column: 'bitrate_bps',
		direction: 'inbound',
		kind: 'audio',
		scale: 0.001,
		higherIsBetter: true,
		description: 'bytesReceived per interval of each received audio stream',
	},
	fps: {
		source: 'samples',
		label: 'Frames per second',
		unit: 'fps',
		column: 'fps',
		direction: 'inbound',
		kind: 'video',
		higherIsBetter: true,
		series: { chart: 'fps', title: 'Frames per second', note: 'received video: cameras and shared screens', stats: ['p50', 'avg'], legend: 'camera' },
		compare: true,
		description: 'framesPerSecond of received camera video',
	},
	screen_fps: {
		source: 'samples',
		label: 'Screen share frames per second',
		unit: 'fps',
		column: 'fps',
		direction: 'inbound',
		kind: 'screen',
		higherIsBetter: true,
		series: { chart: 'fps', title: 'Frames per second', note: 'received video: cameras and shared screens', stats: ['p50'], legend: 'screen' },
		compare: true,
		description: 'framesPerSecond of received shared screens (slides are sent at 5)',
	},
	e2e_video_ms: {
		source: 'samples',
		label: 'End-to-end video delay',
		unit: 'ms',
		column: 'e2e_ms',
		direction: 'e2e',
		kind: 'video',
		series: { chart: 'e2e', title: 'End-to-end delay', note: 'capture to decode (video), microphone to playout (audio), per sender → receiver', stats: ['p50', 'p95'], legend: 'video' },
		compare: true,
		description: "camera capture to decoded frame at the receiver, from marks drawn into the sender's frames (browser bots), per sender and receiver",
	},
	e2e_audio_ms: {
		source: 'samples',
		label: 'End-to-end audio delay',
		unit: 'ms',
		column: 'e2e_ms',
		direction: 'e2e',
		kind: 'audio',
		series: { chart: 'e2e', title: 'End-to-end delay', note: 'capture to decode (video), microphone to playout (audio), per sender → receiver', stats: ['p50', 'p95'], legend: 'audio' },
		compare: true,
		description: "microphone to playout at the receiver (mouth to ear), from coded bursts in the sender's microphone (browser bots), per sender and receiver",
	},
	e2e_marks_pct: {
		source: 'samples',
		label: 'Frames with delay marks read',
		unit: '%',
		column: 'e2e_marks_pct',
		direction: 'e2e',
		kind: 'video',
		higherIsBetter: true,
		description: 'share of decoded frames from a marking sender whose mark was read',
	},
	received_height: {
		source: 'samples',
		label: 'Received video height',
		unit: 'px',
		column: 'height',
		direction: 'inbound',
		kind: 'video',
		higherIsBetter: true,
		series: { chart: 'layer', title: 'Received video size', note: 'frame height of decoded video: the simulcast or SVC layer receivers get', stats: ['p50', 'avg'] },
		compare: true,
		description: 'frameHeight of received video (decoding receivers): which simulcast or SVC layer they get',
	},
	layer_switches_per_min: {
		source: 'samples',
		label: 'Layer switches',
		unit: '/min',
		column: 'layer_switches_per_min',
		direction: 'inbound',
		kind: 'video',
		description: 'changes of received frame size per minute, per received video stream (simulcast/SVC layer switches, resolution adaptation)',
	},
	cpu_limited_pct: {
		source: 'samples',
		label: 'Sent video limited by CPU',
		unit: '%',
		column: 'cpu_limited_pct',
		direction: 'outbound',
		kind: 'video',
		series: { chart: 'limited', title: 'Sent video held back', note: 'share of each interval the encoder was limited (qualityLimitationDurations)', stats: ['avg'], legend: 'CPU' },
		description: 'share of each interval the sender’s encoder was held back by CPU (qualityLimitationDurations.cpu): the bot’s machine, not the call',
	},
	bandwidth_limited_pct: {
		source: 'samples',
		label: 'Sent video limited by bandwidth',
		unit: '%',
		column: 'bandwidth_limited_pct',
		direction: 'outbound',
		kind: 'video',
		series: { chart: 'limited', title: 'Sent video held back', note: 'share of each interval the encoder was limited (qualityLimitationDurations)', stats: ['avg'], legend: 'bandwidth' },
		compare: true,
		description: 'share of each interval the sender’s encoder was held back by its bandwidth estimate (qualityLimitationDurations.bandwidth)',
	},
	mos: {
		source: 'samples',
		label: 'MOS estimate',
		unit: 'MOS',
		column: 'mos',
		direction: 'inbound',
		kind: 'audio',
		higherIsBetter: true,
		series: { chart: 'mos', title: 'MOS estimate', note: 'received audio, 1–4.5', stats: ['p50', 'avg'], range: [1, 4.5] },
		compare: true,
		description: 'E-model style estimate (1-4.5) from RTT, jitter and loss of received audio',
	},
	freeze_pct: {
		source: 'samples',
		label: 'Video frozen',
		unit: '%',
		column: 'freeze_pct',
		direction: 'inbound',
		kind: 'video',
		series: { chart: 'freeze', title: 'Video frozen', note: 'share of each interval received video was frozen', stats: ['avg', 'p95'] },
		compare: true,
		description: 'share of each interval received video was frozen (totalFreezesDuration)',
	},
	jitter_buffer_ms: {
		source: 'samples',
		label: 'Jitter-buffer delay',
		unit: 'ms',
		column: 'jitter_buffer_ms',
		direction: 'inbound',
		compare: true,
		description: 'jitterBufferDelay per emitted sample or frame, per interval',
	},
	concealment_pct: {
		source: 'samples',
		label: 'Audio concealed',
		unit: '%',
		column: 'concealment_pct',
		direction: 'inbound',
		kind: 'audio',
		compare: true,
		description: 'concealedSamples / totalSamplesReceived per interval',
	},
	available_outgoing_kbps: {
		source: 'samples',
		label: 'Available send bandwidth',
		unit: 'kbps',
		column: 'available_outgoing_bps',
		direction: 'candidate-pair',
		scale: 0.001,
		higherIsBetter: true,
		series: { chart: 'bandwidth', title: 'Available send bandwidth', note: 'the sender bandwidth estimate of each connection', stats: ['p50', 'p95'] },
		description: 'candidate pair availableOutgoingBitrate (the sender bandwidth estimate)',
	},
	join_ms: {
		source: 'events',
		label: 'Time to join',
		unit: 'ms',
		eventType: 'join',
		compare: true,
		description: 'join request to joined (signaling, device, transports)',
	},
	first_media_ms: {
		source: 'events',
		label: 'Time to first media',
		unit: 'ms',
		eventType: 'first-media',
		compare: true,
		description: 'join (or, when the participant was alone, the first remote stream offered) to the first decoded frame or received audio',
	},
	reconnect_ms: {
		source: 'events',
		label: 'Time to rejoin',
		unit: 'ms',
		eventType: 'reconnect',
		description: 'room reset to joined again',
	},
	join_failed: {
		source: 'rate',
		label: 'Failed joins',
		unit: 'ratio',
		compare: true,
		description: 'participants that never joined / participants that tried',
	},
	dropped: {
		source: 'rate',
		label: 'Dropped participants',
		unit: 'ratio',
		description: 'participants that failed after joining / participants that joined',
	},
} as const satisfies Record<string, SampleMetric | EventMetric | RateMetric>;

export type MetricName = keyof typeof metricCatalogue;
export const MetricName = z.enum(Object.keys(metricCatalogue) as [MetricName, ...MetricName[]]);
export type SampleMetricName = {
	[K in MetricName]: (typeof metricCatalogue)[K] extends { source: 'samples' } ? K : never;
}[MetricName];
export const sampleMetricNames = (Object.keys(metricCatalogue) as MetricName[]).filter(
	(m): m is SampleMetricName => metricCatalogue[m].source === 'samples',
);
export const SampleMetricName = z.enum(sampleMetricNames as [SampleMetricName, ...SampleMetricName[]]);
/** The sample metrics the run view draws over time. */
export const seriesMetricNames = sampleMetricNames.filter((m) => 'series' in metricCatalogue[m]);
/** The metrics compared between two runs. */
export const comparedMetricNames = (Object.keys(metricCatalogue) as MetricName[]).filter((m) => 'compare' in metricCatalogue[m]);

/** The run view's charts of sample metrics, in catalogue order: each with the metrics drawn on it. */
export interface RunViewChart {
	chart: string;
	title: string;
	note: string;
	unit: string;
	range?: readonly [number, number];
	metrics: Array<{ name: SampleMetricName; series: SeriesChart }>;
}

export function seriesCharts(): RunViewChart[] {
	const charts = new Map<string, RunViewChart>();
	for (const name of seriesMetricNames) {
		const def: SampleMetric = metricCatalogue[name];
		const series = def.series!;
		const chart = charts.get(series.chart) ?? { chart: series.chart, title: series.title, note: series.note, unit: def.unit, range: series.range, metrics: [] };
		chart.metrics.push({ name, series });
		charts.set(series.chart, chart);
	}
	return [...charts.values()];
}
export const eventMetricNames = (Object.keys(metricCatalogue) as MetricName[]).filter(
	(m): m is Extract<MetricName, { [K in MetricName]: (typeof metricCatalogue)[K] extends { source: 'events' } ? K : never }[MetricName]> =>
		metricCatalogue[m].source === 'events',
);

export type Change = 'worse' | 'better' | 'same';

/**
 * How a metric moved from run A to run B. Changes under 5 % of A are noise, not verdicts;
 * whether up is worse depends on the metric (RTT up is worse, MOS up is better).
 */
export function metricChange(metric: MetricName, a: number | null, b: number | null): { diff: number | null; relative: number | null; change: Change } {
	if (a === null || b === null) return { diff: null, relative: null, change: 'same' };
	const diff = b - a;
	const def = metricCatalogue[metric];
	const higherIsBetter = 'higherIsBetter' in def && def.higherIsBetter === true;
	const significant = Math.abs(diff) > Math.max(Math.abs(a) * 0.05, 1e-9);
	const worse = significant && (higherIsBetter ? diff < 0 : diff > 0);
	return { diff, relative: a !== 0 ? diff / Math.abs(a) : null, change: !significant ? 'same' : worse ? 'worse' : 'better' };
}

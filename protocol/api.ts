/**
 * The collector's query API (GET /v1/runs/...) and run registry (PUT /v1/runs/:runId):
 * request parameters and response shapes, for the dashboard, the CLI and thresholds.
 */
import { z } from 'zod';
import { wholeNumberText } from './issues.ts';
import { MetricName, processCountShape, SampleMetricName } from './metrics.ts';
import { ThresholdExpressions } from './thresholds.ts';
import { PeerId, RoomId } from './signaling.ts';
import { EpochMs, RunId } from './telemetry.ts';

/**
 * running; passed / failed by the thresholds; aborted (stopped early); invalid: the load
 * generator itself saturated, so the figures say nothing about the call (statusReason says when);
 * finished: ended without thresholds.
 */
export const RunStatus = z.enum(['running', 'passed', 'failed', 'aborted', 'invalid', 'finished']);
export type RunStatus = z.infer<typeof RunStatus>;

export const ThresholdResult = z.object({
	metric: z.string().max(64),
	expression: z.string().max(200),
	ok: z.boolean(),
	/** The aggregate the expression compared, null when there was no data. */
	value: z.number().nullable(),
	/** How many values the aggregate covers (samples, events, or participants for a rate). */
	samples: z.number().int().nonnegative().default(0),
});
export type ThresholdResult = z.infer<typeof ThresholdResult>;

export const RunUpsert = z.object({
	scenario: z.string().max(200).default(''),
	status: RunStatus.default('running'),
	/** Why the run has its status, e.g. "load generator overloaded at 0:42 (lite-bot process 2: event-loop lag 180 ms)". */
	statusReason: z.string().max(500).default(''),
	startedAt: EpochMs,
	endedAt: EpochMs.optional(),
	plannedParticipants: z.number().int().nonnegative().max(100_000_000).default(0),
	/** The scenario as run (JSON), for the record. */
	config: z.record(z.string(), z.unknown()).default({}),
	verdict: z.array(ThresholdResult).max(1000).default([]),
});
export type RunUpsert = z.input<typeof RunUpsert>;

export const RunParams = z.object({ runId: RunId });


export const RunListQuery = z.object({
	limit: wholeNumberText.pipe(z.number().int().min(1).max(500)).default(50),
	/** Load tests (default), or an app's production calls. */
	kind: z.enum(['run', 'call']).default('run'),
	app: z.string().max(32).optional(),
});

/**
 * Figures of one metric lite bots and viewers judged, and how many of them a stall of their own
 * process may have distorted (withheld from the metric): round trips, or received jitter.
 */
export const FigureCounts = z.object({ judged: z.number().int().nonnegative(), withheld: z.number().int().nonnegative() });
export type FigureCounts = z.infer<typeof FigureCounts>;

/**
 * A lite-bot process's counts so far: its candidate pairs' round trips and its viewers' (rtt_ms),
 * received jitter (jitter_ms), and the RTCP round trips of what it sends (media_rtt_ms); and the
 * frames and audio packets its media pump sent (judged: due, per sending track) and of them sent
 * late (withheld: not left out of anything, but counted against the jitter others received).
 */
export const WithheldFigures = z.object({ roundTrips: FigureCounts, jitterFigures: FigureCounts, mediaRoundTrips: FigureCounts, framesSentLate: FigureCounts });
export type WithheldFigures = z.infer<typeof WithheldFigures>;

export const RunInfo = z.object({
	runId: z.string(),
	scenario: z.string(),
	status: RunStatus,
	statusReason: z.string(),
	startedAt: z.number(),
	endedAt: z.number().nullable(),
	durationMs: z.number(),
	plannedParticipants: z.number(),
	participants: z.number(),
	verdict: z.array(ThresholdResult),
	config: z.record(z.string(), z.unknown()),
	/** "run": a load test; "call": a production call of an app (it ends by itself after its app's idle time). */
	kind: z.enum(['run', 'call']),
	appId: z.string(),
	/** Load-generator machines (shards) of a multi-machine run; 1 for a run from one machine. */
	shards: z.number(),
	/**
	 * The figures the run's lite bots and viewers judged, of each kind, and of them withheld
	 * because their own process stood still (all 0 for a run without such bots).
	 */
	...WithheldFigures.shape,
});
export type RunInfo = z.infer<typeof RunInfo>;

export const RunList = z.object({ runs: z.array(RunInfo) });
export type RunList = z.infer<typeof RunList>;

export const SummaryQuery = z.object({
	/** "1": exact percentiles from every raw sample (slower); default: from the rollup. */
	exact: z.enum(['0', '1']).default('0'),
});

export const MetricSummary = z.object({
	unit: z.string(),
	count: z.number(),
	avg: z.number().nullable(),
	min: z.number().nullable(),
	max: z.number().nullable(),
	p50: z.number().nullable(),
	p95: z.number().nullable(),
	p99: z.number().nullable(),
	/** For rate metrics: the share (0..1). */
	rate: z.number().nullable(),
});
export type MetricSummary = z.infer<typeof MetricSummary>;

export const RunSummary = z.object({
	runId: z.string(),
	exact: z.boolean(),
	participants: z.object({
		attempted: z.number(),
		joined: z.number(),
		failed: z.number(),
		dropped: z.number(),
		peakActive: z.number(),
	}),
	joinSuccessRate: z.number().nullable(),
	metrics: z.record(MetricName, MetricSummary),
});
export type RunSummary = z.infer<typeof RunSummary>;

/** Comma-separated list of sample metric names. */
const metricList = z
	.string()
	.transform((s) => s.split(',').map((m) => m.trim()).filter(Boolean))
	.pipe(z.array(SampleMetricName).min(1).max(20));

export const TimeseriesQuery = z.object({
	metrics: metricList.default(['rtt_ms', 'jitter_ms', 'loss_pct', 'bitrate_in_kbps', 'fps', 'mos']),
	/** Bucket width in seconds; chosen from the run length when absent. */
	bucket: wholeNumberText.pipe(z.number().int().min(1).max(86_400)).optional(),
	room: RoomId.optional(),
	peer: PeerId.optional(),
	kind: z.enum(['audio', 'video']).optional(),
});
export type TimeseriesQuery = z.output<typeof TimeseriesQuery>;

export const SeriesPoint = z.object({
	t: z.number(),
	n: z.number(),
	avg: z.number().nullable(),
	p50: z.number().nullable(),
	p95: z.number().nullable(),
	p99: z.number().nullable(),
});
export type SeriesPoint = z.infer<typeof SeriesPoint>;

export const Timeseries = z.object({
	bucketSeconds: z.number(),
	series: z.record(z.string(), z.array(SeriesPoint)),
});
export type Timeseries = z.infer<typeof Timeseries>;

export const BucketQuery = z.object({
	bucket: wholeNumberText.pipe(z.number().int().min(1).max(86_400)).optional(),
});

export const ParticipantsSeries = z.object({
	bucketSeconds: z.number(),
	points: z.array(
		z.object({ t: z.number(), joined: z.number(), active: z.number(), failed: z.number(), left: z.number() }),
	),
});
export type ParticipantsSeries = z.infer<typeof ParticipantsSeries>;

export const QualityBands = z.object({
	bucketSeconds: z.number(),
	points: z.array(z.object({ t: z.number(), good: z.number(), degraded: z.number(), bad: z.number() })),
});
export type QualityBands = z.infer<typeof QualityBands>;

export const SfuLoad = z.object({
	bucketSeconds: z.number(),
	workers: z.array(
		z.object({
			worker: z.number(),
			points: z.array(z.object({ t: z.number(), cpuPct: z.number().nullable(), consumers: z.number(), peers: z.number() })),
		}),
	),
});
export type SfuLoad = z.infer<typeof SfuLoad>;

/** The load generator's own health over time: a saturated generator makes the run's figures suspect. */
export const GeneratorHealth = z.object({
	bucketSeconds: z.number(),
	points: z.array(
		z.object({
			t: z.number(),
			/** Whole-machine CPU of the load generator's host(s), percent of all cores. */
			machineCpuPct: z.number().nullable(),
			/** The busiest single process (runner, a Chromium process, a lite-bot process), percent of one core. */
			maxProcessCpuPct: z.number().nullable(),
			/** The worst event-loop delay p99 of the runner and lite-bot processes, ms. */
			maxLagMs: z.number().nullable(),
			saturated: z.boolean(),
		}),
	),
	/** Per process, over the whole run. */
	processes: z.array(
		z.object({
			generatorId: z.string(),
			role: z.string(),
			processId: z.string(),
			peakCpuPct: z.number().nullable(),
			peakLagMs: z.number().nullable(),
			saturatedSeconds: z.number(),
			/** The figures its lite bots and viewers judged, per metric, and of them withheld because the process stood still (0 for others). */
			...processCountShape(z.number()),
		}),
	),
});
export type GeneratorHealth = z.infer<typeof GeneratorHealth>;

export const FirstMediaDistribution = z.object({
	count: z.number(),
	p50: z.number().nullable(),
	p95: z.number().nullable(),
	histogram: z.array(z.object({ fromMs: z.number(), toMs: z.number(), count: z.number() })),
});
export type FirstMediaDistribution = z.infer<typeof FirstMediaDistribution>;

export const RoomList = z.object({
	rooms: z.array(z.object({ roomId: z.string(), participants: z.number() })),
});
export type RoomList = z.infer<typeof RoomList>;

export const PeersQuery = z.object({ room: RoomId.optional() });

/** End-to-end delay per sender → receiver pair (the room drill-down's matrix). */
export const DelayMatrix = z.object({
	cells: z.array(
		z.object({
			receiver: z.string(),
			sender: z.string(),
			kind: z.string(),
			p50: z.number().nullable(),
			p95: z.number().nullable(),
			samples: z.number(),
			/** Share of decoded frames (audio: bursts heard) the sender's mark was read on. */
			marksPct: z.number().nullable(),
		}),
	),
});
export type DelayMatrix = z.infer<typeof DelayMatrix>;
export const PeerList = z.object({
	peers: z.array(
		z.object({
			peerId: z.string(),
			roomId: z.string(),
			sourceKind: z.string(),
			samples: z.number(),
			rttMs: z.number().nullable(),
			jitterMs: z.number().nullable(),
			lossPct: z.number().nullable(),
			mos: z.number().nullable(),
			joined: z.boolean(),
			failed: z.boolean(),
		}),
	),
});
export type PeerList = z.infer<typeof PeerList>;

export const EventsQuery = z.object({
	peer: PeerId.optional(),
	type: z.enum(['join', 'first-media', 'leave', 'fail', 'reconnect']).optional(),
	limit: wholeNumberText.pipe(z.number().int().min(1).max(10_000)).default(1000),
});
export const EventList = z.object({
	events: z.array(
		z.object({
			t: z.number(),
			roomId: z.string(),
			peerId: z.string(),
			type: z.string(),
			durationMs: z.number().nullable(),
			reason: z.string(),
		}),
	),
});
export type EventList = z.infer<typeof EventList>;

/** Problem reply of every collector endpoint. */
export const ApiError = z.object({
	error: z.string(),
	message: z.string(),
	issues: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
});
export type ApiError = z.infer<typeof ApiError>;


/** Everything the dashboard's run view shows, at one resolution: GET /v1/runs/:runId/view. */
export const RunView = z.object({
	run: RunInfo,
	summary: RunSummary,
	timeseries: Timeseries,
	participants: ParticipantsSeries,
	quality: QualityBands,
	sfu: SfuLoad,
	generator: GeneratorHealth,
	firstMedia: FirstMediaDistribution,
});
export type RunView = z.infer<typeof RunView>;

/** POST /v1/runs/:runId/evaluate: thresholds checked exactly against the stored data. */
export const EvaluateRequest = z.object({
	thresholds: ThresholdExpressions.refine((t) => Object.keys(t).length > 0, 'no thresholds'),
});
export type EvaluateRequest = z.infer<typeof EvaluateRequest>;
export const EvaluateResponse = z.object({ results: z.array(ThresholdResult) });
export type EvaluateResponse = z.infer<typeof EvaluateResponse>;

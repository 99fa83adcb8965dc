import type { Column, RowOf } from './columns.ts';

const ts = { name: 'ts', type: 'DateTime64(3)', codec: 'Delta, ZSTD(1)' } as const;
const lc = <N extends string>(name: N) => ({ name, type: 'LowCardinality(String)' }) as const;
const f32 = <N extends string>(name: N) => ({ name, type: 'Nullable(Float32)' }) as const;
const i64 = <N extends string>(name: N) => ({ name, type: 'Nullable(Int64)' }) as const;

/** One normalised RTP stream or candidate pair of one participant at one instant. */
export const sampleColumns = [
	lc('run_id'),
	ts,
	lc('room_id'),
	lc('peer_id'),
	lc('bot_id'),
	lc('source_kind'),
	lc('pc'),
	/** audio | video | '' (candidate pair) */
	lc('kind'),
	/** inbound | outbound | remote-inbound | candidate-pair */
	lc('direction'),
	{ name: 'stream_id', type: 'String', codec: 'ZSTD(1)' },
	{ name: 'ssrc', type: 'UInt32' },
	f32('interval_ms'),
	i64('packets'),
	i64('packets_delta'),
	i64('bytes'),
	i64('bytes_delta'),
	i64('packets_lost'),
	i64('lost_delta'),
	f32('loss_pct'),
	f32('bitrate_bps'),
	f32('rtt_ms'),
	f32('jitter_ms'),
	f32('fps'),
	f32('width'),
	f32('height'),
	i64('frames_delta'),
	i64('freeze_count'),
	f32('freeze_ms_delta'),
	/** Share of the interval spent frozen. */
	f32('freeze_pct'),
	/** Jitter-buffer delay per emitted sample/frame over the interval. */
	f32('jitter_buffer_ms'),
	f32('concealment_pct'),
	i64('nack_count'),
	i64('pli_count'),
	lc('quality_limitation'),
	f32('available_outgoing_bps'),
	f32('mos'),
] as const satisfies readonly Column[];
export type SampleRow = RowOf<typeof sampleColumns>;

export const eventColumns = [
	lc('run_id'),
	ts,
	lc('room_id'),
	lc('peer_id'),
	lc('bot_id'),
	lc('source_kind'),
	lc('type'),
	f32('duration_ms'),
	{ name: 'reason', type: 'String' },
	lc('media_kind'),
	{ name: 'attempt', type: 'UInt32' },
] as const satisfies readonly Column[];
export type EventRow = RowOf<typeof eventColumns>;

/** Server-side load of one mediasoup worker at one instant. */
export const sfuSampleColumns = [
	lc('run_id'),
	ts,
	lc('sfu_id'),
	{ name: 'worker', type: 'UInt32' },
	{ name: 'pid', type: 'UInt32' },
	f32('cpu_pct'),
	{ name: 'max_rss_bytes', type: 'Float64' },
	{ name: 'rooms', type: 'UInt32' },
	{ name: 'peers', type: 'UInt32' },
	{ name: 'producers', type: 'UInt32' },
	{ name: 'consumers', type: 'UInt32' },
] as const satisfies readonly Column[];
export type SfuSampleRow = RowOf<typeof sfuSampleColumns>;

/**
 * Health of the load generator itself, once a second per process: CPU share and event-loop
 * lag of the runner, each Chromium and each lite-bot process, and the whole machine. A
 * saturated generator makes every other figure of the run suspect.
 */
export const generatorSampleColumns = [
	lc('run_id'),
	ts,
	/** Which load generator (host and shard). */
	lc('generator_id'),
	/** runner | browser | lite | machine */
	lc('role'),
	lc('process_id'),
	{ name: 'pid', type: 'UInt32' },
	/** Percent of one core (a process) or of the whole machine (role machine). */
	f32('cpu_pct'),
	/** Event-loop delay p99 over the interval (Node processes). */
	f32('lag_ms'),
	{ name: 'rss_bytes', type: 'Float64' },
	{ name: 'saturated', type: 'UInt8' },
] as const satisfies readonly Column[];
export type GeneratorSampleRow = RowOf<typeof generatorSampleColumns>;

/** Every stored batch id, for idempotency across restarts. */
export const batchColumns = [
	lc('run_id'),
	{ name: 'batch_id', type: 'String' },
	ts,
	{ name: 'samples', type: 'UInt32' },
	{ name: 'events', type: 'UInt32' },
] as const satisfies readonly Column[];
export type BatchRow = RowOf<typeof batchColumns>;

/** Whole getStats() reports, kept only when the collector is asked to (drill-down). */
export const rawReportColumns = [
	lc('run_id'),
	ts,
	lc('room_id'),
	lc('peer_id'),
	lc('pc'),
	{ name: 'report', type: 'String', codec: 'ZSTD(3)' },
] as const satisfies readonly Column[];
export type RawReportRow = RowOf<typeof rawReportColumns>;

/** Run registry; the newest row per run (ReplacingMergeTree on updated_at) wins. */
export const runColumns = [
	{ name: 'run_id', type: 'String' },
	{ name: 'scenario', type: 'String' },
	lc('status'),
	{ name: 'status_reason', type: 'String' },
	{ name: 'started_at', type: 'DateTime64(3)' },
	{ name: 'ended_at', type: 'Nullable(DateTime64(3))' },
	{ name: 'planned_participants', type: 'UInt32' },
	{ name: 'config', type: 'String' },
	{ name: 'verdict', type: 'String' },
	{ name: 'updated_at', type: 'DateTime64(3)' },
] as const satisfies readonly Column[];
export type RunRow = RowOf<typeof runColumns>;

export const tables = {
	samples: sampleColumns,
	events: eventColumns,
	sfu_samples: sfuSampleColumns,
	batches: batchColumns,
	raw_reports: rawReportColumns,
	runs: runColumns,
	generator_samples: generatorSampleColumns,
} as const;
export type TableName = keyof typeof tables;
/** Every table rows are written to, in a fixed order: journal records refer to tables by position (append only). */
export const tableNames: readonly TableName[] = ['samples', 'events', 'sfu_samples', 'batches', 'raw_reports', 'runs', 'generator_samples'];
export type RowOfTable<T extends TableName> = RowOf<(typeof tables)[T]>;

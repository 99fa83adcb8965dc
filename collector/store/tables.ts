import { storedCountColumns } from '../../protocol/metrics.ts';
import type { Column, RowOf } from './columns.ts';

const ts = { name: 'ts', type: 'DateTime64(3)', codec: 'Delta, ZSTD(1)' } as const;
const lc = <N extends string>(name: N) => ({ name, type: 'LowCardinality(String)' }) as const;
const f32 = <N extends string>(name: N) => ({ name, type: 'Nullable(Float32)' }) as const;

/**
 * The app a row belongs to (empty for load runs), the participant's user id as stored (an HMAC
 * with the app's secret salt, never the raw id; empty for bots), and how many days the row is
 * kept (the tables' TTL reads it: retention per app and per run).
 */
const privacyColumns = <D extends string>(defaultDays: D) =>
	[lc('app_id'), { name: 'user_id', type: 'String' }, { name: 'retention_days', type: 'UInt16', default: defaultDays }] as const;
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
	/** Sent video: share of the interval the encoder was held back by CPU, or by bandwidth (qualityLimitationDurations). */
	f32('cpu_limited_pct'),
	f32('bandwidth_limited_pct'),
	/** Received video: layer (frame size) changes, per minute over the interval. */
	f32('layer_switches_per_min'),
	f32('available_outgoing_bps'),
	f32('mos'),
	...privacyColumns('30'),
	/** direction "e2e": capture-to-decode delay from the sender (stream_id) over the interval, and the share of frames its mark was read on. */
	f32('e2e_ms'),
	f32('e2e_marks_pct'),
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
	...privacyColumns('30'),
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
	/** The figures the process's lite bots and viewers judged so far, per metric, and of them withheld (the process stood still). */
	...storedCountColumns.map((name) => ({ name, type: 'UInt32' }) as const),
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
	...privacyColumns('7'),
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
	/** "run" (a load test) or "call" (a production call of an app). */
	{ name: 'kind', type: 'LowCardinality(String)', default: "'run'" },
	lc('app_id'),
] as const satisfies readonly Column[];
export type RunRow = RowOf<typeof runColumns>;

/**
 * Who took part in a production call, as the monitoring SDK reports it: hashed user id, coarse
 * user agent, app version, region and free labels (breakdowns of the app view); newest row wins.
 */
export const callParticipantColumns = [
	lc('app_id'),
	lc('run_id'),
	lc('peer_id'),
	{ name: 'user_id', type: 'String' },
	{ name: 'first_seen', type: 'DateTime64(3)' },
	{ name: 'last_seen', type: 'DateTime64(3)' },
	lc('user_agent'),
	lc('app_version'),
	lc('region'),
	{ name: 'labels', type: 'String' },
	{ name: 'retention_days', type: 'UInt16', default: '30' },
] as const satisfies readonly Column[];
export type CallParticipantRow = RowOf<typeof callParticipantColumns>;

export const tables = {
	samples: sampleColumns,
	events: eventColumns,
	sfu_samples: sfuSampleColumns,
	batches: batchColumns,
	raw_reports: rawReportColumns,
	runs: runColumns,
	generator_samples: generatorSampleColumns,
	call_participants: callParticipantColumns,
} as const;
export type TableName = keyof typeof tables;
/** Every table rows are written to, in a fixed order: journal records refer to tables by position (append only). */
export const tableNames: readonly TableName[] = ['samples', 'events', 'sfu_samples', 'batches', 'raw_reports', 'runs', 'generator_samples', 'call_participants'];

// ---- registries written by the API, not the journal ----

/** Apps monitored in production. The salt keys the HMAC of user ids (secret, never shown). */
export const appColumns = [
	{ name: 'app_id', type: 'String' },
	{ name: 'name', type: 'String' },
	{ name: 'salt', type: 'String' },
	/** JSON array of the origins allowed to post (CORS). */
	{ name: 'origins', type: 'String' },
	{ name: 'retention_days', type: 'UInt16' },
	{ name: 'raw_retention_days', type: 'UInt16' },
	/** Share of calls the SDK monitors (0..1). */
	{ name: 'sample_share', type: 'Float32' },
	/** A call with no data for this long has ended. */
	{ name: 'call_idle_minutes', type: 'UInt16' },
	{ name: 'created_at', type: 'DateTime64(3)' },
	{ name: 'updated_at', type: 'DateTime64(3)' },
	{ name: 'deleted', type: 'UInt8' },
] as const satisfies readonly Column[];
export type AppRow = RowOf<typeof appColumns>;

/** Ingest keys: only their SHA-256 is kept; a key can only post telemetry for its app. */
export const appKeyColumns = [
	{ name: 'app_id', type: 'String' },
	{ name: 'key_id', type: 'String' },
	{ name: 'key_hash', type: 'String' },
	{ name: 'created_at', type: 'DateTime64(3)' },
	{ name: 'revoked_at', type: 'Nullable(DateTime64(3))' },
	{ name: 'updated_at', type: 'DateTime64(3)' },
] as const satisfies readonly Column[];
export type AppKeyRow = RowOf<typeof appKeyColumns>;

export const alertRuleColumns = [
	{ name: 'app_id', type: 'String' },
	{ name: 'rule_id', type: 'String' },
	{ name: 'name', type: 'String' },
	{ name: 'metric', type: 'LowCardinality(String)' },
	{ name: 'threshold', type: 'String' },
	{ name: 'window_ms', type: 'UInt32' },
	{ name: 'webhook', type: 'String' },
	{ name: 'format', type: 'LowCardinality(String)' },
	{ name: 'created_at', type: 'DateTime64(3)' },
	{ name: 'updated_at', type: 'DateTime64(3)' },
	{ name: 'deleted', type: 'UInt8' },
] as const satisfies readonly Column[];
export type AlertRuleRow = RowOf<typeof alertRuleColumns>;

export const alertEventColumns = [
	{ name: 'app_id', type: 'LowCardinality(String)' },
	{ name: 'rule_id', type: 'String' },
	{ name: 'ts', type: 'DateTime64(3)' },
	/** firing | resolved */
	{ name: 'state', type: 'LowCardinality(String)' },
	{ name: 'value', type: 'Nullable(Float64)' },
	{ name: 'samples', type: 'UInt32' },
	{ name: 'message', type: 'String' },
	/** The webhook answered 2xx. */
	{ name: 'delivered', type: 'UInt8' },
] as const satisfies readonly Column[];
export type AlertEventRow = RowOf<typeof alertEventColumns>;
/** The shards of multi-machine runs, as their coordinator last saw them (newest row wins). */
export const runShardColumns = [
	{ name: 'run_id', type: 'String' },
	{ name: 'shard', type: 'UInt32' },
	{ name: 'shard_count', type: 'UInt32' },
	{ name: 'generator', type: 'String' },
	/** running | finished | lost */
	lc('state'),
	{ name: 'scenario', type: 'String' },
	{ name: 'started_at', type: 'DateTime64(3)' },
	{ name: 'planned', type: 'UInt32' },
	{ name: 'joined', type: 'UInt32' },
	{ name: 'failed', type: 'UInt32' },
	{ name: 'heartbeat_ms', type: 'UInt32' },
	/** The scenario's thresholds (JSON): the verdict checks them over every shard's data. */
	{ name: 'thresholds', type: 'String' },
	{ name: 'last_seen_at', type: 'DateTime64(3)' },
	{ name: 'finished_at', type: 'Nullable(DateTime64(3))' },
	{ name: 'outcome_status', type: 'String' },
	{ name: 'outcome_reason', type: 'String' },
	/** Set on the shard that asked every shard to stop. */
	{ name: 'abort_reason', type: 'String' },
	{ name: 'updated_at', type: 'DateTime64(3)' },
] as const satisfies readonly Column[];
export type RunShardRow = RowOf<typeof runShardColumns>;
export type RowOfTable<T extends TableName> = RowOf<(typeof tables)[T]>;

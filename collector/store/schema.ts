/**
 * The ClickHouse schema as versioned migrations. The same statements run on the embedded
 * engine (chDB) and on a server; with a cluster name they create Replicated tables on every
 * node plus Distributed tables over them.
 */
import { columnsDdl, type Column } from './columns.ts';
import { eventColumns, rawReportColumns, runColumns, sampleColumns, sfuSampleColumns, batchColumns } from './tables.ts';

export interface SchemaOptions {
	database: string;
	/** CLICKHOUSE_CLUSTER: Replicated + Distributed tables across this cluster. */
	cluster?: string;
	/** Raw samples and events are dropped after this many days. */
	sampleTtlDays: number;
	/** Whole getStats() reports are dropped after this many days. */
	rawReportTtlDays: number;
}

export interface Migration {
	version: number;
	name: string;
	statements: (o: SchemaOptions) => string[];
}

/** Metrics the per-second rollup keeps quantile (t-digest) and average states of. */
export const rollupMetrics = [
	'rtt_ms',
	'jitter_ms',
	'loss_pct',
	'bitrate_bps',
	'fps',
	'mos',
	'freeze_pct',
	'jitter_buffer_ms',
	'concealment_pct',
	'available_outgoing_bps',
] as const;
export type RollupMetric = (typeof rollupMetrics)[number];
export const rollupQuantiles = [0.5, 0.95, 0.99] as const;
const quantilesFn = `quantilesTDigest(${rollupQuantiles.join(', ')})`;

const onCluster = (o: SchemaOptions): string => (o.cluster ? ` ON CLUSTER \`${o.cluster}\`` : '');

/** MergeTree family engine, replicated under a cluster. */
function engine(o: SchemaOptions, table: string, family = 'MergeTree', args = ''): string {
	if (!o.cluster) return `${family}(${args})`;
	const path = `'/clickhouse/tables/{shard}/${o.database}/${table}', '{replica}'`;
	return `Replicated${family}(${path}${args ? `, ${args}` : ''})`;
}

/**
 * CREATE TABLE for `name` (reads and writes go to `name`). Under a cluster the data lives in
 * `name_local` on each node and `name` is a Distributed table over them.
 */
function table(
	o: SchemaOptions,
	name: string,
	body: string,
	tail: string,
	family = 'MergeTree',
	engineArgs = '',
	shardingKey = 'rand()',
): string[] {
	const local = o.cluster ? `${name}_local` : name;
	const statements = [
		`CREATE TABLE IF NOT EXISTS \`${o.database}\`.\`${local}\`${onCluster(o)} (\n  ${body}\n) ENGINE = ${engine(o, local, family, engineArgs)}\n${tail}`,
	];
	if (o.cluster) {
		statements.push(
			`CREATE TABLE IF NOT EXISTS \`${o.database}\`.\`${name}\`${onCluster(o)} AS \`${o.database}\`.\`${local}\` ENGINE = Distributed(\`${o.cluster}\`, \`${o.database}\`, \`${local}\`, ${shardingKey})`,
		);
	}
	return statements;
}

const cols = (columns: readonly Column[]): string => columnsDdl(columns);

/** Per-second, per-run rollup: the dashboard's time series and summary read this. */
function runRollupStatements(o: SchemaOptions): string[] {
	const db = `\`${o.database}\``;
	const local = (n: string) => (o.cluster ? `${n}_local` : n);
	const states = rollupMetrics.flatMap((m) => [
		`\`${m}_q\` AggregateFunction(${quantilesFn}, Nullable(Float32))`,
		`\`${m}_avg\` AggregateFunction(avg, Nullable(Float32))`,
	]);
	const body = [
		'`run_id` LowCardinality(String)',
		'`bucket` DateTime',
		'`source_kind` LowCardinality(String)',
		'`kind` LowCardinality(String)',
		'`direction` LowCardinality(String)',
		'`samples` AggregateFunction(count)',
		'`peers` AggregateFunction(uniq, LowCardinality(String))',
		'`packets_delta` AggregateFunction(sum, Nullable(Int64))',
		'`lost_delta` AggregateFunction(sum, Nullable(Int64))',
		...states,
	].join(',\n  ');
	const selects = rollupMetrics.flatMap((m) => [
		`${quantilesFn.replace('quantilesTDigest', 'quantilesTDigestState')}(\`${m}\`) AS \`${m}_q\``,
		`avgState(\`${m}\`) AS \`${m}_avg\``,
	]);
	return [
		...table(
			o,
			'samples_1s',
			body,
			`PARTITION BY toYYYYMMDD(bucket)\nORDER BY (run_id, source_kind, kind, direction, bucket)`,
			'AggregatingMergeTree',
			'',
			'cityHash64(run_id)',
		),
		`CREATE MATERIALIZED VIEW IF NOT EXISTS ${db}.\`samples_1s_mv\`${onCluster(o)} TO ${db}.\`${local('samples_1s')}\` AS
SELECT run_id, toDateTime(ts) AS bucket, source_kind, kind, direction,
  countState() AS samples, uniqState(peer_id) AS peers,
  sumState(packets_delta) AS packets_delta, sumState(lost_delta) AS lost_delta,
  ${selects.join(',\n  ')}
FROM ${db}.\`${local('samples')}\`
GROUP BY run_id, bucket, source_kind, kind, direction`,
	];
}

/** Per-peer averages in 10-second buckets: quality bands and the peer drill-down read this. */
function peerRollupStatements(o: SchemaOptions): string[] {
	const db = `\`${o.database}\``;
	const local = (n: string) => (o.cluster ? `${n}_local` : n);
	const avgState = 'AggregateFunction(avg, Float32)';
	const body = [
		'`run_id` LowCardinality(String)',
		'`bucket` DateTime',
		'`room_id` LowCardinality(String)',
		'`peer_id` LowCardinality(String)',
		'`source_kind` LowCardinality(String)',
		'`samples` AggregateFunction(count)',
		`\`loss_pct\` ${avgState}`,
		`\`jitter_ms\` ${avgState}`,
		`\`rtt_ms\` ${avgState}`,
		`\`mos\` ${avgState}`,
	].join(',\n  ');
	return [
		...table(
			o,
			'peer_10s',
			body,
			`PARTITION BY toYYYYMMDD(bucket)\nORDER BY (run_id, room_id, peer_id, source_kind, bucket)`,
			'AggregatingMergeTree',
			'',
			'cityHash64(run_id, peer_id)',
		),
		`CREATE MATERIALIZED VIEW IF NOT EXISTS ${db}.\`peer_10s_mv\`${onCluster(o)} TO ${db}.\`${local('peer_10s')}\` AS
SELECT run_id, toStartOfInterval(ts, INTERVAL 10 SECOND) AS bucket, room_id, peer_id, source_kind,
  countState() AS samples,
  avgStateIf(loss_pct, direction = 'inbound') AS loss_pct,
  avgStateIf(jitter_ms, direction = 'inbound') AS jitter_ms,
  avgStateIf(rtt_ms, direction = 'candidate-pair') AS rtt_ms,
  avgStateIf(mos, direction = 'inbound' AND kind = 'audio') AS mos
FROM ${db}.\`${local('samples')}\`
GROUP BY run_id, bucket, room_id, peer_id, source_kind`,
	];
}

export const migrations: Migration[] = [
	{
		version: 1,
		name: 'samples, events, SFU samples, batches, raw reports, runs; per-second and per-peer rollups',
		statements: (o) => [
			...table(
				o,
				'samples',
				cols(sampleColumns),
				`PARTITION BY toYYYYMMDD(ts)\nORDER BY (run_id, room_id, peer_id, kind, direction, ts)\nTTL toDateTime(ts) + INTERVAL ${o.sampleTtlDays} DAY`,
				'MergeTree',
				'',
				'cityHash64(run_id, peer_id)',
			),
			...table(
				o,
				'events',
				cols(eventColumns),
				`PARTITION BY toYYYYMMDD(ts)\nORDER BY (run_id, room_id, peer_id, type, ts)\nTTL toDateTime(ts) + INTERVAL ${o.sampleTtlDays} DAY`,
			),
			...table(
				o,
				'sfu_samples',
				cols(sfuSampleColumns),
				`PARTITION BY toYYYYMMDD(ts)\nORDER BY (run_id, sfu_id, worker, ts)\nTTL toDateTime(ts) + INTERVAL ${o.sampleTtlDays} DAY`,
			),
			...table(
				o,
				'batches',
				cols(batchColumns),
				`PARTITION BY toYYYYMMDD(ts)\nORDER BY (run_id, batch_id)\nTTL toDateTime(ts) + INTERVAL ${o.sampleTtlDays} DAY`,
			),
			...table(
				o,
				'raw_reports',
				cols(rawReportColumns),
				`PARTITION BY toYYYYMMDD(ts)\nORDER BY (run_id, room_id, peer_id, ts)\nTTL toDateTime(ts) + INTERVAL ${o.rawReportTtlDays} DAY`,
			),
			...table(o, 'runs', cols(runColumns), 'ORDER BY run_id', 'ReplacingMergeTree', 'updated_at', 'cityHash64(run_id)'),
			...runRollupStatements(o),
			...peerRollupStatements(o),
		],
	},
];

export function migrationsTableStatement(o: SchemaOptions): string[] {
	return [
		`CREATE DATABASE IF NOT EXISTS \`${o.database}\`${onCluster(o)}`,
		...table(
			o,
			'schema_migrations',
			'`version` UInt32,\n  `name` String,\n  `applied_at` DateTime',
			'ORDER BY version',
		),
	];
}

/**
 * The ClickHouse schema as versioned migrations. The same statements run on the embedded
 * engine (chDB) and on a server; with a cluster name they create Replicated tables on every
 * node plus Distributed tables over them.
 */
import { metricCatalogue, sampleMetricNames, type SampleMetric } from '../../protocol/metrics.ts';
import { columnsDdl, type Column } from './columns.ts';
import {
	alertEventColumns,
	alertRuleColumns,
	appColumns,
	appKeyColumns,
	batchColumns,
	callParticipantColumns,
	eventColumns,
	generatorSampleColumns,
	rawReportColumns,
	runColumns,
	runShardColumns,
	sampleColumns,
	sfuSampleColumns,
	tables,
} from './tables.ts';

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

/** Metrics the rollups keep quantile-sketch and average states of: every samples column a metric reads. */
export const rollupMetrics: ReadonlyArray<SampleMetric['column']> = [...new Set(sampleMetricNames.map((m) => metricCatalogue[m].column))];
export type RollupMetric = SampleMetric['column'];
export const rollupQuantiles = [0.5, 0.95, 0.99] as const;
/** DDSketch with 1 % relative accuracy: mergeable, small states (about 1 KB), cheap merges. */
export const sketchAccuracy = 0.01;
const sketchArgs = `${sketchAccuracy}, ${rollupQuantiles.join(', ')}`;
/** A quantiles aggregate over the rollup sketch, e.g. sketch('Merge') = quantilesDDMerge(0.01, 0.5, ...). */
export const sketch = (combinator = ''): string => `quantilesDD${combinator}(${sketchArgs})`;
const quantilesFn = sketch();

/** Inserts remembered per table for deduplication: far more than the journal segments a replay can repeat. */
const deduplicationWindow = 10_000;

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

/** ALTER TABLE for `name`: under a cluster, its local table on every node and the Distributed table over them. */
function alter(o: SchemaOptions, name: string, clause: string): string[] {
	const names = o.cluster ? [`${name}_local`, name] : [name];
	return names.map((n) => `ALTER TABLE \`${o.database}\`.\`${n}\`${onCluster(o)} ${clause}`);
}

/**
 * Rollup levels (seconds). Each query reads the coarsest level that still gives enough points,
 * so a view merges a few hundred aggregate states at most, whatever the run length. Level 1
 * aggregates samples; each further level aggregates the level before it (cascading views), so
 * ingest pays for the first level only.
 */
export const rollupLevels = [5, 15, 60, 300] as const;
export type RollupLevel = (typeof rollupLevels)[number];

/**
 * A family of cascading rollups: per run (the run view) and per app (the app view over time
 * ranges). Each level is filled from the one before; the first from samples.
 */
export interface RollupFamily {
	prefix: string;
	/** The column the family is kept per. */
	key: 'run_id' | 'app_id';
	levels: readonly number[];
	/** Which samples the first level takes. */
	where?: string;
}

export const runRollups: RollupFamily = { prefix: 'rollup', key: 'run_id', levels: rollupLevels };
/** App views cover an hour to weeks: minutes, quarter hours and hours. */
export const appRollupLevels = [60, 900, 3600] as const;
export const appRollups: RollupFamily = { prefix: 'app_rollup', key: 'app_id', levels: appRollupLevels, where: "app_id != ''" };
export const rollupFamilies = [runRollups, appRollups] as const;

/** The state columns of one rollup metric. */
const rollupStateColumns = (m: string): string[] => [
	`\`${m}_q\` AggregateFunction(${quantilesFn}, Nullable(Float32))`,
	`\`${m}_avg\` AggregateFunction(avg, Nullable(Float32))`,
];

/** The SELECT filling level `i` of a rollup family from `source` (the level before, or samples). */
function rollupSelect(o: SchemaOptions, family: RollupFamily, i: number, source: string, where?: string): string {
	const level = family.levels[i]!;
	const time = i === 0 ? 'ts' : 'bucket';
	const fromSamples = [
		'countState() AS samples',
		'sumState(packets_delta) AS packets_delta',
		'sumState(lost_delta) AS lost_delta',
		...rollupMetrics.flatMap((m) => [`${sketch('State')}(\`${m}\`) AS \`${m}_q\``, `avgState(\`${m}\`) AS \`${m}_avg\``]),
	];
	const fromLevel = [
		'countMergeState(samples) AS samples',
		'sumMergeState(packets_delta) AS packets_delta',
		'sumMergeState(lost_delta) AS lost_delta',
		...rollupMetrics.flatMap((m) => [`${sketch('MergeState')}(\`${m}_q\`) AS \`${m}_q\``, `avgMergeState(\`${m}_avg\`) AS \`${m}_avg\``]),
	];
	const conditions = [...(i === 0 && family.where ? [family.where] : []), ...(where ? [where] : [])];
	return `SELECT ${family.key}, toStartOfInterval(${time}, INTERVAL ${level} SECOND) AS bucket, source_kind, kind, direction,
  ${(i === 0 ? fromSamples : fromLevel).join(',\n  ')}
FROM \`${o.database}\`.\`${source}\`${conditions.length ? `\nWHERE ${conditions.join(' AND ')}` : ''}
GROUP BY ${family.key}, bucket, source_kind, kind, direction`;
}

/** The materialized view filling level `i` of a rollup family. */
function rollupView(o: SchemaOptions, family: RollupFamily, i: number): string {
	const local = (n: string) => (o.cluster ? `${n}_local` : n);
	const name = `${family.prefix}_${family.levels[i]}s`;
	const source = i === 0 ? 'samples' : `${family.prefix}_${family.levels[i - 1]}s`;
	return `CREATE MATERIALIZED VIEW IF NOT EXISTS \`${o.database}\`.\`${name}_mv\`${onCluster(o)} TO \`${o.database}\`.\`${local(name)}\` AS
${rollupSelect(o, family, i, local(source))}`;
}

/** Per key and stream kind/direction: quantile sketch and average states of every rollup metric. */
function rollupStatements(o: SchemaOptions, family: RollupFamily): string[] {
	const states = rollupMetrics.flatMap(rollupStateColumns);
	const body = [
		`\`${family.key}\` LowCardinality(String)`,
		'`bucket` DateTime',
		'`source_kind` LowCardinality(String)',
		'`kind` LowCardinality(String)',
		'`direction` LowCardinality(String)',
		'`samples` AggregateFunction(count)',
		'`packets_delta` AggregateFunction(sum, Nullable(Int64))',
		'`lost_delta` AggregateFunction(sum, Nullable(Int64))',
		...states,
	].join(',\n  ');
	return family.levels.flatMap((level, i) => [
		...table(
			o,
			`${family.prefix}_${level}s`,
			body,
			`PARTITION BY toYYYYMM(bucket)\nORDER BY (${family.key}, direction, kind, source_kind, bucket)\nTTL bucket + INTERVAL ${o.sampleTtlDays} DAY\nSETTINGS index_granularity = 256`,
			'AggregatingMergeTree',
			'',
			`cityHash64(${family.key})`,
		),
		rollupView(o, family, i),
	]);
}

const peerMetrics = ['loss_pct', 'jitter_ms', 'rtt_ms', 'mos'] as const;

/** The SELECT filling level `i` of the per-peer rollup from `source`. */
function peerRollupSelect(o: SchemaOptions, i: number, source: string, where?: string): string {
	const level = rollupLevels[i]!;
	const time = i === 0 ? 'ts' : 'bucket';
	const fromSamples = [
		'countState() AS samples',
		"avgStateIf(loss_pct, direction = 'inbound') AS loss_pct",
		"avgStateIf(jitter_ms, direction = 'inbound') AS jitter_ms",
		"avgStateIf(rtt_ms, direction = 'candidate-pair') AS rtt_ms",
		"avgStateIf(mos, direction = 'inbound' AND kind = 'audio') AS mos",
	];
	const fromLevel = ['countMergeState(samples) AS samples', ...peerMetrics.map((m) => `avgMergeState(\`${m}\`) AS \`${m}\``)];
	return `SELECT run_id, toStartOfInterval(${time}, INTERVAL ${level} SECOND) AS bucket, room_id, peer_id, source_kind,
  ${(i === 0 ? fromSamples : fromLevel).join(',\n  ')}
FROM \`${o.database}\`.\`${source}\`${where ? `\nWHERE ${where}` : ''}
GROUP BY run_id, bucket, room_id, peer_id, source_kind`;
}

/** Per peer: averages of the quality-band metrics (active participants, bands and the peer drill-down read these). */
function peerRollupStatements(o: SchemaOptions): string[] {
	const local = (n: string) => (o.cluster ? `${n}_local` : n);
	const avgState = 'AggregateFunction(avg, Float32)';
	const body = [
		'`run_id` LowCardinality(String)',
		'`bucket` DateTime',
		'`room_id` LowCardinality(String)',
		'`peer_id` LowCardinality(String)',
		'`source_kind` LowCardinality(String)',
		'`samples` AggregateFunction(count)',
		...peerMetrics.map((m) => `\`${m}\` ${avgState}`),
	].join(',\n  ');
	return rollupLevels.flatMap((level, i) => {
		const name = `peer_rollup_${level}s`;
		const source = i === 0 ? 'samples' : `peer_rollup_${rollupLevels[i - 1]}s`;
		return [
			...table(
				o,
				name,
				body,
				`PARTITION BY toYYYYMM(bucket)\nORDER BY (run_id, room_id, peer_id, source_kind, bucket)\nTTL bucket + INTERVAL ${o.sampleTtlDays} DAY`,
				'AggregatingMergeTree',
				'',
				'cityHash64(run_id, peer_id)',
			),
			`CREATE MATERIALIZED VIEW IF NOT EXISTS \`${o.database}\`.\`${name}_mv\`${onCluster(o)} TO \`${o.database}\`.\`${local(name)}\` AS
${peerRollupSelect(o, i, local(source))}`,
		];
	});
}

/**
 * After rows were deleted from samples: the rollup rows they fed are deleted (`rollupWhere`, on
 * every level of the family) and the first level is filled again from the samples left
 * (`sampleWhere`); the views cascade it to the coarser levels. Both conditions must cover whole
 * buckets of the coarsest level, or rows outside them would be counted twice.
 */
export function rollupRebuild(o: SchemaOptions, family: RollupFamily | 'peer', rollupWhere: string, sampleWhere: string): { deletes: string[]; insert: string } {
	const local = (n: string) => (o.cluster ? `${n}_local` : n);
	const [prefix, levels] = family === 'peer' ? ['peer_rollup', rollupLevels] : [family.prefix, family.levels];
	const deletes = levels.map((level) => `ALTER TABLE \`${o.database}\`.\`${local(`${prefix}_${level}s`)}\`${onCluster(o)} DELETE WHERE ${rollupWhere}`);
	const select = family === 'peer' ? peerRollupSelect(o, 0, 'samples', sampleWhere) : rollupSelect(o, family, 0, 'samples', sampleWhere);
	return { deletes, insert: `INSERT INTO \`${o.database}\`.\`${prefix}_${levels[0]}s\`\n${select}` };
}

export const migrations: Migration[] = [
	{
		version: 1,
		name: 'samples, events, SFU samples, batches, raw reports, runs; run and peer rollups',
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
			...rollupStatements(o, runRollups),
			...peerRollupStatements(o),
		],
	},
	{
		version: 2,
		name: 'insert deduplication for journal replays; load-generator health',
		statements: (o) => [
			...table(
				o,
				'generator_samples',
				cols(generatorSampleColumns),
				`PARTITION BY toYYYYMMDD(ts)\nORDER BY (run_id, generator_id, role, process_id, ts)\nTTL toDateTime(ts) + INTERVAL ${o.sampleTtlDays} DAY`,
			),
			...alter(o, 'runs', "ADD COLUMN IF NOT EXISTS `status_reason` String DEFAULT '' AFTER `status`"),
			// Replicated tables deduplicate inserts by default; plain MergeTree needs a window.
			...(o.cluster
				? []
				: [...v2Tables, ...rollupLevels.flatMap((l) => [`rollup_${l}s`, `peer_rollup_${l}s`])].map(
						(name) => `ALTER TABLE \`${o.database}\`.\`${name}\` MODIFY SETTING non_replicated_deduplication_window = ${deduplicationWindow}`,
					)),
		],
	},
	{
		version: 3,
		name: 'privacy and production apps: retention per row, hashed user ids, apps, ingest keys, call participants, alerts, app rollups',
		statements: (o) => {
			const db = `\`${o.database}\``;
			const dedup = (names: string[]) =>
				o.cluster ? [] : names.map((name) => `ALTER TABLE ${db}.\`${name}\` MODIFY SETTING non_replicated_deduplication_window = ${deduplicationWindow}`);
			const addColumns = (name: string, columns: readonly Column[], only: string[]) =>
				columns.filter((c) => only.includes(c.name)).flatMap((c) => alter(o, name, `ADD COLUMN IF NOT EXISTS ${columnsDdl([c])}`));
			const privacy = ['app_id', 'user_id', 'retention_days'];
			return [
				// Rows carry their own retention: the TTL reads it (per app, per run).
				...addColumns('samples', sampleColumns, privacy),
				...addColumns('events', eventColumns, privacy),
				...addColumns('raw_reports', rawReportColumns, privacy),
				...addColumns('runs', runColumns, ['kind', 'app_id']),
				...['samples', 'events', 'raw_reports'].flatMap((name) => alter(o, name, 'MODIFY TTL toDateTime(ts) + toIntervalDay(retention_days)')),
				...rollupLevels.flatMap((l) => [`rollup_${l}s`, `peer_rollup_${l}s`]).flatMap((name) => alter(o, name, `MODIFY TTL bucket + INTERVAL ${o.sampleTtlDays} DAY`)),
				...table(
					o,
					'call_participants',
					cols(callParticipantColumns),
					'ORDER BY (app_id, run_id, peer_id)\nTTL toDateTime(last_seen) + toIntervalDay(retention_days)',
					'ReplacingMergeTree',
					'last_seen',
					'cityHash64(app_id, run_id)',
				),
				...table(o, 'apps', cols(appColumns), 'ORDER BY app_id', 'ReplacingMergeTree', 'updated_at', 'cityHash64(app_id)'),
				...table(o, 'app_keys', cols(appKeyColumns), 'ORDER BY (app_id, key_id)', 'ReplacingMergeTree', 'updated_at', 'cityHash64(app_id)'),
				...table(o, 'alert_rules', cols(alertRuleColumns), 'ORDER BY (app_id, rule_id)', 'ReplacingMergeTree', 'updated_at', 'cityHash64(app_id)'),
				...table(o, 'alert_events', cols(alertEventColumns), `ORDER BY (app_id, rule_id, ts)\nTTL toDateTime(ts) + INTERVAL 90 DAY`, 'MergeTree', '', 'cityHash64(app_id)'),
				...rollupStatements(o, appRollups),
				...dedup(['call_participants', ...appRollupLevels.map((l) => `app_rollup_${l}s`)]),
			];
		},
	},
	{
		version: 4,
		name: 'coordinated multi-machine runs: run shards',
		statements: (o) => [
			...table(o, 'run_shards', cols(runShardColumns), 'ORDER BY (run_id, shard)\nTTL toDateTime(updated_at) + INTERVAL 400 DAY', 'ReplacingMergeTree', 'updated_at', 'cityHash64(run_id)'),
		],
	},
];

/** The tables migration 2 knew (its statements must not change with later tables). */
const v2Tables = ['samples', 'events', 'sfu_samples', 'batches', 'raw_reports', 'runs', 'generator_samples'];

/**
 * Columns the code declares that the database lacks, typically a metric added since the tables
 * were made: ADD COLUMN for each table, the rollup state columns, and the rollup views remade so
 * they fill them. Run after the versioned migrations, so adding a metric needs no migration.
 * `existing` gives a table's columns as the database has them.
 */
export function catchUpStatements(o: SchemaOptions, existing: (table: string) => Set<string>): string[] {
	const local = (n: string) => (o.cluster ? `${n}_local` : n);
	const statements: string[] = [];
	for (const [name, columns] of Object.entries(tables)) {
		const have = existing(local(name));
		if (have.size === 0) continue;
		for (const column of columns as readonly Column[]) {
			if (!have.has(column.name)) statements.push(...alter(o, name, `ADD COLUMN IF NOT EXISTS ${columnsDdl([column])}`));
		}
	}
	for (const family of rollupFamilies) {
		const have = existing(local(`${family.prefix}_${family.levels[0]}s`));
		const missing = rollupMetrics.filter((m) => have.size > 0 && !have.has(`${m}_q`));
		if (missing.length === 0) continue;
		family.levels.forEach((level, i) => {
			const name = `${family.prefix}_${level}s`;
			for (const m of missing) for (const column of rollupStateColumns(m)) statements.push(...alter(o, name, `ADD COLUMN IF NOT EXISTS ${column}`));
			statements.push(`DROP VIEW IF EXISTS \`${o.database}\`.\`${name}_mv\`${onCluster(o)}`, rollupView(o, family, i));
		});
	}
	return statements;
}

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

import { MessageChannel } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { estimateMos } from '../../collector/normalize/mos.ts';
import { chooseResolution } from '../../collector/queries/Resolution.ts';
import { RowBinaryWriter } from '../../collector/store/columns.ts';
import { catchUpStatements, migrations, rollupMetrics, type SchemaOptions } from '../../collector/store/schema.ts';
import { sampleColumns } from '../../collector/store/tables.ts';

describe('MOS estimate', () => {
	it('follows the E-model formula of the architecture page', () => {
		// rtt 20 + 2 * jitter 5 + 10 = 40 ms effective latency: R = 93.2 - 1 = 92.2
		const r = 92.2;
		expect(estimateMos(20, 5, 0)).toBeCloseTo(1 + 0.035 * r + 7e-6 * r * (r - 60) * (100 - r), 10);
		// >= 160 ms uses the steeper branch, then 2.5 R per loss percent.
		const r2 = 93.2 - 200 / 120 - 10 - 2.5 * 4;
		expect(estimateMos(150, 20, 4)).toBeCloseTo(1 + 0.035 * r2 + 7e-6 * r2 * (r2 - 60) * (100 - r2), 10);
	});

	it('is clamped to 1..4.5 and falls as the network worsens', () => {
		expect(estimateMos(0, 0, 0)).toBeLessThanOrEqual(4.5);
		expect(estimateMos(2000, 500, 60)).toBe(1);
		expect(estimateMos(300, 30, 2)).toBeLessThan(estimateMos(50, 5, 0));
	});
});

describe('RowBinary writer', () => {
	it('encodes Int64 (also negative), nullable floats and UTF-8 strings with varint lengths', () => {
		const writer = new RowBinaryWriter(4);
		writer.writeRow(
			[
				{ name: 'a', type: 'Int64' },
				{ name: 'b', type: 'Nullable(Float32)' },
				{ name: 'c', type: 'Nullable(Float32)' },
				{ name: 'd', type: 'String' },
			],
			{ a: -5, b: null, c: 1.5, d: 'é'.repeat(100) },
		);
		const bytes = writer.bytes();
		expect(bytes.readBigInt64LE(0)).toBe(-5n);
		expect(bytes[8]).toBe(1);
		expect(bytes[9]).toBe(0);
		expect(bytes.readFloatLE(10)).toBe(1.5);
		// 200 bytes of UTF-8: varint 0xc8 0x01
		expect([bytes[14], bytes[15]]).toEqual([0xc8, 0x01]);
		expect(bytes.subarray(16).toString('utf8')).toBe('é'.repeat(100));
		// ASCII a byte per character, text that turns non-ASCII part way, long ASCII (two-byte length), empty.
		const texts = ['peer-7', 'abcé✓x', 'a'.repeat(300), ''];
		const strings = new RowBinaryWriter(2);
		for (const text of texts) strings.writeRow([{ name: 's', type: 'LowCardinality(String)' }], { s: text });
		const expected = Buffer.concat(
			texts.map((text) => {
				const utf8 = Buffer.from(text, 'utf8');
				const prefix = utf8.length < 0x80 ? [utf8.length] : [(utf8.length & 0x7f) | 0x80, utf8.length >> 7];
				return Buffer.concat([Buffer.from(prefix), utf8]);
			}),
		);
		expect(strings.bytes().equals(expected)).toBe(true);
		const big = new RowBinaryWriter();
		big.writeRow([{ name: 'ts', type: 'DateTime64(3)' }], { ts: 1_795_649_689_905 });
		expect(big.bytes().readBigInt64LE(0)).toBe(1_795_649_689_905n);
	});
});

describe('schema', () => {
	const base: SchemaOptions = { database: 'callswarm', sampleTtlDays: 30, rawReportTtlDays: 7 };
	it('creates MergeTree tables with partitions, ordering, codecs, TTLs and rollup views', () => {
		const sql = migrations.flatMap((m) => m.statements(base)).join('\n');
		expect(sql).toContain('ORDER BY (run_id, room_id, peer_id, kind, direction, ts)');
		expect(sql).toContain('PARTITION BY toYYYYMMDD(ts)');
		expect(sql).toContain('`ts` DateTime64(3) CODEC(Delta, ZSTD(1))');
		expect(sql).toContain('TTL toDateTime(ts) + INTERVAL 30 DAY');
		expect(sql).toContain('TTL toDateTime(ts) + INTERVAL 7 DAY');
		expect(sql).toMatch(/ENGINE = AggregatingMergeTree\(\)/);
		expect(sql).toContain('CREATE MATERIALIZED VIEW IF NOT EXISTS `callswarm`.`rollup_5s_mv` TO `callswarm`.`rollup_5s`');
		// Coarser levels aggregate the level before them.
		expect(sql).toMatch(/`rollup_60s_mv` TO `callswarm`.`rollup_60s` AS[\s\S]*FROM `callswarm`.`rollup_15s`/);
		expect(sql).not.toContain('ON CLUSTER');
	});

	it('creates Replicated local tables and Distributed tables over them on a cluster', () => {
		const sql = migrations.flatMap((m) => m.statements({ ...base, cluster: 'prod' })).join('\n');
		expect(sql).toContain("CREATE TABLE IF NOT EXISTS `callswarm`.`samples_local` ON CLUSTER `prod`");
		expect(sql).toContain("ReplicatedMergeTree('/clickhouse/tables/{shard}/callswarm/samples_local', '{replica}')");
		expect(sql).toContain('ENGINE = Distributed(`prod`, `callswarm`, `samples_local`, cityHash64(run_id, peer_id))');
		expect(sql).toContain("ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/callswarm/runs_local', '{replica}', updated_at)");
		expect(sql).toContain('TO `callswarm`.`rollup_5s_local`');
		expect(sql).toContain('FROM `callswarm`.`samples_local`');
	});
});

describe('schema catch-up (a metric added since the tables were made)', () => {
	const base: SchemaOptions = { database: 'callswarm', sampleTtlDays: 30, rawReportTtlDays: 7 };
	it('adds the missing samples column and rollup states, and remakes the rollup views', () => {
		const full = new Set([...sampleColumns.map((c) => c.name)]);
		const rollup = new Set(rollupMetrics.flatMap((m) => [`${m}_q`, `${m}_avg`]));
		const existing = (table: string) => {
			if (table === 'samples') return new Set([...full].filter((c) => c !== 'mos'));
			if (table.startsWith('rollup_')) return new Set([...rollup].filter((c) => !c.startsWith('mos_')));
			return new Set<string>();
		};
		const sql = catchUpStatements(base, existing);
		expect(sql).toContain('ALTER TABLE `callswarm`.`samples` ADD COLUMN IF NOT EXISTS `mos` Nullable(Float32)');
		expect(sql.filter((s) => s.includes('ADD COLUMN IF NOT EXISTS `mos_q`'))).toHaveLength(4);
		expect(sql).toContain('DROP VIEW IF EXISTS `callswarm`.`rollup_5s_mv`');
		expect(sql.some((s) => s.startsWith('CREATE MATERIALIZED VIEW IF NOT EXISTS `callswarm`.`rollup_5s_mv`') && s.includes('AS `mos_q`'))).toBe(true);
		// Nothing to do for an up-to-date database.
		expect(catchUpStatements(base, (t) => (t === 'samples' ? full : t.startsWith('rollup_') ? rollup : new Set()))).toEqual([]);
	});
});

describe('chart resolution', () => {
	it('reads the finest rollup level that keeps a chart under 160 points', () => {
		expect(chooseResolution(60_000)).toEqual({ bucket: 5, level: 5 });
		expect(chooseResolution(20 * 60_000)).toEqual({ bucket: 15, level: 15 });
		expect(chooseResolution(3_600_000)).toEqual({ bucket: 60, level: 60 });
		expect(chooseResolution(24 * 3_600_000)).toEqual({ bucket: 300, level: 300 });
	});

	it('reads the coarsest level a requested bucket is a multiple of, raw samples otherwise', () => {
		expect(chooseResolution(0, 30)).toEqual({ bucket: 30, level: 15 });
		expect(chooseResolution(0, 120)).toEqual({ bucket: 120, level: 60 });
		expect(chooseResolution(0, 2)).toEqual({ bucket: 2, level: 'raw' });
	});
});

describe('fast stats check', () => {
	it('agrees with the zod schemas on real Chromium stats and on broken copies of them', async () => {
		const { validStats } = await import('../../collector/normalize/statsCheck.ts');
		const { knownStatsTypes } = await import('../../protocol/telemetry.ts');
		const { chromiumFixture } = await import('../helpers/telemetry.ts');
		const stats = chromiumFixture().snapshots.flatMap((s) => s.stats).filter((s) => (s.type as string) in knownStatsTypes);
		expect(stats.length).toBeGreaterThan(40);
		const broken = (stat: Record<string, unknown>): Array<Record<string, unknown>> => {
			const out: Array<Record<string, unknown>> = [];
			for (const [key, value] of Object.entries(stat)) {
				if (key === 'type') continue;
				if (typeof value === 'number') out.push({ ...stat, [key]: -1 }, { ...stat, [key]: String(value) }, { ...stat, [key]: Infinity });
				if (typeof value === 'string') out.push({ ...stat, [key]: 42 }, { ...stat, [key]: 'x'.repeat(300) });
				if (typeof value === 'boolean') out.push({ ...stat, [key]: 'yes' });
			}
			out.push({ ...stat, kind: 'data' }, { ...stat, id: undefined });
			return out;
		};
		let compared = 0;
		for (const stat of stats) {
			const type = stat.type as keyof typeof knownStatsTypes;
			for (const candidate of [stat, ...broken(stat)]) {
				expect(validStats[type]!(candidate), `${type} ${JSON.stringify(candidate).slice(0, 120)}`).toBe(knownStatsTypes[type].safeParse(candidate).success);
				compared++;
			}
		}
		expect(compared).toBeGreaterThan(500);
	});
});

describe('moving bytes to another thread', () => {
	it('moves only bytes that are the whole of their memory block, never a slice of Node\'s shared pool', async () => {
		const { ownsItsMemory } = await import('../../collector/ingest/BatchWorkers.ts');
		const small = Buffer.from('{"batches":[]}');
		expect(small.buffer.byteLength).toBeGreaterThan(small.byteLength);
		expect(ownsItsMemory(small)).toBe(false);
		// Bigger than Node's whole pool (8 KiB on Node 20 and 22, 64 KiB on 24), as a large request body is.
		const half = Buffer.poolSize;
		const body = Buffer.concat([Buffer.alloc(half, 1), Buffer.alloc(half, 2)]);
		expect(ownsItsMemory(body)).toBe(true);
		expect(ownsItsMemory(body.subarray(1))).toBe(false);
		// Moved: the sender's view is emptied, the receiver has every byte.
		const { port1, port2 } = new MessageChannel();
		const received = new Promise<Uint8Array>((resolve) => port2.once('message', resolve));
		port1.postMessage(body, [body.buffer]);
		const bytes = await received;
		expect(body.byteLength).toBe(0);
		expect(bytes.byteLength).toBe(2 * half);
		expect([bytes[0], bytes[2 * half - 1]]).toEqual([1, 2]);
		port1.close();
	});
});

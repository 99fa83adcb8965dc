/** The store on the real engine: a database made before a metric existed catches up by itself. */
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { RowBinaryWriter } from '../../collector/store/columns.ts';
import { ClickHouseStore } from '../../collector/store/ClickHouseStore.ts';
import { sampleColumns, type SampleRow } from '../../collector/store/tables.ts';
import { removeDir } from '../helpers/tempDir.ts';

const dataDir = mkdtempSync(path.join(os.tmpdir(), 'callswarm-store-test-'));
afterAll(() => removeDir(dataDir));

const columnsOf = async (store: ClickHouseStore, table: string) =>
	(await store.query<{ name: string }>(`SELECT name FROM system.columns WHERE database = 'callswarm' AND table = {t:String}`, { t: table })).map((c) => c.name);

describe('schema catch-up on the engine', () => {
	it('adds a metric\'s missing columns and rollup states at start, and the rollups fill them', async () => {
		let store = await ClickHouseStore.open({ dataDir });
		// A database from before "mos" and "rss_bytes" existed.
		await store.command('ALTER TABLE callswarm.generator_samples DROP COLUMN rss_bytes');
		for (const level of [5, 15, 60, 300]) await store.command(`DROP VIEW callswarm.rollup_${level}s_mv`);
		for (const level of [5, 15, 60, 300]) await store.command(`ALTER TABLE callswarm.rollup_${level}s DROP COLUMN mos_q, DROP COLUMN mos_avg`);
		expect(await columnsOf(store, 'rollup_5s')).not.toContain('mos_q');
		await store.close();

		store = await ClickHouseStore.open({ dataDir });
		try {
			expect(await columnsOf(store, 'generator_samples')).toContain('rss_bytes');
			expect(await columnsOf(store, 'rollup_300s')).toEqual(expect.arrayContaining(['mos_q', 'mos_avg']));
			const row = Object.fromEntries(sampleColumns.map((c) => [c.name, c.type.includes('String') ? '' : null])) as unknown as SampleRow;
			Object.assign(row, { run_id: 'catch-up', ts: Date.now(), direction: 'inbound', kind: 'audio', ssrc: 1, mos: 4.2 });
			const writer = new RowBinaryWriter();
			writer.writeRows(sampleColumns, [row]);
			await store.insertRowBinary('samples', Buffer.from(writer.bytes()));
			const [q] = await store.query<{ mos: number }>(`SELECT avgMerge(mos_avg) AS mos FROM callswarm.rollup_300s WHERE run_id = 'catch-up'`);
			expect(q!.mos).toBeCloseTo(4.2, 3);
		} finally {
			await store.close();
		}
	});
});

/**
 * An upgrade must not lose what the old version acknowledged: a journal segment written before
 * a column was added (here: the samples table without the end-to-end delay columns) is stored
 * with its own columns at the next start, the new columns taking their defaults.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { crc32 } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { startCollector } from '../../collector/index.ts';
import { RowBinaryWriter } from '../../collector/store/columns.ts';
import { sampleColumns, tableNames, type SampleRow } from '../../collector/store/tables.ts';
import { removeDir } from '../helpers/tempDir.ts';

const work = mkdtempSync(path.join(os.tmpdir(), 'callswarm-journal-upgrade-'));
afterAll(() => removeDir(work));

/** A journal record as the format documents it: magic, payload length, CRC-32, payload. */
function record(magic: number, payload: Buffer): Buffer {
	const header = Buffer.alloc(12);
	header.writeUInt32LE(magic, 0);
	header.writeUInt32LE(payload.length, 4);
	header.writeUInt32LE(crc32(payload), 8);
	return Buffer.concat([header, payload]);
}

describe('journal segments of an older version', () => {
	it('are stored with the columns they were written with', async () => {
		const oldColumns = sampleColumns.filter((c) => !c.name.startsWith('e2e_'));
		expect(oldColumns.length).toBe(sampleColumns.length - 2);
		// Within the row's retention: the TTL would delete an older row as it is stored.
		const ts = Date.now() - 60_000;
		const row = {
			...Object.fromEntries(oldColumns.map((c) => [c.name, null])),
			run_id: 'upgrade-run',
			ts,
			room_id: 'r',
			peer_id: 'p0',
			bot_id: 'p0',
			source_kind: 'browser',
			pc: 'recv',
			kind: 'audio',
			direction: 'inbound',
			stream_id: 'IT01A',
			ssrc: 1,
			quality_limitation: '',
			rtt_ms: 42,
			app_id: '',
			user_id: '',
			retention_days: 30,
		} as unknown as Omit<SampleRow, 'e2e_ms' | 'e2e_marks_pct'>;
		const writer = new RowBinaryWriter(1 << 16);
		writer.writeRows(oldColumns, [row as never]);
		const data = Buffer.from(writer.bytes());

		const id = Buffer.from('upgrade-batch-1');
		const payload = Buffer.alloc(2 + 2 + id.length + 1 + 1 + 4 + 4);
		let o = payload.writeUInt16LE(1, 0);
		o = payload.writeUInt16LE(id.length, o);
		o += id.copy(payload, o);
		o = payload.writeUInt8(1, o);
		o = payload.writeUInt8(tableNames.indexOf('samples'), o);
		o = payload.writeUInt32LE(1, o);
		payload.writeUInt32LE(data.length, o);
		const journalDir = path.join(work, 'data', 'journal');
		mkdirSync(journalDir, { recursive: true });
		writeFileSync(
			path.join(journalDir, '000000000007.0ddba11a.v3.journal'),
			Buffer.concat([record(0x314c5343, Buffer.from(JSON.stringify({ samples: oldColumns }))), record(0x314a5343, Buffer.concat([payload, data]))]),
		);

		const collector = await startCollector({ port: 0, dataDir: path.join(work, 'data'), logLevel: 'silent' });
		try {
			await collector.flush();
			const rows = await collector.store.query<{ rtt_ms: number; e2e_ms: number | null; ts: number }>(
				`SELECT rtt_ms, e2e_ms, toUnixTimestamp64Milli(ts) AS ts FROM callswarm.samples WHERE run_id = 'upgrade-run'`,
			);
			expect(rows).toEqual([{ rtt_ms: 42, e2e_ms: null, ts }]);
			expect(collector.journal.files).toBe(0);
		} finally {
			await collector.close();
		}
	});
});

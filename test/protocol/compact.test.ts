/**
 * The compact wire form: whole real getStats reports survive the round trip, the collector's
 * normaliser gives the same rows for both forms, and malformed rows reject their snapshot (a
 * malformed envelope, the batch) with the path of what is wrong.
 */
import { describe, expect, it } from 'vitest';
import { Normalizer } from '../../collector/normalize/Normalizer.ts';
import { BaselineKeeper } from '../../protocol/baseline.ts';
import { compactBatch, expandSnapshot } from '../../protocol/compact.ts';
import { describeZodError } from '../../protocol/issues.ts';
import { TelemetryBatch, type TelemetryBatchInput } from '../../protocol/telemetry.ts';
import { batch, chromiumFixture } from '../helpers/telemetry.ts';

const fixture = chromiumFixture();
const recv = fixture.snapshots.filter((s) => s.pc === 'recv');

/** Each stats object without the fields whose value is null (null means absent in a row). */
const withoutNulls = (stats: Array<Record<string, unknown>>) => stats.map((stat) => Object.fromEntries(Object.entries(stat).filter(([, v]) => v !== null)));

describe('compact telemetry', () => {
	it('carries whole getStats reports (every type, nested values, fields absent in some objects) in about half the bytes', () => {
		const objects = { ...batch('compact-run', 'p0', fixture.snapshots.slice(2)), baseline: fixture.snapshots.slice(0, 2) };
		const compact = compactBatch(objects);
		expect(compact.columns?.['outbound-rtp']).toContain('qualityLimitationDurations');
		expect(compact.snapshots!.every((s) => s.rows && !s.stats)).toBe(true);
		expect(JSON.stringify(compact).length).toBeLessThan(0.7 * JSON.stringify(objects).length);

		const fromObjects = TelemetryBatch.parse(objects);
		const fromCompact = TelemetryBatch.parse(JSON.parse(JSON.stringify(compact)));
		const byId = (stats: ReadonlyArray<Record<string, unknown>>) => [...stats].sort((a, b) => String(a.id).localeCompare(String(b.id)));
		for (const list of ['snapshots', 'baseline'] as const) {
			expect(fromCompact[list]).toHaveLength(fromObjects[list].length);
			fromCompact[list].forEach((snapshot, i) => {
				expect(snapshot.ts).toBe(fromObjects[list][i]!.ts);
				expect(snapshot.pc).toBe(fromObjects[list][i]!.pc);
				const expanded = expandSnapshot(snapshot, fromCompact.columns);
				expect('stats' in expanded && byId(expanded.stats)).toEqual(byId(withoutNulls(fromObjects[list][i]!.stats)));
			});
		}
	});

	it('gives the normaliser the same rows as the same snapshots as objects, baselines included', () => {
		const keeper = new BaselineKeeper();
		const batches = fixture.snapshots.map((snapshot, i) => ({ ...batch('compact-run', 'p0', [snapshot]), batchId: `compact-${i}`, baseline: keeper.take('p0', [snapshot]) }));
		const rows = (inputs: TelemetryBatchInput[]) => {
			const normalizer = new Normalizer();
			return inputs.flatMap((input) => {
				const result = normalizer.normalize(TelemetryBatch.parse(JSON.parse(JSON.stringify(input))));
				expect(result.rejected).toEqual([]);
				return result.samples;
			});
		};
		const fromObjects = rows(batches);
		expect(fromObjects.length).toBeGreaterThan(20);
		expect(fromObjects.filter((r) => r.packets_delta !== null).length).toBeGreaterThan(10);
		expect(rows(batches.map(compactBatch))).toEqual(fromObjects);
	});

	it('keeps stats objects without a type as objects, beside the rows, and leaves reserved field names out', () => {
		const compact = compactBatch(batch('compact-run', 'p0', [{ ts: fixture.snapshots[0]!.ts, pc: 'recv', stats: [{ id: 'x', note: 1 }, ...fixture.snapshots[0]!.stats] }]));
		expect(compact.snapshots![0]!.stats).toEqual([{ id: 'x', note: 1 }]);
		// A field whose name the collector refuses as a column is left out, not the whole request refused.
		const odd = compactBatch(batch('compact-run', 'p0', [{ ts: fixture.snapshots[0]!.ts, pc: 'recv', stats: [{ type: 'odd', id: 'y', prototype: 1, constructor: 2 }] }]));
		expect(odd.columns).toEqual({ odd: ['id'] });
		expect(TelemetryBatch.safeParse(odd).success).toBe(true);
		const parsed = TelemetryBatch.parse(compact);
		const expanded = expandSnapshot(parsed.snapshots[0]!, parsed.columns);
		expect('stats' in expanded && expanded.stats).toHaveLength(fixture.snapshots[0]!.stats.length + 1);
	});

	/** A compact batch of one recv snapshot, changed by `change`. */
	function changed(change: (compact: Record<string, any>) => void): unknown {
		const compact = structuredClone(compactBatch(batch('compact-run', 'p0', recv.slice(0, 1)))) as Record<string, any>;
		change(compact);
		return compact;
	}
	/** Why the normaliser rejects the changed batch's snapshot (the batch itself is valid). */
	const rejection = (change: (compact: Record<string, any>) => void) => {
		const result = new Normalizer().normalize(TelemetryBatch.parse(changed(change)));
		expect(result.samples).toEqual([]);
		return result.rejected.map((r) => `${r.path}: ${r.message}`).join('; ');
	};

	it('rejects the snapshot whose rows have a type the columns do not name, the wrong length or are not lists, naming where', () => {
		expect(rejection((c) => delete c.columns['inbound-rtp'])).toBe(`snapshots[0].rows.inbound-rtp: the batch's columns name no fields for "inbound-rtp"`);
		expect(rejection((c) => delete c.columns)).toMatch(/^snapshots\[0\]\.rows\.[\w-]+: the batch's columns name no fields for "[\w-]+"$/);
		expect(rejection((c) => c.snapshots[0].rows['inbound-rtp'][1].pop())).toMatch(/^snapshots\[0\]\.rows\.inbound-rtp\[1\]: has \d+ values; columns\."inbound-rtp" names \d+ fields$/);
		expect(rejection((c) => (c.snapshots[0].rows['inbound-rtp'][0] = 'abc'))).toBe('snapshots[0].rows.inbound-rtp[0]: must be a list of values');
		expect(rejection((c) => (c.snapshots[0].rows['inbound-rtp'] = {}))).toBe('snapshots[0].rows.inbound-rtp: must be a list of rows');
		const tooMany = rejection((c) => (c.snapshots[0].rows['inbound-rtp'] = Array.from({ length: 5001 }, () => c.snapshots[0].rows['inbound-rtp'][0])));
		expect(tooMany).toBe('snapshots[0].rows.inbound-rtp: makes the snapshot hold more than 5000 stats objects');
	});

	it('refuses the batch when its rows are not an object or its columns name "type", "__proto__" or "constructor"', () => {
		const refusal = (change: (compact: Record<string, any>) => void) => {
			const result = TelemetryBatch.safeParse(changed(change));
			expect(result.success).toBe(false);
			return describeZodError(result.error!);
		};
		expect(refusal((c) => (c.snapshots[0].rows = [1, 2]))).toBe('snapshots[0].rows: must be an object of rows per stats type');
		for (const name of ['type', '__proto__', 'constructor']) {
			expect(refusal((c) => (c.columns['inbound-rtp'][0] = name))).toMatch(/^columns\.inbound-rtp\[0\]: is not a field name/);
		}
	});

	it('names the row, not a place in the expanded list, when a value is wrong', () => {
		const compact = compactBatch(batch('compact-run', 'p0', recv.slice(0, 1)));
		const columns = compact.columns!['inbound-rtp']!;
		const rows = compact.snapshots![0]!.rows!['inbound-rtp']!;
		rows[rows.length - 1]![columns.indexOf('bytesReceived')] = 1e308;
		const result = new Normalizer().normalize(TelemetryBatch.parse(compact));
		expect(result.rejected).toEqual([{ path: `snapshots[0].rows.inbound-rtp[${rows.length - 1}].bytesReceived`, message: expect.stringContaining('at most') }]);
	});
});

import { describe, expect, it } from 'vitest';
import { collectorOptionsFromArgs } from '../../cli/commands/serve.ts';
import { CollectorOptions } from '../../collector/options.ts';

describe('callswarm serve flags and environment', () => {
	it('takes how often and how much to insert from flags over the environment over defaults', () => {
		const defaults = CollectorOptions.parse(collectorOptionsFromArgs([], {}));
		expect(defaults).toMatchObject({ flushIntervalMs: 1000, flushRows: 50_000 });
		const fromEnv = CollectorOptions.parse(collectorOptionsFromArgs([], { CALLSWARM_COLLECTOR_FLUSH_MS: '4000', CALLSWARM_COLLECTOR_FLUSH_ROWS: '200000' }));
		expect(fromEnv).toMatchObject({ flushIntervalMs: 4000, flushRows: 200_000 });
		const fromFlags = CollectorOptions.parse(collectorOptionsFromArgs(['--flush-ms', '2500', '--flush-rows', '1000'], { CALLSWARM_COLLECTOR_FLUSH_MS: '4000' }));
		expect(fromFlags).toMatchObject({ flushIntervalMs: 2500, flushRows: 1000 });
	});

	it('names the bad flag or variable', () => {
		expect(() => collectorOptionsFromArgs(['--flush-ms', 'soon'], {})).toThrow(/flush-ms: must be a whole number/);
		expect(() => collectorOptionsFromArgs(['--flush-ms', '5'], {})).toThrow(/flush-ms: .*10/);
		expect(() => collectorOptionsFromArgs(['--flush-ms', '3600000'], {})).toThrow(/flush-ms: .*60000/);
		expect(() => collectorOptionsFromArgs(['--flush-rows', '0'], {})).toThrow(/flush-rows: .*1/);
		expect(() => collectorOptionsFromArgs([], { CALLSWARM_COLLECTOR_FLUSH_MS: '1s' })).toThrow(/CALLSWARM_COLLECTOR_FLUSH_MS: must be a whole number/);
		expect(() => collectorOptionsFromArgs([], { CALLSWARM_COLLECTOR_FLUSH_ROWS: '2000000' })).toThrow(/CALLSWARM_COLLECTOR_FLUSH_ROWS: .*1000000/);
	});
});

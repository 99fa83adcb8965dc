/**
 * What each bot kind cost the machine over a run: its processes' CPU (from the monitor's
 * readings) over the time its bots spent in calls, set beside what the preflight expected of the
 * same bots with the table's cost of their joins, and said in red when the preflight expected
 * too little.
 */
import { describe, expect, it } from 'vitest';
import { botCostsLine } from '../../cli/output/summary.ts';
import { BotCostMeter } from '../../loadgen/health/BotCostMeter.ts';
import type { GeneratorReading } from '../../loadgen/health/GeneratorMonitor.ts';
import { estimate, estimatedCoresEach } from '../../loadgen/sizing/preflight.ts';
import { botCosts } from '../../loadgen/sizing/costs.ts';
import { Scenario } from '../../protocol/scenario.ts';
import type { GeneratorProcessStats } from '../../protocol/telemetry.ts';

/** A monitor reading at `ts` of processes each at a CPU share of one core (percent). */
function reading(ts: number, processes: Array<[role: GeneratorProcessStats['role'], cpuPct: number]>): GeneratorReading {
	const stats = processes.map(([role, cpuPct], i) => ({ id: `${role}-${i}`, timestamp: ts, type: 'generator-process', role, pid: 100 + i, cpuPct, rssBytes: 0 }) as GeneratorProcessStats);
	return { ts, stats, machineCpuPct: null, runnerLagMs: 0, maxLagMs: 0, saturated: false };
}

describe("the bots' cost over a run", () => {
	it("is the processes' CPU seconds over their bots' seconds in calls, from the second reading on; the runner and the machine are not a bot's", () => {
		const meter = new BotCostMeter();
		// The first reading's CPU was spent before the meter looked.
		meter.add(reading(0, [['browser', 500], ['lite', 500]]), { browser: 2, lite: 0 });
		// 2 s: two browsers at 60 % and 40 % of a core with 4 bots in calls; a lite process at 30 % with 10 bots.
		meter.add(reading(2000, [['browser', 60], ['browser', 40], ['lite', 30], ['runner', 90], ['machine', 80]]), { browser: 4, lite: 10 });
		// 1 s: the browsers the same with 2 bots left, the lite process idle with none (its CPU still counts, over the others' time).
		meter.add(reading(3000, [['browser', 60], ['browser', 40], ['lite', 3]]), { browser: 2, lite: 0 });
		const [browser, lite] = meter.costs({ browser: 0.2 });
		// (1.0 core × 2 s + 1.0 core × 1 s) / (4 × 2 s + 2 × 1 s)
		expect(browser).toMatchObject({ role: 'browser', peak: 4, estimatedCoresEach: 0.2, estimatedJoinCoresEach: 0 });
		expect(browser!.coresEach).toBeCloseTo(0.3, 10);
		// (0.3 × 2 + 0.03 × 1) / (10 × 2)
		expect(lite).toMatchObject({ role: 'lite', peak: 10, estimatedCoresEach: null, estimatedJoinCoresEach: null });
		expect(lite!.coresEach).toBeCloseTo(0.0315, 10);
	});

	it('leaves out a role that had no bot in a call, and a reading that does not move forward', () => {
		const meter = new BotCostMeter();
		meter.add(reading(1000, [['lite', 50]]), { browser: 0, lite: 1 });
		meter.add(reading(1000, [['lite', 50]]), { browser: 0, lite: 1 });
		expect(meter.costs()).toEqual([]);
		meter.add(reading(2000, [['lite', 50], ['browser', 20]]), { browser: 0, lite: 1 });
		expect(meter.costs()).toEqual([{ role: 'lite', peak: 1, coresEach: 0.5, estimatedCoresEach: null, estimatedJoinCoresEach: null }]);
	});

	it("adds to the preflight's estimate the table's cost of the joins the meter saw, over the same bot-seconds", () => {
		const meter = new BotCostMeter();
		// Before the first reading the meter counts no CPU, so no join either.
		meter.joined('browser', botCosts.browser.joinCpuSeconds);
		meter.add(reading(0, [['browser', 0]]), { browser: 0, lite: 0 });
		meter.joined('browser', botCosts.browser.joinCpuSeconds);
		meter.joined('browser', botCosts.browser.joinCpuSeconds);
		meter.joined('lite', botCosts.lite.joinCpuSeconds);
		// 10 s with the 2 browser bots and 1 lite bot in calls.
		meter.add(reading(10_000, [['browser', 100], ['lite', 10]]), { browser: 2, lite: 1 });
		const [browser, lite] = meter.costs({ browser: 0.2, lite: 0.02 });
		const browserJoins = (2 * botCosts.browser.joinCpuSeconds) / 20;
		expect(browser!.estimatedJoinCoresEach).toBeCloseTo(browserJoins, 10);
		expect(browser!.estimatedCoresEach).toBeCloseTo(0.2 + browserJoins, 10);
		expect(lite!.estimatedJoinCoresEach).toBeCloseTo(botCosts.lite.joinCpuSeconds / 10, 10);
		expect(lite!.estimatedCoresEach).toBeCloseTo(0.02 + botCosts.lite.joinCpuSeconds / 10, 10);
		// A role with no estimate has no joins' share either.
		expect(meter.costs({ lite: 0.02 })[0]).toMatchObject({ role: 'browser', estimatedCoresEach: null, estimatedJoinCoresEach: null });
	});

	it("is set beside the preflight's estimate per bot: its bots' own lines and their browsers' share", () => {
		const scenario = Scenario.parse({
			name: 'mix',
			participants: [
				{ bot: 'browser', count: 2, publish: '180p15' },
				{ bot: 'lite', count: 4, publish: 'audio-only', subscribe: 'audio' },
			],
			schedule: { executor: 'constant-vus', vus: 6, duration: '10s' },
		});
		const sizing = estimate(scenario, { bundledSfu: true, localCollector: true, machine: { cores: 2, memoryBytes: 8 * 2 ** 30 } });
		const each = estimatedCoresEach(sizing);
		const browserLines = sizing.lines.filter((l) => l.bots?.role === 'browser');
		expect(browserLines).toHaveLength(2);
		expect(each.browser).toBeCloseTo((browserLines[0]!.cores + browserLines[1]!.cores) / 2, 10);
		// A lite bot sending audio and hearing five others, and its share of the two lite-bot processes (one per core);
		// the SFU, the collector and the runner are no bot's.
		expect(each.lite).toBeCloseTo(botCosts.lite.sendAudioCores + 5 * botCosts.lite.receiveAudioCores + (2 * botCosts.lite.processCores) / 4, 10);
		expect(estimatedCoresEach(estimate(Scenario.parse({ ...scenario, participants: [scenario.participants[1]!] }), { bundledSfu: false, localCollector: false }))).not.toHaveProperty('browser');
	});

	it('is one line of the summary, in red with advice when the preflight expected too little of all the bots at their peaks by more than a fifth', () => {
		expect(botCostsLine([])).toEqual([]);
		const [close] = botCostsLine([
			{ role: 'browser', peak: 4, coresEach: 0.31, estimatedCoresEach: 0.29, estimatedJoinCoresEach: 0 },
			{ role: 'lite', peak: 40, coresEach: 0.01, estimatedCoresEach: null, estimatedJoinCoresEach: null },
		]);
		expect(close).toBe(
			"bots on this machine, their processes' CPU over their time in calls: browser bots 0.310 core each (4 at most in calls; the preflight expected 0.290), lite bots and viewers 0.010 core each (40 at most in calls)",
		);
		const [under] = botCostsLine([{ role: 'browser', peak: 4, coresEach: 0.4, estimatedCoresEach: 0.3, estimatedJoinCoresEach: 0.062 }]);
		expect(under).toContain('the preflight expected 0.300, joins 0.062 of it, 25 % too little)');
		expect(under).toContain('The preflight expects too little of this machine');
		const [over] = botCostsLine([{ role: 'lite', peak: 4, coresEach: 0.01, estimatedCoresEach: 0.013, estimatedJoinCoresEach: 0.0002 }]);
		// A joins' share that would print as 0.000 is not named.
		expect(over).toContain('the preflight expected 0.013, 30 % too much)');
		expect(over).not.toContain('The preflight expects too little');
		// A few light lite bots cost three times the table's figure, but the browsers, which weigh most, cost less than it says.
		const [mixed] = botCostsLine([
			{ role: 'browser', peak: 2, coresEach: 0.28, estimatedCoresEach: 0.45, estimatedJoinCoresEach: 0 },
			{ role: 'lite', peak: 8, coresEach: 0.028, estimatedCoresEach: 0.01, estimatedJoinCoresEach: 0 },
		]);
		expect(mixed).toContain('lite bots and viewers 0.028 core each (8 at most in calls; the preflight expected 0.010, 64 % too little)');
		expect(mixed).not.toContain('The preflight expects too little');
		// The same lite bots by themselves: the preflight's verdict was too kind.
		expect(botCostsLine([{ role: 'lite', peak: 8, coresEach: 0.028, estimatedCoresEach: 0.01, estimatedJoinCoresEach: 0 }])[0]).toContain('The preflight expects too little');
	});
});

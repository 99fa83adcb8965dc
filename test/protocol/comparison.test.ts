import { describe, expect, it } from 'vitest';
import type { MetricSummary, RunStatus } from '../../protocol/api.ts';
import { metricCatalogue, type MetricName } from '../../protocol/metrics.ts';
import { compareRuns, comparisonVerdictText, type ComparedRun } from '../../protocol/comparison.ts';

const stats = (p50: number, p95: number): MetricSummary => ({ unit: 'ms', count: 100, avg: p50, min: 0, max: p95 * 2, p50, p95, p99: p95, rate: null });
const noSamples: MetricSummary = { unit: '', count: 0, avg: null, min: null, max: null, p50: null, p95: null, p99: null, rate: null };
/** Every metric without samples but these. */
const metrics = (given: Partial<Record<MetricName, MetricSummary>>) => Object.fromEntries((Object.keys(metricCatalogue) as MetricName[]).map((m) => [m, given[m] ?? noSamples])) as Record<MetricName, MetricSummary>;

const noMedia = { mediaRoundTripsJudged: 0, mediaRoundTripsWithheld: 0 };

function compared(
	figures: { rtt: [number, number]; jitter: [number, number] },
	options: { status?: RunStatus; statusReason?: string; withheld?: [number, number]; jitterWithheld?: [number, number]; framesSentLate?: [number, number] } = {},
): ComparedRun {
	const [judged, withheld] = options.withheld ?? [0, 0];
	const [jitterJudged, jitterWithheld] = options.jitterWithheld ?? [0, 0];
	const [framesDue, framesSentLate] = options.framesSentLate ?? [0, 0];
	return {
		run: { runId: 'r', status: options.status ?? 'passed', statusReason: options.statusReason ?? '' },
		summary: { metrics: metrics({ rtt_ms: stats(...figures.rtt), jitter_ms: stats(...figures.jitter) }) },
		generator: {
			processes: [
				{ generatorId: 'g', role: 'lite', processId: 'lite-1', peakCpuPct: 50, peakLagMs: 5, saturatedSeconds: 0, roundTripsJudged: judged, roundTripsWithheld: withheld, jitterJudged, jitterWithheld, ...noMedia, framesDue, framesSentLate },
				{ generatorId: 'g', role: 'browser', processId: 'browser-1', peakCpuPct: 50, peakLagMs: null, saturatedSeconds: 0, roundTripsJudged: 0, roundTripsWithheld: 0, jitterJudged: 0, jitterWithheld: 0, ...noMedia, framesDue: 0, framesSentLate: 0 },
			],
		},
	};
}

const base = { rtt: [20, 40] as [number, number], jitter: [5, 10] as [number, number] };
const slower = { rtt: [20, 80] as [number, number], jitter: [5, 10] as [number, number] };

describe('comparing two runs', () => {
	it('finds a regression between two sound runs, and none between equal ones', () => {
		const same = compareRuns(compared(base), compared(base));
		expect(same.verdict).toBe('no regression');
		expect(same.doubts).toEqual([]);
		expect(same.rows.map((r) => `${r.metric} ${r.stat}`)).toEqual(['rtt_ms p50', 'rtt_ms p95', 'jitter_ms p50', 'jitter_ms p95']);

		const worse = compareRuns(compared(base), compared(slower));
		expect(worse.verdict).toBe('regression');
		expect(worse.regressions).toBe(1);
		expect(worse.rows.find((r) => r.metric === 'rtt_ms' && r.stat === 'p95')).toMatchObject({ change: 'worse', diff: 40, relative: 1, doubted: false });
		expect(comparisonVerdictText(worse)).toBe('1 regression(s)');
	});

	it('gives no verdict when either run is invalid, aborted or still running, and says why', () => {
		const reason = 'load generator overloaded at 0:42 (lite-1: event-loop lag p99 180 ms)';
		const invalid = compareRuns(compared(base), compared(slower, { status: 'invalid', statusReason: reason }));
		expect(invalid.verdict).toBe('inconclusive');
		expect(invalid.regressions).toBe(0);
		expect(invalid.doubtedRegressions).toBe(1);
		expect(invalid.rows.every((r) => r.doubted)).toBe(true);
		expect(invalid.doubts).toEqual([{ side: 'B', metric: null, text: `B is invalid: ${reason}; its figures describe the load generator, not the call` }]);
		expect(comparisonVerdictText(invalid)).toMatch(/^no verdict: 1 figure\(s\) moved the wrong way/);

		// An unchanged figure from a saturated baseline proves nothing either.
		const sameButInvalid = compareRuns(compared(base, { status: 'invalid', statusReason: reason }), compared(base));
		expect(sameButInvalid.verdict).toBe('inconclusive');
		expect(comparisonVerdictText(sameButInvalid)).toMatch(/^no verdict: the figures are in doubt/);

		expect(compareRuns(compared(base, { status: 'aborted' }), compared(base)).doubts[0]!.text).toBe('A was aborted; its figures cover only part of the planned load');
		expect(compareRuns(compared(base), compared(base, { status: 'running' })).doubts[0]!.text).toBe('B is still running; its figures will change');
		for (const status of ['passed', 'failed', 'finished'] as const) expect(compareRuns(compared(base, { status }), compared(base)).doubts).toEqual([]);
	});

	it('doubts rtt_ms alone when a run withheld more than a tenth of its round trips', () => {
		// B's RTT got worse, but B left out 15 % of its round trips: no verdict on rtt_ms.
		const doubtedRtt = compareRuns(compared(base), compared(slower, { withheld: [1000, 150] }));
		expect(doubtedRtt.doubts).toEqual([{ side: 'B', metric: 'rtt_ms', text: expect.stringMatching(/^B's rtt_ms leaves out 150 of 1000 round trips lite bots and viewers timed \(15\.0 %\): their own process stood still/) }]);
		expect(doubtedRtt.rows.filter((r) => r.doubted).map((r) => `${r.metric} ${r.stat}`)).toEqual(['rtt_ms p50', 'rtt_ms p95']);
		expect(doubtedRtt.verdict).toBe('inconclusive');

		// Another metric's regression still counts.
		const jitterToo = compareRuns(compared(base, { withheld: [1000, 150] }), compared({ rtt: [20, 80], jitter: [5, 30] }));
		expect(jitterToo.verdict).toBe('regression');
		expect(jitterToo.regressions).toBe(1);
		expect(jitterToo.doubtedRegressions).toBe(1);
		expect(comparisonVerdictText(jitterToo)).toBe('1 regression(s), and 1 more in doubt');

		// At or under a tenth, the figures stand.
		expect(compareRuns(compared(base), compared(slower, { withheld: [1000, 100] })).verdict).toBe('regression');
		expect(compareRuns(compared(base), compared(base, { withheld: [1000, 150] })).verdict).toBe('no regression');
	});

	it('doubts jitter_ms alone when a run withheld more than a tenth of its jitter figures', () => {
		const jumpier = { rtt: [20, 40] as [number, number], jitter: [5, 30] as [number, number] };
		const doubtedJitter = compareRuns(compared(base, { jitterWithheld: [400, 60] }), compared(jumpier));
		expect(doubtedJitter.doubts).toEqual([
			{ side: 'A', metric: 'jitter_ms', text: expect.stringMatching(/^A's jitter_ms leaves out 60 of 400 jitter figures lite bots reported \(15\.0 %\): a stall of their own process may have grown them/) },
		]);
		expect(doubtedJitter.rows.filter((r) => r.doubted).map((r) => `${r.metric} ${r.stat}`)).toEqual(['jitter_ms p50', 'jitter_ms p95']);
		expect(doubtedJitter.verdict).toBe('inconclusive');
		// Both in doubt at once, each for its own reason.
		const both = compareRuns(compared(base), compared(base, { withheld: [100, 20], jitterWithheld: [100, 20] }));
		expect(both.doubts.map((d) => d.metric)).toEqual(['rtt_ms', 'jitter_ms']);
		expect(compareRuns(compared(base, { jitterWithheld: [400, 40] }), compared(jumpier)).verdict).toBe('regression');
	});

	it('doubts jitter_ms when a run sent more than 1 in 100 of its frames late: its receivers measured the wait', () => {
		const jumpier = { rtt: [20, 40] as [number, number], jitter: [5, 30] as [number, number] };
		const late = compareRuns(compared(base), compared(jumpier, { framesSentLate: [9000, 180] }));
		expect(late.doubts).toEqual([
			{ side: 'B', metric: 'jitter_ms', text: expect.stringMatching(/^B's jitter_ms takes in 180 of 9000 frames and audio packets lite bots sent, late by more than 40 ms \(2\.0 %\): their own process stood still/) },
		]);
		expect(late.rows.filter((r) => r.doubted).map((r) => `${r.metric} ${r.stat}`)).toEqual(['jitter_ms p50', 'jitter_ms p95']);
		expect(late.verdict).toBe('inconclusive');
		// 1 in 100 or fewer: the regression stands.
		expect(compareRuns(compared(base), compared(jumpier, { framesSentLate: [9000, 90] })).verdict).toBe('regression');
	});
});

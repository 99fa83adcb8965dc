import { describe, expect, it } from 'vitest';
import { renderJson, renderSummary } from '../../cli/output/summary.ts';
import type { RunOutcome } from '../../loadgen/run/LoadRun.ts';

const outcome = (
	roundTrips: RunOutcome['roundTrips'],
	jitterFigures?: RunOutcome['jitterFigures'],
	mediaRoundTrips?: RunOutcome['mediaRoundTrips'],
	framesSentLate?: RunOutcome['framesSentLate'],
): RunOutcome => ({
	runId: 'summary-test',
	status: 'passed',
	statusReason: '',
	stop: { kind: 'completed' },
	overloaded: undefined,
	roundTrips,
	jitterFigures,
	mediaRoundTrips,
	framesSentLate,
	botCosts: [],
	thresholds: [{ metric: 'rtt_ms', expression: 'p(95)<150', ok: true, value: 12.5, samples: 123 }],
	summary: {
		runId: 'summary-test',
		exact: true,
		participants: { attempted: 4, joined: 4, failed: 0, dropped: 0, peakActive: 4 },
		joinSuccessRate: 1,
		// The other metrics had no data in this run: the summary leaves them out.
		metrics: { rtt_ms: { unit: 'ms', count: 123, avg: 6.1, min: 0.8, max: 31.2, p50: 4.4, p95: 12.5, p99: 20.3, rate: null } } as RunOutcome['summary']['metrics'],
	},
	startedAt: 0,
	endedAt: 60_000,
	collectorUrl: 'http://127.0.0.1:1',
	dashboardUrl: 'http://127.0.0.1:1/#/runs/summary-test',
});

describe('the end-of-run summary', () => {
	it('says nothing of withheld round trips when none were, or when no bot timed any', () => {
		for (const roundTrips of [undefined, { judged: 130, withheld: 0 }]) {
			const text = renderSummary(outcome(roundTrips));
			expect(text).toMatch(/rtt_ms .*12\.5ms.* 123 +p\(95\)<150/);
			expect(text).not.toContain('leaves out');
		}
	});

	it('says how many round trips rtt_ms leaves out, and what to do when they are many', () => {
		const few = renderSummary(outcome({ judged: 130, withheld: 7 }));
		expect(few).toContain('rtt_ms leaves out 7 of 130 round trips lite bots and viewers timed (5.4 %): their own process stood still');
		expect(few).not.toContain('--shard');
		const many = renderSummary(outcome({ judged: 100, withheld: 30 }));
		expect(many).toContain('leaves out 30 of 100 round trips lite bots and viewers timed (30.0 %)');
		expect(many).toMatch(/rests on fewer figures than were measured: run fewer lite bots or viewers per process or per machine \(--shard\)/);
		// The header line comes before the table.
		expect(many.indexOf('leaves out')).toBeLessThan(many.indexOf('metric'));
	});

	it('says how many jitter figures jitter_ms leaves out, apart from the round trips', () => {
		const quiet = renderSummary(outcome({ judged: 130, withheld: 0 }, { judged: 480, withheld: 0 }));
		expect(quiet).not.toContain('leaves out');
		const few = renderSummary(outcome(undefined, { judged: 480, withheld: 12 }));
		expect(few).toContain('jitter_ms leaves out 12 of 480 jitter figures lite bots reported (2.5 %): a stall of their own process may have grown them');
		expect(few).not.toContain('rtt_ms leaves out');
		expect(few).not.toContain('--shard');
		const many = renderSummary(outcome({ judged: 130, withheld: 7 }, { judged: 480, withheld: 96 }));
		expect(many).toContain('rtt_ms leaves out 7 of 130');
		expect(many).toContain('jitter_ms rests on fewer figures than were measured');
		expect(many).not.toContain('rtt_ms rests on fewer figures');
		// And the RTCP round trips of sent media, for media_rtt_ms.
		const media = renderSummary(outcome(undefined, undefined, { judged: 200, withheld: 30 }));
		expect(media).toContain('media_rtt_ms leaves out 30 of 200 RTCP round trips of what lite bots sent (15.0 %)');
		expect(media).toContain('media_rtt_ms rests on fewer figures than were measured');
	});

	it('says how many frames lite bots sent late, which jitter_ms takes in, and puts jitter_ms in doubt above 1 in 100', () => {
		const none = renderSummary(outcome(undefined, undefined, undefined, { judged: 9000, withheld: 0 }));
		expect(none).not.toContain('late by');
		const few = renderSummary(outcome(undefined, undefined, undefined, { judged: 9000, withheld: 45 }));
		expect(few).toContain('jitter_ms takes in 45 of 9000 frames and audio packets lite bots sent, late by more than 40 ms (0.5 %): their own process stood still');
		expect(few).not.toContain('--shard');
		const many = renderSummary(outcome(undefined, undefined, undefined, { judged: 9000, withheld: 180 }));
		expect(many).toContain('takes in 180 of 9000 frames');
		expect(many).toContain("jitter_ms takes in this machine's waits: run fewer lite bots or viewers per process or per machine (--shard)");
		// A share that would be few withheld figures is many frames sent late.
		expect(renderSummary(outcome(undefined, { judged: 9000, withheld: 180 }))).not.toContain('--shard');
	});

	it('keeps the counts in the machine-readable result', () => {
		expect(JSON.parse(renderJson(outcome({ judged: 130, withheld: 7 }, { judged: 480, withheld: 12 })))).toMatchObject({
			roundTrips: { judged: 130, withheld: 7 },
			jitterFigures: { judged: 480, withheld: 12 },
		});
		expect(JSON.parse(renderJson(outcome(undefined)))).not.toHaveProperty('roundTrips');
		expect(JSON.parse(renderJson(outcome(undefined)))).not.toHaveProperty('jitterFigures');
	});
});

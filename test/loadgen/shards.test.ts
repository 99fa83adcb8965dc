/**
 * Multi-machine runs, coordinated by the collector: two shards of one run (in this process, as
 * two load generators sharing an SFU and a collector) get one verdict over both shards' data,
 * an abortOnFail found by one shard stops the other, and a shard that stops reporting is lost.
 */
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCollector, type Collector } from '../../collector/index.ts';
import { decidedKeepMs, lostAfterMs } from '../../collector/runs/RunCoordinator.ts';
import { CollectorClient } from '../../loadgen/CollectorClient.ts';
import { LoadRun, type RunOutcome } from '../../loadgen/run/LoadRun.ts';
import { buildSlots, slotsOfShard } from '../../loadgen/schedule/slots.ts';
import { figureTotals, figureCountsKey, figureKindNames } from '../../protocol/metrics.ts';
import { Scenario, type ScenarioInput } from '../../protocol/scenario.ts';
import { startSfu, type Sfu } from '../../sfu/index.ts';
import { removeDir } from '../helpers/tempDir.ts';

const work = mkdtempSync(path.join(os.tmpdir(), 'callswarm-shards-'));
let sfu: Sfu;
let collector: Collector;

beforeAll(async () => {
	sfu = await startSfu({ port: 0, logLevel: 'none' });
	collector = await startCollector({ port: 0, dataDir: path.join(work, 'data'), logLevel: 'silent', flushIntervalMs: 200 });
});

afterAll(async () => {
	await collector?.close();
	await sfu?.close();
	removeDir(work);
});

/**
 * Both shards of a run, started together once both are ready; resolves with both outcomes. Not
 * at a fixed time: on a slower 2-core machine the four lite-bot processes could still be starting
 * when it came, and their start-up then counted against the run (invalid, not failed).
 */
async function runShards(input: ScenarioInput, runId: string, options: { heartbeatMs?: number } = {}): Promise<RunOutcome[]> {
	const scenario = Scenario.parse(input);
	const startAt = 'all-ready';
	const runs = [1, 2].map(
		(index) =>
			new LoadRun({ scenario, runId, shard: { index, count: 2 }, startAt, sfuUrl: sfu.url, collectorUrl: collector.url, heartbeatMs: options.heartbeatMs, verdictTimeoutMs: 120_000 }),
	);
	try {
		return await Promise.all(runs.map((run) => run.execute()));
	} finally {
		for (const run of runs) await run.close();
	}
}

/** Shard 1 gets the "slow" group (every second slot), shard 2 the "fast" one. */
const pair = (name: string, thresholds: ScenarioInput['thresholds']): ScenarioInput => ({
	name,
	rooms: { count: 1 },
	participants: [
		{ name: 'slow', bot: 'lite', count: 2, publish: 'audio-only', network: { delayMs: 100 } },
		{ name: 'fast', bot: 'lite', count: 2, publish: 'audio-only' },
	],
	schedule: { executor: 'constant-vus', vus: 4, duration: '12s' },
	thresholds,
});

describe('a run of two shards', () => {
	it('gets one verdict over both shards’ data, not the verdict of whichever finished last', async () => {
		const scenario = pair('two-shards', {
			// Each shard alone has 2 joins: fails alone, passes over both.
			join_ms: ['count>=4', 'count<=3'],
			// Shard 1 (delayed) alone fails, shard 2 alone passes; over both it passes.
			rtt_ms: ['avg<150'],
		});
		const slots = slotsOfShard(buildSlots(Scenario.parse(scenario)), { index: 1, count: 2 });
		expect(slots.map((s) => s.group.name)).toEqual(['slow', 'slow']);

		const outcomes = await runShards(scenario, 'two-shards-verdict');
		// Both shards report the same, coordinated verdict.
		for (const outcome of outcomes) {
			expect(outcome.status).toBe('failed');
			// Each shard counts the round trips its own lite bots timed: its rtt_ms figures come from them.
			expect(outcome.roundTrips!.judged).toBeGreaterThan(0);
			expect(outcome.roundTrips!.withheld).toBeLessThanOrEqual(outcome.roundTrips!.judged);
			// And the jitter figures its lite bots reported of the audio they received, and the RTCP round trips of the audio they sent.
			for (const counts of [outcome.jitterFigures!, outcome.mediaRoundTrips!]) {
				expect(counts.judged).toBeGreaterThan(0);
				expect(counts.withheld).toBeLessThanOrEqual(counts.judged);
			}
			expect(outcome.thresholds.map((t) => [t.metric, t.expression, t.ok])).toEqual([
				['join_ms', 'count>=4', true],
				['join_ms', 'count<=3', false],
				['rtt_ms', 'avg<150', true],
			]);
		}
		const client = new CollectorClient(collector.url);
		const run = await client.run('two-shards-verdict');
		expect(run).toMatchObject({ status: 'failed', plannedParticipants: 4 });
		// Each shard's monitor stored its processes' final counts: the run view adds up both shards'.
		const { generator } = await client.view('two-shards-verdict');
		expect(new Set(generator.processes.map((p) => p.generatorId)).size).toBe(2);
		for (const metric of figureKindNames) {
			const told = outcomes.map((o) => o[figureCountsKey(metric)]!);
			expect(figureTotals(generator.processes, metric)).toEqual({ judged: told[0]!.judged + told[1]!.judged, withheld: told[0]!.withheld + told[1]!.withheld });
		}
		const state = await client.coordination('two-shards-verdict');
		expect(state.shards.map((s) => [s.index, s.state, s.joined, s.outcome?.status])).toEqual([
			[1, 'finished', 2, 'completed'],
			[2, 'finished', 2, 'completed'],
		]);

		// Long after the verdict the collector forgets the run; the store answers for it, and a late
		// shard gets the same verdict (never a second one).
		const tracked = collector.coordinator.trackedRuns;
		await collector.coordinator.sweep(Date.now() + decidedKeepMs + 1000);
		expect(collector.coordinator.trackedRuns).toBe(tracked - 1);
		expect((await client.coordination('two-shards-verdict')).verdict?.status).toBe('failed');
		const late = await client.reportShard('two-shards-verdict', 2, { count: 2, generator: 'late', state: 'running', plannedParticipants: 2, thresholds: {} });
		expect(late.verdict).toMatchObject({ status: 'failed', thresholds: expect.arrayContaining([expect.objectContaining({ metric: 'join_ms', expression: 'count<=3', ok: false })]) });
		expect(late.shards.map((s) => s.state)).toEqual(['finished', 'finished']);
		expect(await client.run('two-shards-verdict')).toMatchObject({ status: 'failed' });

		// What each shard alone would have said: the opposite on every threshold.
		for (const [index, expected] of [
			[1, [false, true, false]],
			[2, [false, true, true]],
		] as const) {
			const peers = slotsOfShard(buildSlots(Scenario.parse(scenario)), { index, count: 2 }).map((s) => s.peerId);
			const alone = await collector.queries.thresholds.evaluateIn(
				{ where: 'run_id = {run:String} AND peer_id IN {peers:Array(String)}', params: { run: 'two-shards-verdict', peers } },
				{ join_ms: ['count>=4', 'count<=3'], rtt_ms: ['avg<150'] },
			);
			expect(alone.map((t) => t.ok), `shard ${index} alone`).toEqual(expected);
		}
	});

	it('stops every shard when one finds an abortOnFail threshold failing', async () => {
		const outcomes = await runShards(
			{
				...pair('two-shards-abort', { rtt_ms: [{ threshold: 'max<150', abortOnFail: true, delayAbortEval: '4s' }] }),
				schedule: { executor: 'constant-vus', vus: 4, duration: '2m' },
			},
			'two-shards-abort',
			{ heartbeatMs: 500 },
		);
		for (const outcome of outcomes) {
			expect(outcome.status).toBe('failed');
			expect(outcome.statusReason).toMatch(/threshold rtt_ms max<150 failed \(abortOnFail\) \(found by shard [12] of 2; every shard stopped\)/);
			expect(outcome.endedAt - outcome.startedAt).toBeLessThan(100_000);
		}
		// The shard that found it stopped on the threshold; the other was told (or, checking at the same moment, found it too).
		expect(outcomes.some((o) => o.stop.kind === 'threshold')).toBe(true);
		expect(outcomes.every((o) => o.stop.kind === 'threshold' || o.stop.kind === 'requested')).toBe(true);
	});

	it('declares a silent shard lost and the run invalid, not passed', async () => {
		const client = new CollectorClient(collector.url);
		const runId = 'two-shards-lost';
		const startedAt = Date.now();
		await client.registerRun(runId, { scenario: 'lost', status: 'running', startedAt, plannedParticipants: 4 });
		const base = { count: 2, generator: 'test', scenario: 'lost', startedAt, plannedParticipants: 2, heartbeatMs: 200, thresholds: { join_ms: ['count>=0'] } };
		await client.reportShard(runId, 1, { ...base, state: 'running' });
		await client.reportShard(runId, 2, { ...base, state: 'running' });
		await client.reportShard(runId, 1, { ...base, state: 'finished', outcome: { status: 'completed', reason: '' } });
		// Shard 2 never reports again: after its window the run is decided without it.
		const silentFrom = Date.now();
		let state = await client.coordination(runId);
		while (!state.verdict && Date.now() - silentFrom < lostAfterMs(200) + 10_000) {
			await new Promise((r) => setTimeout(r, 250));
			state = await client.coordination(runId);
		}
		expect(state.shards[1]).toMatchObject({ index: 2, state: 'lost' });
		expect(state.verdict?.status).toBe('invalid');
		expect(state.verdict?.statusReason).toMatch(/shard 2 of 2 lost \(no heartbeat for \d+s\): part of the load never ran/);
		expect((await client.run(runId)).status).toBe('invalid');
		// It cannot come back: its load is gone from the run.
		expect((await client.reportShard(runId, 2, { ...base, state: 'running' })).shards[1]!.state).toBe('lost');
		// A shard claiming another shard count is refused.
		await expect(client.reportShard(runId, 1, { ...base, count: 3, state: 'running' })).rejects.toThrow(/409/);
	});
});

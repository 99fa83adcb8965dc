import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LoadRun } from '../../loadgen/run/LoadRun.ts';
import { Scenario } from '../../protocol/scenario.ts';

const dataDir = mkdtempSync(path.join(os.tmpdir(), 'callswarm-impairment-test-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

describe('network impairment of browser bots', () => {
	it('raises RTT and loss for impaired participants against an unimpaired control, and follows changes during the run', async () => {
		const scenario = Scenario.parse({
			name: 'impairment',
			rooms: { count: 1 },
			participants: [
				{ name: 'control', bot: 'browser', count: 2, publish: '180p15' },
				{ name: 'impaired', bot: 'browser', count: 1, publish: '180p15', network: { delayMs: 80, lossPct: 8 } },
				{ name: 'changing', bot: 'browser', count: 1, publish: '180p15' },
			],
			schedule: { executor: 'constant-vus', vus: 4, duration: '26s' },
			networkChanges: [{ at: '13s', network: { delayMs: 120 }, groups: ['changing'] }],
			statsInterval: '1s',
		});
		const run = new LoadRun({ scenario, dataDir });
		const outcome = await run.execute();
		try {
			expect(outcome.summary.participants.joined).toBe(4);
			const store = run.collector!.store;
			const rtt = await store.query<{ group: string; p50: number }>(
				`SELECT splitByChar('-', peer_id)[1] AS group, quantileExact(0.5)(rtt_ms) AS p50 FROM callswarm.samples
				WHERE run_id = {run:String} AND direction = 'candidate-pair' AND rtt_ms > 0 AND peer_id NOT LIKE 'changing%'
				GROUP BY group ORDER BY group`,
				{ run: outcome.runId },
			);
			const byGroup = Object.fromEntries(rtt.map((r) => [r.group, r.p50]));
			expect(byGroup.control).toBeLessThan(30);
			// 80 ms each way.
			expect(byGroup.impaired).toBeGreaterThan(140);

			const [loss] = await store.query<{ impaired: number; control: number }>(
				`SELECT sumIf(lost_delta, peer_id LIKE 'impaired%') / greatest(1, sumIf(packets_delta + lost_delta, peer_id LIKE 'impaired%')) * 100 AS impaired,
					sumIf(lost_delta, peer_id LIKE 'control%' ) / greatest(1, sumIf(packets_delta + lost_delta, peer_id LIKE 'control%')) * 100 AS control
				FROM callswarm.samples WHERE run_id = {run:String} AND direction = 'inbound'`,
				{ run: outcome.runId },
			);
			// The impaired participant loses about 8 % of what it receives.
			expect(loss!.impaired).toBeGreaterThan(3);
			expect(loss!.impaired).toBeGreaterThan(loss!.control);

			const [change] = await store.query<{ before: number; after: number }>(
				`SELECT quantileExactIf(0.5)(rtt_ms, ts < fromUnixTimestamp64Milli(toInt64({start:Int64} + 12000))) AS before,
					quantileExactIf(0.5)(rtt_ms, ts > fromUnixTimestamp64Milli(toInt64({start:Int64} + 16000))) AS after
				FROM callswarm.samples WHERE run_id = {run:String} AND direction = 'candidate-pair' AND rtt_ms > 0 AND peer_id LIKE 'changing%'`,
				{ run: outcome.runId, start: outcome.startedAt },
			);
			expect(change!.before).toBeLessThan(30);
			expect(change!.after).toBeGreaterThan(200);
		} finally {
			await run.close();
		}
	});
});

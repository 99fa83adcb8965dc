import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LoadRun } from '../../loadgen/run/LoadRun.ts';
import { networkPresets, Scenario } from '../../protocol/scenario.ts';
import { waitFor } from '../helpers/signaling.ts';

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
				{ name: 'changing', bot: 'browser', count: 1, publish: '180p15', network: 'perfect' },
			],
			// An upper bound: the test ends the run itself once it has what it measures.
			schedule: { executor: 'constant-vus', vus: 4, duration: '5m' },
			statsInterval: '1s',
		});
		const run = new LoadRun({ scenario, dataDir });
		const firstMedia = new Map<string, number>();
		run.on('participant', (slot, event) => {
			if (event.type === 'first-media' && !firstMedia.has(slot.group.name)) firstMedia.set(slot.group.name, event.ts);
		});
		const outcome = run.execute();
		const samplesOf = async (peer: string, since: number) => {
			await run.collector!.flush();
			const [row] = await run.collector!.store.query<{ n: number }>(
				`SELECT count() AS n FROM callswarm.samples WHERE run_id = {run:String} AND peer_id LIKE {peer:String}
				AND direction = 'candidate-pair' AND rtt_ms > 0 AND ts > fromUnixTimestamp64Milli(toInt64({since:Int64}))`,
				{ run: run.runId, peer: `${peer}%`, since },
			);
			return Number(row?.n ?? 0);
		};
		try {
			// Every window is anchored on the bots' own events, never on the run's start.
			await waitFor(() => firstMedia.size === 3, 'first media of every group', 180_000);
			await waitFor(async () => (await samplesOf('changing', firstMedia.get('changing')!)) >= 4, 'samples of the changing bot', 60_000);
			await waitFor(async () => (await samplesOf('impaired', firstMedia.get('impaired')!)) >= 6, 'samples of the impaired bot', 60_000);
			const changedAt = Date.now();
			await run.setNetwork(['changing'], { ...networkPresets.perfect, delayMs: 120 });
			// Browser bots reconnect on a change (DevTools emulation applies to new connections).
			await waitFor(async () => (await samplesOf('changing', changedAt + 4000)) >= 4, 'samples after the change', 120_000);
			run.stop('measured');
			const result = await outcome;
			expect(result.summary.participants.joined).toBe(4);
			const store = run.collector!.store;
			const rtt = await store.query<{ group: string; p50: number }>(
				`SELECT splitByChar('-', peer_id)[1] AS group, quantileExact(0.5)(rtt_ms) AS p50 FROM callswarm.samples
				WHERE run_id = {run:String} AND direction = 'candidate-pair' AND rtt_ms > 0 AND peer_id NOT LIKE 'changing%'
				GROUP BY group ORDER BY group`,
				{ run: result.runId },
			);
			const byGroup = Object.fromEntries(rtt.map((r) => [r.group, r.p50]));
			expect(byGroup.control).toBeLessThan(30);
			// 80 ms each way.
			expect(byGroup.impaired).toBeGreaterThan(140);

			const [loss] = await store.query<{ impaired: number; control: number }>(
				`SELECT sumIf(lost_delta, peer_id LIKE 'impaired%') / greatest(1, sumIf(packets_delta + lost_delta, peer_id LIKE 'impaired%')) * 100 AS impaired,
					sumIf(lost_delta, peer_id LIKE 'control%' ) / greatest(1, sumIf(packets_delta + lost_delta, peer_id LIKE 'control%')) * 100 AS control
				FROM callswarm.samples WHERE run_id = {run:String} AND direction = 'inbound'`,
				{ run: result.runId },
			);
			// The impaired participant loses about 8 % of what it receives.
			expect(loss!.impaired).toBeGreaterThan(3);
			expect(loss!.impaired).toBeGreaterThan(loss!.control);

			const [change] = await store.query<{ before: number; after: number }>(
				`SELECT quantileExactIf(0.5)(rtt_ms, ts < fromUnixTimestamp64Milli(toInt64({changed:Int64}))) AS before,
					quantileExactIf(0.5)(rtt_ms, ts > fromUnixTimestamp64Milli(toInt64({changed:Int64} + 4000))) AS after
				FROM callswarm.samples WHERE run_id = {run:String} AND direction = 'candidate-pair' AND rtt_ms > 0 AND peer_id LIKE 'changing%'`,
				{ run: result.runId, changed: changedAt },
			);
			expect(change!.before).toBeLessThan(30);
			expect(change!.after).toBeGreaterThan(200);
		} finally {
			run.stop('test over');
			await outcome.catch(() => undefined);
			await run.close();
		}
	});
});

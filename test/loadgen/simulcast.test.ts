/**
 * Simulcast through the bundled SFU with real Chromium bots: a sender publishes its camera in
 * layers; a receiver on its own impairing relay gets the top layer, a lower one while its
 * downlink is capped, and the top one again after; a receiver asking for the low layer gets it
 * on an open network.
 */
import { describe, expect, it } from 'vitest';
import { networkPresets, Scenario } from '../../protocol/scenario.ts';
import { runDataDir, startWatchedRun } from '../helpers/loadRuns.ts';
import { storePollMs, waitFor } from '../helpers/signaling.ts';

const dataDir = runDataDir('simulcast');

describe('simulcast senders and layer-following receivers', () => {
	it('sends layers, follows a receiver’s downlink cap down and back up, and serves the low layer on request', async () => {
		const scenario = Scenario.parse({
			name: 'simulcast',
			rooms: { count: 1 },
			participants: [
				{ name: 'sender', bot: 'browser', count: 1, publish: '360p30', codec: 'VP8', simulcast: true, subscribe: 'none' },
				{ name: 'viewer', bot: 'browser', count: 1, publish: 'none', subscribe: 'video', relay: 'always' },
				{ name: 'thumbnail', bot: 'browser', count: 1, publish: 'none', subscribe: 'video', layer: 'low' },
			],
			// An upper bound: the test ends the run once it has what it measures.
			schedule: { executor: 'constant-vus', vus: 3, duration: '10m' },
			statsInterval: '1s',
			e2e: false,
		});
		const { run, outcome, firstMedia, reconnects } = startWatchedRun(scenario, dataDir);
		/** Frame widths a group decoded after `since` (its own samples, oldest first). */
		const widths = async (group: string, since: number): Promise<number[]> => {
			await run.collector!.flush();
			const rows = await run.collector!.store.query<{ width: number }>(
				`SELECT width FROM callswarm.samples WHERE run_id = {run:String} AND peer_id LIKE {peer:String}
				AND direction = 'inbound' AND kind = 'video' AND width > 0 AND frames_delta > 0
				AND ts > fromUnixTimestamp64Milli(toInt64({since:Int64})) ORDER BY ts`,
				{ run: run.runId, peer: `${group}-%`, since },
			);
			return rows.map((r) => Number(r.width));
		};
		const trail: string[] = [];
		const waitForWidth = async (group: string, since: number, test: (w: number) => boolean, what: string, timeoutMs: number) =>
			waitFor(async () => {
				const seen = await widths(group, since);
				trail.splice(0, trail.length, `${group}: ${seen.join(',')}`);
				// Three samples in a row: a layer the SFU settled on, not one passing frame.
				return seen.length >= 3 && seen.slice(-3).every(test);
			}, what, timeoutMs, storePollMs).catch((error: Error) => {
				throw new Error(`${error.message}; widths seen: ${trail.join(' ')}`);
			});
		try {
			await waitFor(() => firstMedia.has('viewer') && firstMedia.has('thumbnail'), 'first media of both receivers', 180_000);

			// The sender's outbound video is several streams (one per layer), of different sizes.
			await waitFor(async () => {
				await run.collector!.flush();
				const [row] = await run.collector!.store.query<{ sizes: number }>(
					`SELECT uniqExact(width) AS sizes FROM callswarm.samples WHERE run_id = {run:String} AND peer_id LIKE 'sender-%'
					AND direction = 'outbound' AND kind = 'video' AND width > 0`,
					{ run: run.runId },
				);
				return Number(row?.sizes ?? 0) >= 2;
			}, 'outbound video in at least two layers', 60_000, storePollMs);

			// Unconstrained, the viewer settles on the top layer: the camera's own 640 px.
			await waitForWidth('viewer', firstMedia.get('viewer')!, (w) => w === 640, 'the viewer on the top layer', 90_000);
			// The thumbnail asked for the low layer and gets a smaller frame on the same open network.
			await waitForWidth('thumbnail', firstMedia.get('thumbnail')!, (w) => w < 640, 'the thumbnail on a low layer', 60_000);

			const cappedAt = Date.now();
			await run.setNetwork(['viewer'], { ...networkPresets.perfect, rateKbps: 300 });
			await waitForWidth('viewer', cappedAt, (w) => w < 640, 'a lower layer under a 300 kbps downlink', 90_000);

			const liftedAt = Date.now();
			await run.setNetwork(['viewer'], { ...networkPresets.perfect });
			await waitForWidth('viewer', liftedAt, (w) => w === 640, 'the top layer again after the cap is lifted', 120_000);
			// Layer changes are the SFU's doing; the connection stayed up throughout.
			expect(reconnects).toEqual([]);
			run.stop('measured');
			const result = await outcome;
			expect(result.summary.participants.joined).toBe(3);
			// The run's own metrics say it: received sizes from thumbnails to the top layer, and layer switches.
			const metrics = result.summary.metrics;
			expect(metrics.received_height!.max).toBe(360);
			expect(metrics.received_height!.min).toBeLessThan(360);
			expect(metrics.layer_switches_per_min!.max).toBeGreaterThan(0);
		} finally {
			run.stop('test over');
			await outcome.catch(() => undefined);
			await run.close();
		}
	});
});

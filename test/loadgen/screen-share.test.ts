/**
 * Screen share through the whole pipeline: a browser presenter sends its camera and slides; a
 * browser and a lite viewer receive both. The collector keeps the screen apart from the camera
 * (kind "screen": its own 1080p at 5 frames a second or fewer, the camera's 15 unmixed), on both
 * sides, and the run reports screen_fps beside the camera's fps.
 */
import { describe, expect, it } from 'vitest';
import { Scenario } from '../../protocol/scenario.ts';
import { runDataDir, startWatchedRun } from '../helpers/loadRuns.ts';
import { storePollMs, waitFor } from '../helpers/signaling.ts';

const dataDir = runDataDir('screen-share');

interface KindRow {
	group: string;
	direction: string;
	kind: string;
	height: number;
	fps: number;
	n: number;
}

describe('screen share in the collector', () => {
	it('counts a shared screen as screen, apart from the camera, for browser and lite receivers', async () => {
		const scenario = Scenario.parse({
			name: 'screen-share',
			rooms: { count: 1 },
			participants: [
				{ name: 'presenter', bot: 'browser', count: 1, publish: '180p15', screenShare: true, subscribe: 'none' },
				{ name: 'viewer', bot: 'browser', count: 1, publish: 'none', subscribe: 'video' },
				{ name: 'lite', bot: 'lite', count: 1, publish: 'none', subscribe: 'video' },
			],
			// An upper bound: the test ends the run once it has what it measures.
			schedule: { executor: 'constant-vus', vus: 3, duration: '10m' },
			statsInterval: '1s',
			e2e: false,
		});
		const { run, outcome, firstMedia } = startWatchedRun(scenario, dataDir);
		/** Per group, direction and kind of video: the median height and the frame rate (frames over time) of samples with frames, from `since`. */
		const kinds = async (since: number): Promise<KindRow[]> => {
			await run.collector!.flush();
			const rows = await run.collector!.store.query<KindRow>(
				`SELECT splitByChar('-', peer_id)[1] AS group, direction, kind, quantileExact(0.5)(height) AS height,
					sum(frames_delta) * 1000 / sum(interval_ms) AS fps, count() AS n
				FROM callswarm.samples WHERE run_id = {run:String} AND kind IN ('video', 'screen') AND direction IN ('inbound', 'outbound')
					AND frames_delta > 0 AND ts > fromUnixTimestamp64Milli(toInt64({since:Int64}))
				GROUP BY group, direction, kind ORDER BY group, direction, kind`,
				{ run: run.runId, since },
			);
			return rows.map((r) => ({ ...r, height: Number(r.height), fps: Number(r.fps), n: Number(r.n) }));
		};
		try {
			await waitFor(() => firstMedia.has('viewer') && firstMedia.has('lite'), 'first media of both viewers', 180_000);
			// Counted from the later viewer's first media: both sides have settled on what they send and get.
			const since = Math.max(firstMedia.get('viewer')!, firstMedia.get('lite')!) + 5000;
			let seen: KindRow[] = [];
			await waitFor(async () => {
				seen = await kinds(since);
				const browserSide = (direction: string, group: string, kind: string) => seen.find((r) => r.group === group && r.direction === direction && r.kind === kind);
				return ['screen', 'video'].every((kind) => (browserSide('outbound', 'presenter', kind)?.n ?? 0) >= 8 && (browserSide('inbound', 'viewer', kind)?.n ?? 0) >= 8);
			}, 'eight samples of screen and camera on both sides', 120_000, storePollMs).catch((error: Error) => {
				throw new Error(`${error.message}; seen: ${JSON.stringify(seen)}`);
			});
			const row = (group: string, direction: string, kind: string) => seen.find((r) => r.group === group && r.direction === direction && r.kind === kind)!;
			// The presenter sends slides at 1080p, about 5 a second, and its camera at 180p15, apart.
			expect(row('presenter', 'outbound', 'screen').height).toBe(1080);
			expect(row('presenter', 'outbound', 'screen').fps).toBeLessThan(6);
			expect(row('presenter', 'outbound', 'video').height).toBe(180);
			// The browser viewer decodes the screen at its resolution and rate, the camera at its own.
			expect(row('viewer', 'inbound', 'screen').height).toBe(1080);
			expect(row('viewer', 'inbound', 'screen').fps).toBeGreaterThan(1);
			expect(row('viewer', 'inbound', 'screen').fps).toBeLessThan(6);
			expect(row('viewer', 'inbound', 'video').height).toBe(180);
			expect(row('viewer', 'inbound', 'video').fps).toBeGreaterThan(10);
			// The lite viewer does not decode, so its rows have no frames: its screen and camera show by packets.
			await waitFor(async () => {
				await run.collector!.flush();
				const [lite] = await run.collector!.store.query<{ screen: number; camera: number }>(
					`SELECT sumIf(packets_delta, kind = 'screen') AS screen, sumIf(packets_delta, kind = 'video') AS camera FROM callswarm.samples
					WHERE run_id = {run:String} AND peer_id LIKE 'lite-%' AND direction = 'inbound'`,
					{ run: run.runId },
				);
				return Number(lite?.screen ?? 0) > 0 && Number(lite?.camera ?? 0) > 0;
			}, 'the lite viewer receiving the screen and the camera, apart', 60_000, storePollMs);

			run.stop('measured');
			const result = await outcome;
			const metrics = result.summary.metrics;
			// Slides change rarely and a static screen sends few frames: the median may sit at 1.
			expect(metrics.screen_fps!.p50).toBeGreaterThanOrEqual(1);
			expect(metrics.screen_fps!.p50).toBeLessThan(6);
			expect(metrics.fps!.p50).toBeGreaterThan(8);
		} finally {
			run.stop('test over');
			await outcome.catch(() => undefined);
			await run.close();
		}
	});
});

/**
 * Viewers: receive-only participants over plain SRTP, counted from headers. Their loss, jitter
 * and round trip match what a real Chromium receiver reports in the same room under the same
 * impairment; the room neither lists nor announces them; bad requests get errors that name
 * the field.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Scenario } from '../../protocol/scenario.ts';
import { startSfu, type Sfu } from '../../sfu/index.ts';
import { runDataDir, startWatchedRun } from '../helpers/loadRuns.ts';
import { fakeParticipant, nodeSignaling, storePollMs, waitFor } from '../helpers/signaling.ts';

const dataDir = runDataDir('viewers');

describe('viewers under impairment', () => {
	it('report audio loss, jitter and round trip as a browser receiver does on the same network', async () => {
		const impaired = { delayMs: 30, jitterMs: 20, lossPct: 5 };
		const scenario = Scenario.parse({
			name: 'viewers',
			rooms: { count: 1 },
			participants: [
				{ name: 'sender', bot: 'lite', count: 1, publish: '180p15', subscribe: 'none' },
				{ name: 'browser', bot: 'browser', count: 1, publish: 'none', subscribe: 'all', network: impaired },
				{ name: 'viewer', bot: 'viewer', count: 3, network: impaired },
			],
			// An upper bound: the test ends the run once it has what it measures.
			schedule: { executor: 'constant-vus', vus: 5, duration: '5m' },
			statsInterval: '1s',
		});
		const { run, outcome, firstMedia } = startWatchedRun(scenario, dataDir);
		const query = async <R>(sql: string, params: Record<string, string | number> = {}) => {
			await run.collector!.flush();
			return run.collector!.store.query<R>(sql, { run: run.runId, ...params });
		};
		// Packets each group's receivers counted since its first media: the window is theirs.
		const audioPackets = async (group: string) =>
			Number(
				(
					await query<{ n: number }>(
						`SELECT sum(packets_delta) AS n FROM callswarm.samples WHERE run_id = {run:String} AND peer_id LIKE {peer:String}
						AND direction = 'inbound' AND kind = 'audio'`,
						{ peer: `${group}-%` },
					)
				)[0]?.n ?? 0,
			);
		try {
			await waitFor(() => firstMedia.has('browser') && firstMedia.has('viewer'), 'first media of the browser and the viewers', 180_000);
			// 2,000 audio packets per receiver (40 s at 50 a second): 5 % loss is then 100 ± 20 lost.
			await waitFor(async () => (await audioPackets('browser')) >= 2000, 'audio at the browser receiver', 180_000, storePollMs);
			await waitFor(async () => (await audioPackets('viewer')) >= 3 * 2000, 'audio at the viewers', 180_000, storePollMs);
			run.stop('measured');
			const result = await outcome;
			expect(result.summary.participants.joined).toBe(5);
			// The viewers' RTCP round trips (one a second each, 40 s) and the lite sender's, judged against their process's stalls.
			expect(result.roundTrips!.judged).toBeGreaterThanOrEqual(3 * 20);
			expect(result.roundTrips!.withheld).toBeLessThanOrEqual(result.roundTrips!.judged);
			// The generator monitor stored each lite-bot process's last counts (read after the bots left): the run view's figures are the run's.
			const [stored] = await query<{ judged: number; withheld: number }>(
				`SELECT sum(j) AS judged, sum(w) AS withheld FROM (SELECT max(round_trips_judged) AS j, max(round_trips_withheld) AS w
				FROM callswarm.generator_samples WHERE run_id = {run:String} AND role = 'lite' GROUP BY process_id)`,
			);
			expect({ judged: Number(stored!.judged), withheld: Number(stored!.withheld) }).toEqual(result.roundTrips);

			const rows = await query<{ group: string; loss: number; jitter: number; rtt: number; withVideo: number }>(
				`SELECT splitByChar('-', peer_id)[1] AS group,
					sumIf(lost_delta, direction = 'inbound' AND kind = 'audio') / sumIf(packets_delta + lost_delta, direction = 'inbound' AND kind = 'audio') * 100 AS loss,
					quantileExactIf(0.5)(jitter_ms, direction = 'inbound' AND kind = 'audio') AS jitter,
					quantileExactIf(0.5)(rtt_ms, direction = 'candidate-pair' AND rtt_ms > 0) AS rtt,
					uniqExactIf(peer_id, direction = 'inbound' AND kind = 'video' AND packets_delta > 0) AS withVideo
				FROM callswarm.samples WHERE run_id = {run:String} AND peer_id NOT LIKE 'sender%' GROUP BY group`,
			);
			const g = Object.fromEntries(rows.map((r) => [r.group, r]));
			const browser = g.browser!;
			const viewer = g.viewer!;
			const shown = (r: typeof browser) => `audio loss ${r.loss.toFixed(2)} %, jitter p50 ${r.jitter.toFixed(1)} ms, RTT p50 ${r.rtt.toFixed(1)} ms`;
			console.log(`under 30 ± 20 ms and 5 % loss each way: browser ${shown(browser)}; viewers ${shown(viewer)}`);
			// Both see the downlink's 5 % (Opus is not retransmitted; the binomial spread at these counts is about ±1 point).
			expect(browser.loss).toBeGreaterThan(2.5);
			expect(browser.loss).toBeLessThan(8);
			expect(Math.abs(viewer.loss - browser.loss)).toBeLessThanOrEqual(2);
			// ±20 ms on each packet: interarrival jitter well above a clean link's, alike on both.
			expect(browser.jitter).toBeGreaterThan(4);
			expect(Math.abs(viewer.jitter - browser.jitter)).toBeLessThanOrEqual(Math.max(4, browser.jitter * 0.35));
			// 30 ms each way: the viewers' RTCP round trip and the browser's ICE one both see about 60 ms.
			expect(viewer.rtt).toBeGreaterThan(45);
			expect(viewer.rtt).toBeLessThan(110);
			expect(Math.abs(viewer.rtt - browser.rtt)).toBeLessThanOrEqual(30);
			// Every receiver also got the video (its producer may be offered while a viewer sets up).
			expect(Number(viewer.withVideo)).toBe(3);
			expect(Number(browser.withVideo)).toBe(1);
		} finally {
			run.stop('test over');
			await outcome.catch(() => undefined);
			await run.close();
		}
	});
});

describe('viewers at the SFU', () => {
	let sfu: Sfu;
	beforeAll(async () => {
		sfu = await startSfu({ port: 0, workers: 1, logLevel: 'none', maxViewersPerRoom: 2 });
	});
	afterAll(async () => {
		await sfu?.close();
	});

	it('are neither announced nor listed, count apart from participants, and get field-naming errors', async () => {
		const speaker = await fakeParticipant(sfu.wsUrl, 'audience', 'speaker');
		const announced: string[] = [];
		speaker.signaling.on('peerJoined', ({ peerId }) => announced.push(peerId));
		const viewers = await Promise.all(
			['v1', 'v2', 'v3'].map(async (peerId) => {
				const signaling = nodeSignaling(sfu.wsUrl);
				await signaling.connect();
				return { peerId, signaling };
			}),
		);
		try {
			const first = await viewers[0]!.signaling.request('join', { roomId: 'audience', peerId: 'v1', botKind: 'viewer' });
			expect(first.peers.map((p) => p.peerId)).toEqual(['speaker']);
			await viewers[1]!.signaling.request('join', { roomId: 'audience', peerId: 'v2', botKind: 'viewer' });
			// The third viewer passes maxViewersPerRoom (2); participants still fit.
			await expect(viewers[2]!.signaling.request('join', { roomId: 'audience', peerId: 'v3', botKind: 'viewer' })).rejects.toThrow(/maxViewersPerRoom=2/);
			const late = await fakeParticipant(sfu.wsUrl, 'audience', 'late');
			await waitFor(() => announced.includes('late'), 'the participant announced');
			expect(announced).toEqual(['late']);
			// A newcomer's roster has participants only.
			const viewerNames = sfu.rooms.get('audience')!.participants().map((p) => p.id);
			expect(viewerNames.sort()).toEqual(['late', 'speaker']);
			await late.call.leave();
			late.signaling.disconnect();

			const v1 = viewers[0]!.signaling;
			const transport = await v1.request('createPlainTransport', {});
			expect(transport.srtpParameters.cryptoSuite).toBe('AEAD_AES_128_GCM');
			expect(Buffer.from(transport.srtpParameters.keyBase64, 'base64').length).toBe(28);
			await expect(
				v1.request('connectPlainTransport', { transportId: transport.transportId, srtpParameters: { cryptoSuite: 'AEAD_AES_128_GCM', keyBase64: 'short' } }),
			).rejects.toThrow(/srtpParameters\.keyBase64/);
			// A plain transport is not a WebRTC one: no DTLS to connect, no ICE to restart.
			await expect(v1.request('restartIce', { transportId: transport.transportId })).rejects.toThrow(/plain transport/);
		} finally {
			for (const v of viewers) v.signaling.disconnect();
			speaker.signaling.disconnect();
		}
	});
});

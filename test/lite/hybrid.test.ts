import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCollector, type Collector } from '../../collector/index.ts';
import { launchChromium, type LaunchedBrowser } from '../../loadgen/browser/chromium.ts';
import { CollectorClient } from '../../loadgen/CollectorClient.ts';
import type { DriverContext } from '../../loadgen/drivers.ts';
import { LiteDriver } from '../../loadgen/lite/LiteDriver.ts';
import type { Slot } from '../../loadgen/schedule/slots.ts';
import { TelemetrySender } from '../../loadgen/telemetry/TelemetrySender.ts';
import { networkPresets, Scenario, type NetworkConditions } from '../../protocol/scenario.ts';
import type { ParticipantEvent } from '../../protocol/telemetry.ts';
import { startSfu, type Sfu } from '../../sfu/index.ts';
import { mediaByRemotePeer, pageState } from '../helpers/botpages.ts';
import { storePollMs, waitFor } from '../helpers/signaling.ts';
import { removeDir } from '../helpers/tempDir.ts';

const work = mkdtempSync(path.join(os.tmpdir(), 'callswarm-lite-test-'));
const runId = 'hybrid-test';
let sfu: Sfu;
let collector: Collector;
let chromium: LaunchedBrowser;
let page: Page;
let sender: TelemetrySender;
const rejected: Array<{ path: string; message: string }> = [];
let lite: LiteDriver;
const events: Array<{ peerId: string; event: ParticipantEvent }> = [];
const slow: NetworkConditions = { ...networkPresets.perfect, delayMs: 60 };

const groups = Scenario.parse({
	name: 'hybrid',
	participants: [
		{ name: 'lite', bot: 'lite', count: 2, publish: '360p30' },
		{ name: 'lite-slow', bot: 'lite', count: 1, publish: '180p15', network: slow },
	],
	schedule: { executor: 'constant-vus', vus: 3, duration: '1m' },
}).participants;
const slots: Slot[] = [
	{ index: 0, roomId: 'hybrid', group: groups[0]!, peerId: 'lite-0' },
	{ index: 1, roomId: 'hybrid', group: groups[0]!, peerId: 'lite-1' },
	{ index: 2, roomId: 'hybrid', group: groups[1]!, peerId: 'lite-slow-2' },
];

beforeAll(async () => {
	sfu = await startSfu({ port: 0, workers: 1, logLevel: 'none' });
	collector = await startCollector({
		port: 0,
		logLevel: 'silent',
		flushIntervalMs: 200,
		dataDir: work,
	});
	// In the compact form: the figures below then also show it carries real bots' reports whole.
	sender = new TelemetrySender(new CollectorClient(collector.url), { flushIntervalMs: 500, maxBatchesPerRequest: 200, maxBufferedBatches: 10_000, format: 'compact' });
	sender.on('rejected', (info) => rejected.push(info));
	sender.start();
	const context: DriverContext = {
		runId,
		target: { kind: 'callswarm', signalingUrl: sfu.wsUrl, botPageUrl: sfu.botPageUrl },
		relayGroups: new Set(['lite-slow']),
		turn: { listenIp: '127.0.0.1', relayIp: '127.0.0.1' },
		statsIntervalMs: 1000,
		sender,
		networkOf: (group) => (group === 'lite-slow' ? slow : { ...networkPresets.perfect }),
		onEvent: (slot, event) => events.push({ peerId: slot.peerId, event }),
		log: () => undefined,
	};
	// One bot per process, so one can be killed alone.
	lite = new LiteDriver(context, { botsPerProcess: 1, processesPerMachine: 1 });
	chromium = await launchChromium();
	page = await chromium.browser.newPage();
	await page.goto(`${sfu.botPageUrl}?room=hybrid&peer=browser-0&video=320x180@15&codec=H264`);
	for (const slot of slots) await lite.join(slot);
}, 120_000);

afterAll(async () => {
	await lite?.close();
	await sender?.close();
	await chromium?.close();
	await collector?.close();
	await sfu?.close();
	removeDir(work);
});

describe('lite bots (werift) in a room with a browser bot', () => {
	it('the browser decodes every lite bot\'s video and receives its audio', async () => {
		await waitFor(
			async () => {
				const media = await mediaByRemotePeer(page);
				return slots.every((s) => (media.get(s.peerId)?.framesDecoded ?? 0) > 10 && (media.get(s.peerId)?.audioPackets ?? 0) > 10);
			},
			'the browser to decode three lite bots',
			60_000,
		);
		const state = await pageState(page);
		expect(new Set(state.consumers.map((c) => c.peerId))).toEqual(new Set(slots.map((s) => s.peerId)));
		// Events travel with each bot's next stats sample.
		await waitFor(() => events.filter((e) => e.event.type === 'first-media').length === 3, 'three first-media events');
		expect(events.filter((e) => e.event.type === 'join').map((e) => e.peerId).sort()).toEqual(slots.map((s) => s.peerId).sort());
	});

	it('stores lite bot telemetry with RTT, jitter and loss; the impaired one has the added delay', async () => {
		// Until every lite bot's reports hold a few round trips: anchored on what the bots sent, not on time.
		await waitFor(
			async () => {
				await sender.flush();
				await collector.flush();
				// A jitter figure a stall of the bot's own process may have grown is withheld: a loaded machine may withhold some.
				const counts = await collector.store.query<{ n: number; jitters: number }>(
					`SELECT countIf(direction = 'candidate-pair' AND rtt_ms > 0) AS n, countIf(direction = 'inbound' AND isNotNull(jitter_ms)) AS jitters
					FROM callswarm.samples WHERE run_id = {run:String} AND source_kind = 'lite' GROUP BY peer_id`,
					{ run: runId },
				);
				return counts.length === slots.length && counts.every((c) => Number(c.n) >= 4 && Number(c.jitters) >= 1);
			},
			'four round trips and a jitter figure in the reports of every lite bot',
			60_000,
			storePollMs,
		);
		const rows = await collector.store.query<{ peer_id: string; rtt: number; jitter: number; loss: number; inbound: number }>(
			`SELECT peer_id, minIf(rtt_ms, direction = 'candidate-pair' AND rtt_ms > 0) AS rtt,
				avgIf(jitter_ms, direction = 'inbound') AS jitter, avgIf(loss_pct, direction = 'inbound') AS loss,
				countIf(direction = 'inbound') AS inbound
			FROM callswarm.samples WHERE run_id = {run:String} AND source_kind = 'lite' GROUP BY peer_id ORDER BY peer_id`,
			{ run: runId },
		);
		expect(rejected).toEqual([]);
		expect(rows.map((r) => r.peer_id)).toEqual(['lite-0', 'lite-1', 'lite-slow-2']);
		for (const row of rows) {
			expect(row.inbound).toBeGreaterThan(0);
			expect(Number.isFinite(row.jitter)).toBe(true);
			expect(Number.isFinite(row.loss)).toBe(true);
			expect(row.rtt).toBeGreaterThan(0);
		}
		const byPeer = Object.fromEntries(rows.map((r) => [r.peer_id, r.rtt]));
		// 60 ms each way through the impairment relay, which never sends a packet early: every round trip
		// of the impaired bot is at least 120 ms. A loaded machine only adds delay, to either bot at any
		// moment, so the smallest round trip of each is what tells the paths apart.
		expect(byPeer['lite-slow-2']).toBeGreaterThan(115);
		expect(byPeer['lite-slow-2']! - byPeer['lite-0']!).toBeGreaterThan(80);
		// Every bot's figures were judged against its process's stalls, and the processes told the driver.
		const timed = lite.withheldFigures().roundTrips;
		expect(timed.judged).toBeGreaterThanOrEqual(slots.length);
		expect(timed.withheld).toBeLessThanOrEqual(timed.judged);
	});

	it('a lite bot whose process stands still reports that stall neither as a round-trip time nor as jitter, and counts what it left out', async () => {
		const pid = lite.processOf(slots[0]!)!;
		const countsOf = () => lite.processes().find((p) => p.pid === pid)!.withheld!;
		const before = countsOf();
		// The whole process stops, as a starved or swapped-out load generator does: what arrives waits in its sockets.
		const stallMs = 600;
		const stoppedAt = Date.now();
		process.kill(pid, 'SIGSTOP');
		await new Promise((resolve) => setTimeout(resolve, stallMs));
		process.kill(pid, 'SIGCONT');
		const resumedAt = Date.now();
		// Its next samples are taken while the stall still marks every received video stream's jitter (for 2 s at 15 fps or more).
		await waitFor(() => countsOf().jitterFigures.withheld > before.jitterFigures.withheld, 'a jitter figure of the stalled process withheld', 30_000);
		const after = countsOf();
		expect(after.jitterFigures.judged).toBeGreaterThan(before.jitterFigures.judged);
		for (const kind of ['roundTrips', 'mediaRoundTrips'] as const) expect(after[kind].withheld - before[kind].withheld).toBeLessThanOrEqual(after[kind].judged - before[kind].judged);
		// Its sent streams' RTCP round trips are judged too: mediasoup answers their sender reports.
		expect(after.mediaRoundTrips.judged).toBeGreaterThan(0);
		// What it sent fell due in the stall and left late (or was skipped): its receivers, the browser among them, measure that wait as jitter.
		// 600 ms hold 30 audio packets and 18 video frames; all but those due in its last 40 ms are counted late.
		expect(after.framesSentLate.withheld - before.framesSentLate.withheld).toBeGreaterThanOrEqual(25);
		expect(after.framesSentLate.judged - before.framesSentLate.judged).toBeGreaterThanOrEqual(after.framesSentLate.withheld - before.framesSentLate.withheld);
		// What it stored from the stall until its mark is gone: the stall alone would add up to stall/8 of jitter (75 ms) and 600 ms to a round trip in flight.
		const windowEnd = resumedAt + 2000;
		const [stored] = await waitFor(
			async () => {
				await sender.flush();
				await collector.flush();
				const rows = await collector.store.query<{ later: number; samples: number; jitter: number | null; rtt: number | null; mediaRtt: number | null }>(
					`SELECT countIf(ts > fromUnixTimestamp64Milli(toInt64({end:Int64}))) AS later,
						countIf(ts <= fromUnixTimestamp64Milli(toInt64({end:Int64}))) AS samples,
						maxIf(jitter_ms, direction = 'inbound' AND ts <= fromUnixTimestamp64Milli(toInt64({end:Int64}))) AS jitter,
						maxIf(rtt_ms, direction = 'candidate-pair' AND ts <= fromUnixTimestamp64Milli(toInt64({end:Int64}))) AS rtt,
						maxIf(rtt_ms, direction = 'remote-inbound' AND ts <= fromUnixTimestamp64Milli(toInt64({end:Int64}))) AS mediaRtt
					FROM callswarm.samples WHERE run_id = {run:String} AND peer_id = 'lite-0' AND ts >= fromUnixTimestamp64Milli(toInt64({from:Int64}))
					SETTINGS aggregate_functions_null_for_empty = 1`,
					{ run: runId, from: stoppedAt, end: windowEnd },
				);
				return Number(rows[0]?.later) > 0 && rows;
			},
			'a sample of lite-0 from after the stall\'s mark',
			30_000,
			storePollMs,
		);
		expect(Number(stored!.samples)).toBeGreaterThan(0);
		// A figure is kept only while the stall's mark is within a fifth of it or 5 ms: none comes near half of what the stall adds.
		expect(stored!.jitter ?? 0).toBeLessThan(stallMs / 8 / 2);
		expect(stored!.rtt ?? 0).toBeLessThan(stallMs / 2);
		expect(stored!.mediaRtt ?? 0).toBeLessThan(stallMs / 2);
	});

	it('a lite bot killed mid-run is a fail event and the others go on', async () => {
		const pid = lite.processOf(slots[1]!)!;
		process.kill(pid, 'SIGKILL');
		await waitFor(() => events.some((e) => e.peerId === 'lite-1' && e.event.type === 'fail'), 'the fail event of lite-1');
		const killedAt = Date.now();
		const before = await mediaByRemotePeer(page);
		// The others keep sending: the browser decodes more of their frames.
		await waitFor(
			async () => {
				const after = await mediaByRemotePeer(page);
				return ['lite-0', 'lite-slow-2'].every((peer) => after.get(peer)!.framesDecoded > before.get(peer)!.framesDecoded + 15);
			},
			'more frames from the lite bots still running',
			30_000,
		);
		// And keep reporting: a sample of lite-0 from after the kill is stored.
		const [later] = await waitFor(async () => {
			await sender.flush();
			await collector.flush();
			const rows = await collector.store.query<{ n: number }>(
				`SELECT count() AS n FROM callswarm.samples WHERE run_id = {run:String} AND peer_id = 'lite-0' AND ts > fromUnixTimestamp64Milli(toInt64({at:Int64}))`,
				{ run: runId, at: killedAt },
			);
			return Number(rows[0]?.n) > 0 && rows;
		}, 'a sample of lite-0 after the kill', 30_000, storePollMs);
		expect(later!.n).toBeGreaterThan(0);
		const [fail] = await collector.store.query<{ reason: string }>(
			`SELECT reason FROM callswarm.events WHERE run_id = {run:String} AND peer_id = 'lite-1' AND type = 'fail'`,
			{ run: runId },
		);
		expect(fail!.reason).toMatch(/exited \(SIGKILL\)/);
		expect(lite.pids).toHaveLength(2);
	});
});

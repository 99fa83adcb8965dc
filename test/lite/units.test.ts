import dgram from 'node:dgram';
import { readFile } from 'node:fs/promises';
import { afterAll, describe, expect, it } from 'vitest';
import type { MediaStreamTrack } from 'werift';
import { MediaClock } from '../../loadgen/lite/MediaClock.ts';
import { LoopStalls, ReceiveJitter, RoundTripFigures } from '../../loadgen/lite/LoopStalls.ts';
import { MediaPump } from '../../loadgen/lite/MediaPump.ts';
import { ImpairmentRelay } from '../../loadgen/network/ImpairmentRelay.ts';
import { opusFile, parseIvf, parseOggOpus, vp8File, vp8Payloads } from '../../loadgen/lite/media.ts';
import { waitFor } from '../helpers/signaling.ts';

const sockets: dgram.Socket[] = [];
const relays: ImpairmentRelay[] = [];
const stallWatches: LoopStalls[] = [];
afterAll(() => {
	for (const s of sockets) s.close();
	for (const r of relays) r.close();
	for (const w of stallWatches) w.close();
});

/** Holds this process's event loop, as a join or a busy machine does to a bot's process. */
function holdLoop(ms: number): void {
	const until = performance.now() + ms;
	while (performance.now() < until);
}

const tick = () => new Promise((r) => setTimeout(r, 30));

async function udp(): Promise<dgram.Socket> {
	const socket = dgram.createSocket('udp4');
	await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
	sockets.push(socket);
	return socket;
}

describe('pre-encoded lite media', () => {
	it('has VP8 frames with a keyframe every second and 20 ms Opus packets', async () => {
		const frames = parseIvf(await readFile(await vp8File({ width: 320, height: 180, frameRate: 15, bitrateKbps: 250 })));
		expect(frames.length).toBe(90);
		expect(frames.filter((f) => f.keyframe).length).toBe(6);
		expect(frames[0]!.keyframe).toBe(true);
		const packets = parseOggOpus(await readFile(await opusFile()));
		expect(packets.length).toBeGreaterThanOrEqual(499);
		// Opus TOC byte: config 11 (SILK/hybrid) or higher; 20 ms frames.
		expect(packets.every((p) => p.length > 2 && p.length < 400)).toBe(true);
	});

	it('cuts a VP8 frame into RTP payloads with the start bit on the first descriptor only', () => {
		const payloads = vp8Payloads(Buffer.alloc(2500, 7), 1100);
		expect(payloads.map((p) => p.length)).toEqual([1101, 1101, 301]);
		expect(payloads.map((p) => p[0])).toEqual([0x10, 0, 0]);
	});
});

describe('media clock', () => {
	const stall = (ms: number) => {
		const until = performance.now() + ms;
		while (performance.now() < until);
	};
	const nextFrame = (frames: number[], count: number) =>
		new Promise<void>((resolve) => {
			const check = setInterval(() => frames.length >= count && (clearInterval(check), resolve()), 1);
		});

	it('keeps a stream on wall-clock time through an event-loop stall, sending what fell due', async () => {
		const frames: number[] = [];
		const clock = new MediaClock(20, (skipped) => frames.push(skipped));
		await nextFrame(frames, 1);
		const from = performance.now() - 20 * frames.length;
		stall(300);
		await nextFrame(frames, frames.length + 1);
		clock.close();
		// Every period of wall time has its frame: none late for good, none skipped.
		const elapsed = performance.now() - from;
		expect(frames.length).toBeGreaterThanOrEqual(Math.floor(elapsed / 20) - 2);
		expect(frames.every((skipped) => skipped === 0)).toBe(true);
	});

	it('steps over a stall longer than its burst, as a capture device does', async () => {
		const frames: number[] = [];
		const clock = new MediaClock(20, (skipped) => frames.push(skipped), 5);
		await nextFrame(frames, 1);
		const before = frames.length;
		stall(400);
		await nextFrame(frames, before + 1);
		clock.close();
		// About 20 frames fell due during the stall: 5 go out at once, the first of them carrying the skip.
		expect(frames.length - before).toBeGreaterThanOrEqual(5);
		expect(frames[before]).toBeGreaterThanOrEqual(14);
		expect(frames.slice(before + 1, before + 5)).toEqual([0, 0, 0, 0]);
	});

	it('tells each frame how late it leaves: a burst after a stall, its lateness falling by one period per frame', async () => {
		const late: number[] = [];
		const clock = new MediaClock(20, (_skipped, _tick, lateMs) => late.push(lateMs));
		await nextFrame(late, 1);
		const before = late.length;
		stall(300);
		await nextFrame(late, before + 1);
		clock.close();
		const burst = late.slice(before);
		// The first frame due in the stall fell due at most a period after it began.
		expect(burst[0]).toBeGreaterThanOrEqual(300 - 20 - 1);
		for (let i = 1; i < burst.length; i++) expect(burst[i - 1]! - burst[i]!).toBeCloseTo(20, 6);
	});
});

describe('media pump', () => {
	const track = () => ({ writeRtp: () => undefined }) as unknown as MediaStreamTrack;

	it('counts every packet each track sends, and the ones its process sent late after standing still', async () => {
		const stalls = new LoopStalls();
		const pump = new MediaPump(stalls);
		try {
			// Two bots send the process's one audio stream: each packet counts once per track.
			for (const audio of [track(), track()]) await pump.attach('audio-only', { audio });
			const sent = () => stalls.counts.framesSentLate;
			await waitFor(() => sent().judged >= 10, 'the pump sends');
			const before = sent();
			const until = performance.now() + 300;
			while (performance.now() < until);
			await waitFor(() => sent().judged > before.judged + 2 * 15, 'the packets of the stall and one more sent');
			const after = sent();
			expect(after.judged % 2).toBe(0);
			// Of the 15 packets due within 300 ms, those due more than 40 ms before it ended (13 or more) left late, on both tracks.
			expect(after.withheld - before.withheld).toBeGreaterThanOrEqual(2 * 12);
			expect(after.withheld).toBeLessThanOrEqual(after.judged);
			// The other kinds are not this pump's to count.
			expect(stalls.counts.jitterFigures).toEqual({ judged: 0, withheld: 0 });
		} finally {
			await pump.close();
			stalls.close();
		}
	});
});

describe('impairment relay', () => {
	async function echoThroughRelay(conditions: Parameters<typeof ImpairmentRelay.open>[1]) {
		const server = await udp();
		server.on('message', (m, from) => server.send(m, from.port, from.address));
		const relay = await ImpairmentRelay.open({ address: '127.0.0.1', port: server.address().port }, conditions);
		relays.push(relay);
		const client = await udp();
		return { relay, client, target: relay.address };
	}

	it('adds the delay in both directions', async () => {
		const { client, target } = await echoThroughRelay({ delayMs: 40, jitterMs: 0, lossPct: 0, rateKbps: 0 });
		const sentAt = performance.now();
		const rtt = await new Promise<number>((resolve) => {
			client.once('message', () => resolve(performance.now() - sentAt));
			client.send(Buffer.from('ping'), target.port, target.address);
		});
		expect(rtt).toBeGreaterThanOrEqual(78);
	});

	it('drops about the configured share of packets, and changes conditions on the fly', async () => {
		const { relay, client, target } = await echoThroughRelay({ delayMs: 0, jitterMs: 0, lossPct: 30, rateKbps: 0 });
		let received = 0;
		client.on('message', () => received++);
		// Paced, so socket buffers never drop anything: only the relay does.
		for (let i = 0; i < 1000; i++) {
			client.send(Buffer.alloc(100), target.port, target.address);
			if (i % 20 === 19) await new Promise((r) => setTimeout(r, 2));
		}
		await new Promise((r) => setTimeout(r, 300));
		// Each echo crosses the relay twice: about 0.7 * 0.7 of them come back.
		expect(received).toBeGreaterThan(400);
		expect(received).toBeLessThan(580);
		relay.setConditions({ delayMs: 0, jitterMs: 0, lossPct: 0, rateKbps: 0 });
		received = 0;
		for (let i = 0; i < 200; i++) {
			client.send(Buffer.alloc(100), target.port, target.address);
			if (i % 20 === 19) await new Promise((r) => setTimeout(r, 2));
		}
		await waitFor(() => received >= 200, 'all 200 echoes with the impairment off', 10_000);
		expect(received).toBe(200);
	});

	it('caps the rate with a bounded queue', async () => {
		// 80 kbit/s = 10 kB/s: 40 packets of 1000 B need 4 s; the 300 ms queue keeps only a few.
		const { relay, client, target } = await echoThroughRelay({ delayMs: 0, jitterMs: 0, lossPct: 0, rateKbps: 80 });
		let received = 0;
		client.on('message', () => received++);
		for (let i = 0; i < 40; i++) client.send(Buffer.alloc(1000), target.port, target.address);
		await new Promise((r) => setTimeout(r, 1200));
		expect(received).toBeGreaterThan(1);
		expect(received).toBeLessThan(10);
		expect(relay.stats.dropped).toBeGreaterThan(25);
	});
});

describe('round trips timed on a stalled loop', () => {
	const watch = () => {
		const stalls = new LoopStalls();
		stallWatches.push(stalls);
		return stalls;
	};
	const pair = (measurements: number, rttMs: number) => ({ type: 'candidate-pair', id: 'CP1', roundTripTimeMeasurements: measurements, currentRoundTripTime: rttMs / 1000 });

	it('knows a stall, the one that has just ended too, and how much of it a window holds', async () => {
		const stalls = watch();
		await tick();
		const before = performance.now();
		holdLoop(400);
		const after = performance.now();
		// No tick has run since the hold: the stall is still seen.
		expect(stalls.longestStallBetween(after - 50, after)).toBeGreaterThanOrEqual(40);
		// What is read now may have waited out the hold.
		expect(stalls.behindMs()).toBeGreaterThanOrEqual(380);
		await tick();
		expect(stalls.behindMs()).toBe(0);
		expect(stalls.longestStallBetween(before - 1000, after + 1000)).toBeGreaterThanOrEqual(380);
		expect(stalls.longestStallBetween(before + 100, before + 200)).toBeCloseTo(100, 0);
		// Whole, the stall that reaches into a window is as long as it was (what it left behind in a jitter figure).
		const [whole, ...others] = stalls.stallsBetween(before + 100, before + 200, { whole: true });
		expect(others).toEqual([]);
		expect(whole!.to - whole!.from).toBeGreaterThanOrEqual(380);
		expect(whole!.from).toBeLessThan(before + 100);
		// The stall ends where the hold did (a loaded machine stalls a process now and then, but
		// not for 100 ms of the 300 after it).
		await new Promise((r) => setTimeout(r, 300));
		expect(stalls.longestStallBetween(after + 20, performance.now())).toBeLessThan(100);
	});

	it('tells a read that may have waited out a stall, after the tick that saw the stall end too', async () => {
		const stalls = new LoopStalls(10, 20, 0.2, 60_000, 200);
		stallWatches.push(stalls);
		await tick();
		holdLoop(150);
		// Nothing has run since the hold: the loop is behind.
		expect(stalls.mayHaveWaited()).toBe(true);
		// The next turn's timers run the tick before the sockets are read: no longer behind, but a packet read now may still have waited.
		await new Promise((r) => setTimeout(r, 0));
		expect(stalls.behindMs()).toBe(0);
		expect(stalls.mayHaveWaited()).toBe(true);
		// Past the drain, a read may have waited only if the loop stood still again meanwhile.
		await new Promise((r) => setTimeout(r, 250));
		const now = performance.now();
		expect(stalls.mayHaveWaited(now)).toBe(stalls.longestStallBetween(now - stalls.drainMs, now) > 0);
	});

	it('withholds a pair’s round trip measured across a stall until a clean one comes', async () => {
		const stalls = watch();
		const roundTrips = new RoundTripFigures(stalls);
		await tick();
		roundTrips.joining();
		// The join's connectivity check, answered while the process was held: its 300 ms are the stall's.
		holdLoop(300);
		// The other pc's pair of the same id and count is a pair of its own: its 1 ms is kept.
		const joined = [{ pc: 'send', stats: [pair(1, 300)] }, { pc: 'recv', stats: [pair(1, 1)] }];
		roundTrips.withholdStretched(joined);
		expect(joined[0]!.stats[0]).not.toHaveProperty('currentRoundTripTime');
		expect(joined[0]!.stats[0]).toMatchObject({ roundTripTimeMeasurements: 1 });
		expect(joined[1]!.stats[0]).toMatchObject({ currentRoundTripTime: 0.001 });
		// Looked at again with no new measurement: still withheld.
		await tick();
		const again = [{ pc: 'send', stats: [pair(1, 300)] }];
		roundTrips.withholdStretched(again);
		expect(again[0]!.stats[0]).not.toHaveProperty('currentRoundTripTime');
		// A consent check with no stall since: reported, and kept while it is the last one.
		await tick();
		for (let i = 0; i < 2; i++) {
			const clean = [{ pc: 'send', stats: [pair(2, 1)] }];
			roundTrips.withholdStretched(clean);
			expect(clean[0]!.stats[0]).toMatchObject({ currentRoundTripTime: 0.001 });
		}
		// Each measurement is counted once, however often it is looked at: three, one withheld.
		expect(stalls.counts.roundTrips).toEqual({ judged: 3, withheld: 1 });
	});

	it('withholds a measurement that began before a stall, looked at after it', async () => {
		const roundTrips = new RoundTripFigures(watch());
		await tick();
		holdLoop(300);
		await tick();
		// A look that finds no pair yet; the next finds one whose 450 ms round trip began before that look, during the stall.
		roundTrips.withholdStretched([{ pc: 'send', stats: [] }]);
		const looked = [{ pc: 'send', stats: [pair(1, 450)] }];
		roundTrips.withholdStretched(looked);
		expect(looked[0]!.stats[0]).not.toHaveProperty('currentRoundTripTime');
		const quick = [{ pc: 'recv', stats: [pair(1, 1)] }];
		roundTrips.withholdStretched(quick);
		expect(quick[0]!.stats[0]).toMatchObject({ currentRoundTripTime: 0.001 });
		// Stats without a round trip (no check answered yet) pass untouched.
		const none = [{ pc: 'send', stats: [{ type: 'candidate-pair', id: 'CP2' }, { type: 'inbound-rtp', id: 'IT1', currentRoundTripTime: 5 }] }];
		roundTrips.withholdStretched(none);
		expect(none[0]!.stats).toEqual([{ type: 'candidate-pair', id: 'CP2' }, { type: 'inbound-rtp', id: 'IT1', currentRoundTripTime: 5 }]);
	});

	it('keeps a figure a stall cannot have stretched by much: a short round trip, a short stall', async () => {
		const stalls = watch();
		const roundTrips = new RoundTripFigures(stalls);
		await tick();
		roundTrips.joining();
		holdLoop(300);
		// 2 ms measured across a 300 ms stall: the stall added 2 ms at most.
		const short = [{ pc: 'send', stats: [pair(1, 2)] }];
		roundTrips.withholdStretched(short);
		expect(short[0]!.stats[0]).toMatchObject({ currentRoundTripTime: 0.002 });
		// Looked at again well after the stall, with no new figure; then a short stall.
		await new Promise((r) => setTimeout(r, 450));
		roundTrips.withholdStretched([{ pc: 'send', stats: [pair(1, 2)] }]);
		holdLoop(30);
		// 400 ms across a 30 ms stall: within a fifth of itself.
		const long = [{ pc: 'send', stats: [pair(2, 400)] }];
		roundTrips.withholdStretched(long);
		expect(long[0]!.stats[0]).toMatchObject({ currentRoundTripTime: 0.4 });
		// The same 400 ms figure, first seen by a look that a 300 ms stall went before, is not.
		holdLoop(300);
		const stretched = [{ pc: 'send', stats: [pair(3, 400)] }];
		roundTrips.withholdStretched(stretched);
		expect(stretched[0]!.stats[0]).not.toHaveProperty('currentRoundTripTime');
		expect(stalls.counts.roundTrips).toEqual({ judged: 3, withheld: 1 });
	});

	it('reports a sent stream’s RTCP round trips as the mean of its new measurements, withholding them across a stall, not werift’s moving average', async () => {
		const stalls = watch();
		const roundTrips = new RoundTripFigures(stalls);
		// werift keeps a moving average (roundTripTime) beside the totals; the figure comes from the totals.
		const sent = (measurements: number, totalMs: number, averageMs: number) => [
			{ pc: 'send', stats: [{ type: 'remote-inbound-rtp', id: 'RIA', kind: 'audio', roundTripTime: averageMs / 1000, totalRoundTripTime: totalMs / 1000, roundTripTimeMeasurements: measurements }] },
		];
		const figure = (looked: ReturnType<typeof sent>) => looked[0]!.stats[0]!.roundTripTime;
		await tick();
		roundTrips.joining();
		await tick();
		const first = sent(3, 12, 4.5);
		roundTrips.withholdStretched(first);
		expect(figure(first)).toBeCloseTo(0.004, 9);
		// A receiver report handled after a 300 ms stall: its 300 ms are the stall's.
		holdLoop(300);
		const stretched = sent(4, 312, 48.8);
		roundTrips.withholdStretched(stretched);
		expect(stretched[0]!.stats[0]).not.toHaveProperty('roundTripTime');
		// Until a new measurement, still withheld.
		await tick();
		const again = sent(4, 312, 48.8);
		roundTrips.withholdStretched(again);
		expect(again[0]!.stats[0]).not.toHaveProperty('roundTripTime');
		// The next two, clean: 5 ms on average, where werift's average still carries the stall (42 ms).
		await tick();
		const clean = sent(6, 322, 42);
		roundTrips.withholdStretched(clean);
		expect(figure(clean)).toBeCloseTo(0.005, 9);
		// Counted apart from the candidate pairs' round trips: three figures, one withheld.
		expect(stalls.counts.mediaRoundTrips).toEqual({ judged: 3, withheld: 1 });
		expect(stalls.counts.roundTrips).toEqual({ judged: 0, withheld: 0 });
		// Without totals (another stack), the figure as given is judged.
		await tick();
		const bare = [{ pc: 'send', stats: [{ type: 'remote-inbound-rtp', id: 'RIB', roundTripTime: 0.007 }] }];
		roundTrips.withholdStretched(bare);
		expect(bare[0]!.stats[0]).toMatchObject({ roundTripTime: 0.007 });
		expect(stalls.counts.mediaRoundTrips).toEqual({ judged: 4, withheld: 1 });
		// werift's millisecond clock can put a loopback round trip below zero: it is reported as none.
		await tick();
		const belowZero = sent(7, 321.4, 36);
		roundTrips.withholdStretched(belowZero);
		expect(figure(belowZero)).toBe(0);
		expect(stalls.counts.mediaRoundTrips).toEqual({ judged: 5, withheld: 1 });
	});

	it('withholds a received stream’s jitter while a stall’s mark on it may exceed the tolerance, and keeps a figure it cannot have moved by much', async () => {
		const stalls = watch();
		const jitter = new ReceiveJitter(stalls);
		const stats = () => [
			{
				pc: 'recv',
				stats: [
					{ type: 'inbound-rtp', id: 'IA', kind: 'audio', jitter: 0.1 },
					{ type: 'inbound-rtp', id: 'IV', kind: 'video', framesPerSecond: 5, jitter: 0.1 },
					{ type: 'inbound-rtp', id: 'IB', kind: 'video', jitter: 0.5 },
					// What the SFU measured of this bot's sending, and a stream with no figure yet: not this loop's reads.
					{ type: 'remote-inbound-rtp', id: 'RA', jitter: 0.1 },
					{ type: 'inbound-rtp', id: 'IX', kind: 'video' },
				],
			},
		];
		const jitterAfterLook = () => {
			const looked = stats();
			jitter.withholdStretched(looked);
			return looked[0]!.stats.map((s) => ('jitter' in s ? s.jitter : undefined));
		};
		await tick();
		// Right after a 400 ms stall a figure may be up to 50 ms too high: 100 ms of jitter may be off by more than a fifth, 500 ms is not.
		holdLoop(400);
		expect(jitterAfterLook()).toEqual([undefined, undefined, 0.5, 0.1, undefined]);
		// A third of a second on, 20 ms audio packets have forgotten most of it; video at 5 fps has not (it needs nearly 3 s; the look-back ends at 2).
		await new Promise((r) => setTimeout(r, 350));
		expect(jitterAfterLook()).toEqual([0.1, undefined, 0.5, 0.1, undefined]);
		// Past the look-back, the stall is forgotten.
		await new Promise((r) => setTimeout(r, jitter.lookBackMs));
		expect(jitterAfterLook()).toEqual([0.1, 0.1, 0.5, 0.1, undefined]);
		// Each look judged the three received figures; the process tells how many it left out.
		expect(stalls.counts).toEqual({ roundTrips: { judged: 0, withheld: 0 }, jitterFigures: { judged: 9, withheld: 3 }, mediaRoundTrips: { judged: 0, withheld: 0 }, framesSentLate: { judged: 0, withheld: 0 } });
	});

	it('counts a viewer’s round trips as it counts a pair’s, and hands out a copy of the counts', async () => {
		const stalls = watch();
		await tick();
		const at = performance.now();
		expect(stalls.withholds(2, at, at)).toBe(false);
		holdLoop(300);
		const answered = performance.now();
		expect(stalls.withholds(300, answered, answered)).toBe(true);
		const counts = stalls.counts;
		counts.roundTrips.judged = 0;
		expect(stalls.counts.roundTrips).toEqual({ judged: 2, withheld: 1 });
	});
});

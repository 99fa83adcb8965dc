import dgram from 'node:dgram';
import { readFile } from 'node:fs/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { MediaClock } from '../../loadgen/lite/MediaClock.ts';
import { ImpairmentRelay } from '../../loadgen/network/ImpairmentRelay.ts';
import { opusFile, parseIvf, parseOggOpus, vp8File, vp8Payloads } from '../../loadgen/lite/media.ts';
import { waitFor } from '../helpers/signaling.ts';

const sockets: dgram.Socket[] = [];
const relays: ImpairmentRelay[] = [];
afterAll(() => {
	for (const s of sockets) s.close();
	for (const r of relays) r.close();
});

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

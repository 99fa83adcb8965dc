/**
 * Lite bots' own marked media, checked by decoding it as a receiver would: every VP8 frame of a
 * bot's video loop reads back as its sender and its time in the loop, and every burst of its
 * Opus loop is heard starting at a whole second of the loop, to the millisecond, with the
 * sender's id; the media clock sends a frame at its due time on the grid it is aligned to, never before.
 */
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { AudioMarkReader, FrameClock, type HeardMark } from '../../capture/audioMarks.ts';
import { drawMark, markWords, readMark } from '../../capture/marks.ts';
import { MediaClock } from '../../loadgen/lite/MediaClock.ts';
import { markedAudio, markedVideo, markedVideoLoopSeconds } from '../../loadgen/lite/media.ts';

/** What ffmpeg decodes from `input` (an IVF or Ogg file), as raw output of `format`. */
function decode(input: Buffer, format: string[]): Promise<Buffer> {
	return new Promise((resolve, reject) => {
		const child = spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-i', 'pipe:0', ...format, 'pipe:1']);
		const out: Buffer[] = [];
		child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
		child.once('error', reject);
		child.once('close', (code) => (code === 0 ? resolve(Buffer.concat(out)) : reject(new Error(`ffmpeg exited with ${code}`))));
		child.stdin.end(input);
	});
}

function ivf(frames: Buffer[], width: number, height: number, frameRate: number): Buffer {
	const header = Buffer.alloc(32);
	header.write('DKIF');
	header.writeUInt16LE(32, 6);
	header.write('VP80', 8);
	header.writeUInt16LE(width, 12);
	header.writeUInt16LE(height, 14);
	header.writeUInt32LE(frameRate, 16);
	header.writeUInt32LE(1, 20);
	header.writeUInt32LE(frames.length, 24);
	return Buffer.concat([header, ...frames.flatMap((data, i) => {
		const frameHeader = Buffer.alloc(12);
		frameHeader.writeUInt32LE(data.length, 0);
		frameHeader.writeBigUInt64LE(BigInt(i), 4);
		return [frameHeader, data];
	})]);
}

/** Ogg's CRC-32 (polynomial 0x04c11db7, not reflected, starting at 0). */
function oggCrc(page: Buffer): number {
	let crc = 0;
	for (const byte of page) {
		crc ^= byte << 24;
		for (let bit = 0; bit < 8; bit++) crc = crc & 0x80000000 ? (crc << 1) ^ 0x04c11db7 : crc << 1;
	}
	return crc >>> 0;
}

/** An Ogg Opus stream of 20 ms mono packets, one page each, with no pre-skip (RFC 7845). */
function oggOpus(packets: Buffer[]): Buffer {
	const head = Buffer.alloc(19);
	head.write('OpusHead');
	head[8] = 1;
	head[9] = 1;
	head.writeUInt32LE(48_000, 12);
	const tags = Buffer.alloc(16);
	tags.write('OpusTags');
	const pages = [head, tags, ...packets].map((packet, sequence, all) => {
		const lacing = [...Array(Math.floor(packet.length / 255)).fill(255), packet.length % 255];
		const page = Buffer.alloc(27 + lacing.length + packet.length);
		page.write('OggS');
		page[5] = sequence === 0 ? 0x02 : sequence === all.length - 1 ? 0x04 : 0;
		page.writeBigInt64LE(BigInt(Math.max(0, sequence - 1) * 960), 6);
		page.writeUInt32LE(0x4242, 14);
		page.writeUInt32LE(sequence, 18);
		page[26] = lacing.length;
		Buffer.from(lacing).copy(page, 27);
		packet.copy(page, 27 + lacing.length);
		page.writeUInt32LE(oggCrc(page), 22);
		return page;
	});
	return Buffer.concat(pages);
}

describe('video marks', () => {
	it('read back what was drawn, in absolute time and in a loop, and refuse a damaged row', () => {
		const [width, height] = [320, 180];
		const luma = new Uint8Array(width * height).fill(100);
		const now = 1_795_000_123_456;
		const draw = (words: [number, number]) => {
			const frame = luma.slice();
			drawMark(frame, width, width, height, words);
			return frame;
		};
		expect(readMark(draw(markWords(now - 80, 0x1234)), width, width, height, now)).toEqual({ captureMs: now - 80, sender: 0x1234 });
		// In a 6 s loop, 5,950 ms into it: the latest such time not after now, even across the loop's start.
		const loopStart = now - (now % 6000);
		expect(readMark(draw(markWords(5950, 0xbeef, 6)), width, width, height, loopStart + 30)).toEqual({ captureMs: loopStart - 50, sender: 0xbeef });
		expect(readMark(draw(markWords(100, 0xbeef, 6)), width, width, height, loopStart + 250)).toEqual({ captureMs: loopStart + 100, sender: 0xbeef });
		const [time, id] = markWords(100, 0xbeef, 6);
		expect(readMark(draw([time, id ^ 0x100]), width, width, height, now)).toBeUndefined();
		expect(readMark(draw([time ^ 0x1000, id]), width, width, height, now)).toBeUndefined();
	});

	it('fill whole blocks in two rows of a padded plane, and nothing else', () => {
		// 360p with rows padded to 704 bytes, as decoders and cameras lay planes out.
		const [width, height, stride] = [640, 360, 704];
		const plane = new Uint8Array(stride * height).fill(100);
		const words = markWords(1_795_000_123_456, 0x5a5a);
		drawMark(plane, stride, width, height, words);
		const bh = height / 18;
		for (let y = 0; y < height; y++) {
			for (let x = 0; x < stride; x++) {
				const row = Math.floor(y / bh);
				let expected = 100;
				if (row < 2 && x < width) {
					// Block b spans floor(b · width / 34) up to the next block's start.
					let b = 0;
					while (Math.floor(((b + 1) * width) / 34) <= x) b++;
					const bit = b === 0 ? 1 : b === 1 ? 0 : (words[row]! >>> (31 - (b - 2))) & 1;
					expected = bit ? 235 : 16;
				}
				if (plane[y * stride + x] !== expected) throw new Error(`pixel (${x}, ${y}) is ${plane[y * stride + x]}, not ${expected}`);
			}
		}
		expect(readMark(plane, stride, width, height, 1_795_000_123_500)).toEqual({ captureMs: 1_795_000_123_456, sender: 0x5a5a });
	});
});

describe("a lite bot's marked media", () => {
	it('carries the sender and its time in the loop on every frame of its VP8 video, through the codec', async () => {
		const [width, height, frameRate] = [320, 180, 15];
		const frames = await markedVideo({ width, height, frameRate, bitrateKbps: 250 }, 0xbeef);
		expect(frames.length).toBe(markedVideoLoopSeconds * frameRate);
		expect(frames.filter((f) => f.keyframe).length).toBe(markedVideoLoopSeconds);
		const raw = await decode(ivf(frames.map((f) => f.data), width, height, frameRate), ['-f', 'rawvideo', '-pix_fmt', 'yuv420p']);
		const size = (width * height * 3) / 2;
		expect(raw.length).toBe(frames.length * size);
		// Read at the end of a loop: frame k was sent k / 15 s into it.
		const loopEnd = 1_795_000_002_000 - (1_795_000_002_000 % (markedVideoLoopSeconds * 1000)) + markedVideoLoopSeconds * 1000 - 1;
		const loopStart = loopEnd + 1 - markedVideoLoopSeconds * 1000;
		for (let k = 0; k < frames.length; k++) {
			expect(readMark(raw.subarray(k * size, (k + 1) * size), width, width, height, loopEnd), `frame ${k}`).toEqual({ captureMs: loopStart + Math.round((k * 1000) / frameRate), sender: 0xbeef });
		}
	});

	it('starts a burst with the sender at every whole second of its Opus loop, to the millisecond, played as an RTP receiver plays it, round the loop', async () => {
		const packets = await markedAudio(0x4242);
		expect(packets.length).toBe(800);
		// The loop's last second (a decoder's first frames are its own warm-up), then twice round, packet after packet
		// as sent, and no pre-skip: RTP has none, a receiver plays every sample.
		const sent = [...packets.slice(750), ...packets, ...packets];
		const played = new Float32Array(new Uint8Array(await decode(oggOpus(sent), ['-f', 'f32le', '-ar', '48000', '-ac', '1'])).buffer);
		expect(played.length).toBe(sent.length * 960);
		const clock = new FrameClock(48_000);
		clock.observe(0, -1000);
		const reader = new AudioMarkReader(clock);
		const heard: HeardMark[] = [];
		for (let frame = 0; frame + 128 <= played.length; frame += 128) heard.push(...reader.push(played.subarray(frame, frame + 128), frame));
		// Every second of both rounds, the one after the loop's end too, and nothing else heard as a burst.
		const rounds = heard.filter((m) => m.sentMs >= 0);
		expect(rounds.map((m) => m.sentMs)).toEqual(Array.from({ length: 32 }, (_, s) => s * 1000));
		expect(reader.syncs).toBe(heard.length);
		for (const mark of rounds) {
			expect(mark.sender).toBe(0x4242);
			expect(Math.abs(mark.heardMs - mark.sentMs), `burst of ${mark.sentMs} ms`).toBeLessThan(1.5);
		}
	});
});

describe('media clock on a grid', () => {
	it('sends each frame at or after its due time on a grid of another clock, counting ticks from that clock\'s zero', async () => {
		const origin = performance.now() - 123_456.7;
		const sent: Array<{ tick: number; at: number }> = [];
		const clock = new MediaClock(1000 / 30, (_skipped, tick) => sent.push({ tick, at: performance.now() }), 25, origin);
		await new Promise<void>((resolve) => {
			const check = setInterval(() => sent.length >= 20 && (clearInterval(check), resolve()), 5);
		});
		clock.close();
		for (const [i, { tick, at }] of sent.entries()) {
			expect(at).toBeGreaterThanOrEqual(origin + (tick * 1000) / 30);
			if (i > 0) expect(tick).toBe(sent[i - 1]!.tick + 1);
		}
		expect(sent[0]!.tick).toBeGreaterThanOrEqual(Math.floor(123_456.7 / (1000 / 30)));
	});
});

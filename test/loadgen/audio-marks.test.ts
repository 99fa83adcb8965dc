/**
 * Audio delay marks, sample by sample (no browser): bursts a writer puts into a voice-like
 * microphone are heard by a reader on another clock, through attenuation, noise and a known
 * delay, dated to the sample; damaged bursts are refused, not misread.
 */
import { describe, expect, it } from 'vitest';
import { AudioMarkReader, AudioMarkWriter, FrameClock, markPeriodMs, type HeardMark } from '../../capture/audioMarks.ts';

const defaultRate = 48_000;
const block = 128;
const t0 = 1_795_000_000_123.4;

/** The voice-like fake microphone callswarm gives browser bots (loadgen/media/fakeMedia.ts). */
const voice = (t: number) => 0.4 * Math.sin(2 * Math.PI * (180 + 60 * Math.sin(2 * Math.PI * 3 * t)) * t) * (0.6 + 0.4 * Math.sin(2 * Math.PI * 0.4 * t)) * (t % 5 > 0.8 ? 1 : 0);

/** A deterministic generator: the same noise and lateness every run. */
function random(seed: number): () => number {
	let state = seed >>> 0;
	return () => {
		state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
		return state / 2 ** 32;
	};
}

/** Rendering runs late by up to 10 ms, in bursts, and now and then on time. */
const lateness = (rand: () => number) => (rand() < 0.1 ? 0 : rand() * 10);

/** The sender's marked microphone for `seconds`, one sample per frame from frame 0 at wall time t0. */
function send(sender: number, seconds: number, rand: () => number, clockOffsetMs = 0, rate = defaultRate): Float32Array {
	const clock = new FrameClock(rate, clockOffsetMs);
	const writer = new AudioMarkWriter(sender, clock);
	const out = new Float32Array(seconds * rate);
	for (let frame = 0; frame < out.length; frame += block) {
		clock.observe(frame, t0 + (frame * 1000) / rate + lateness(rand));
		const mic = Float32Array.from({ length: Math.min(block, out.length - frame) }, (_, i) => voice((frame + i) / rate));
		writer.process(mic, out.subarray(frame, frame + block), frame);
	}
	return out;
}

/** What a receiver whose frame 0 is at wall time t0 + originMs hears of `sent` after `delayMs` (a whole number of samples). */
function receive(
	sent: Float32Array,
	delayMs: number,
	originMs: number,
	rand: () => number,
	damage?: (signal: Float32Array) => void,
	rate = defaultRate,
): { heard: HeardMark[]; reader: AudioMarkReader } {
	const shift = Math.round(((originMs - delayMs) * rate) / 1000);
	const signal = Float32Array.from({ length: sent.length }, (_, n) => {
		const source = n + shift;
		const x = source >= 0 && source < sent.length ? sent[source]! : 0;
		return 0.5 * x + (rand() - 0.5) * 0.004;
	});
	damage?.(signal);
	const clock = new FrameClock(rate);
	const reader = new AudioMarkReader(clock);
	const heard: HeardMark[] = [];
	for (let frame = 0; frame + block <= signal.length; frame += block) {
		clock.observe(frame, t0 + originMs + (frame * 1000) / rate + lateness(rand));
		heard.push(...reader.push(signal.subarray(frame, frame + block), frame));
	}
	return { heard, reader };
}

describe('audio delay marks', () => {
	it.each([48_000, 44_100])('dates every burst to within a millisecond of the true delay, names its sender, through a voice, noise and a quieter path (%i Hz)', (rate) => {
		const rand = random(1);
		const sent = send(0xbeef, 8, rand, 0, rate);
		const { heard, reader } = receive(sent, 137.5, 50, rand, undefined, rate);
		// Bursts at every whole second the receiver heard in full: 6 or 7 of 8 s, less the delay.
		expect(heard.length).toBeGreaterThanOrEqual(6);
		expect(reader.decoded).toBe(heard.length);
		// Every sync heard was decoded, but for a last one the signal may cut off before its symbols.
		expect(reader.syncs - heard.length).toBeLessThanOrEqual(1);
		for (const mark of heard) {
			expect(mark.sender).toBe(0xbeef);
			expect(mark.sentMs % markPeriodMs).toBe(0);
			expect(mark.heardMs - mark.sentMs).toBeGreaterThan(136.5);
			expect(mark.heardMs - mark.sentMs).toBeLessThan(138.5);
		}
	});

	it('tells delays over a second apart by the second number each burst carries, and corrects for the sender\'s clock offset', () => {
		const rand = random(2);
		// The sender's machine is 40 ms ahead of the collector: its bursts leave at the collector's seconds, 40 ms later by its own clock.
		const sent = send(7, 8, rand, 40);
		const { heard } = receive(sent, 2345, 0, rand);
		expect(heard.length).toBeGreaterThanOrEqual(4);
		// The receiver's clock is the collector's: it hears them 2345 + 40 ms after they left.
		for (const mark of heard) {
			expect(mark.sender).toBe(7);
			expect(mark.heardMs - mark.sentMs).toBeGreaterThan(2384);
			expect(mark.heardMs - mark.sentMs).toBeLessThan(2386);
		}
	});

	it('refuses a burst whose symbols were damaged (the CRC), and keeps hearing the next ones', () => {
		const rand = random(3);
		const sent = send(0x1234, 6, rand);
		const delayMs = 20;
		const damagedSecond = 3;
		const { heard, reader } = receive(sent, delayMs, 0, rand, (signal) => {
			// Overwrite the burst's fourth symbol with another tone.
			const from = Math.round(((damagedSecond * 1000 - t0 % 1000 + delayMs + 40 + 3 * 20 + 2) * defaultRate) / 1000);
			for (let n = from; n < from + (16 * defaultRate) / 1000; n++) signal[n] = 0.15 * Math.sin((2 * Math.PI * 2900 * n) / defaultRate);
		});
		expect(reader.syncs).toBeGreaterThan(reader.decoded);
		expect(heard.length).toBe(reader.decoded);
		expect(heard.length).toBeGreaterThanOrEqual(4);
		for (const mark of heard) {
			expect(mark.sender).toBe(0x1234);
			expect(Math.abs(mark.heardMs - mark.sentMs - delayMs)).toBeLessThan(1);
		}
	});

	it('hears nothing in a voice without marks, and starts over after a gap in the blocks', () => {
		const rand = random(4);
		const clock = new FrameClock(defaultRate);
		const reader = new AudioMarkReader(clock);
		let heard = 0;
		for (let frame = 0; frame < 6 * defaultRate; frame += block) {
			clock.observe(frame, t0 + (frame * 1000) / defaultRate);
			heard += reader.push(Float32Array.from({ length: block }, (_, i) => voice((frame + i) / defaultRate)), frame).length;
		}
		expect(heard).toBe(0);
		expect(reader.syncs).toBe(0);
		// A burst after a jump in frames (a track that paused) is still heard.
		const sent = send(42, 3, rand);
		const start = 10 * defaultRate;
		const marks: HeardMark[] = [];
		for (let frame = 0; frame + block <= sent.length; frame += block) {
			clock.observe(start + frame, t0 + ((start + frame) * 1000) / defaultRate);
			marks.push(...reader.push(sent.subarray(frame, frame + block), start + frame));
		}
		expect(marks.length).toBeGreaterThanOrEqual(1);
		expect(marks.every((m) => m.sender === 42)).toBe(true);
	});
});

/**
 * End-to-end audio delay (mouth to ear): the sending bot's microphone carries a short coded
 * burst at every whole second of the collector's clock, and a receiver hears when it starts.
 *
 * A burst: a 40 ms sync tone at 1 kHz, then seven 20 ms symbols of 16-FSK (1.5 to 3.375 kHz,
 * 125 Hz apart) carrying 28 bits: the 16-bit sender id, the second's number modulo 16 and a
 * CRC-8 of both. The microphone is ducked from 30 ms before the burst to 10 ms after it, so the
 * sync starts out of silence however loud the voice around it; the other 780 ms of each second
 * are the microphone as it was. Pure tones in the voice band survive Opus at any bitrate, and
 * the receiver reads symbols in their middle 12 ms, so the jitter buffer's stretching and the
 * codec's smearing at edges do not change a symbol.
 *
 * Timing is by samples: each side maps its audio frames to the collector's clock with the
 * smallest (wall time − frame time) it has seen (rendering runs early, never late, of its
 * frame time), so the burst leaves at exactly its second and the receiver dates the sample the
 * sync starts on, not the moment its block was processed.
 *
 * Everything here is pure (no Web Audio): the worklet (audioWorklet.ts) and the tests use it.
 */
import { crc8 } from './marks.ts';

export const markPeriodMs = 1000;
const syncHz = 1000;
const syncMs = 40;
const symbolMs = 20;
const symbols = 7;
const firstSymbolHz = 1500;
const symbolStepHz = 125;
const burstMs = syncMs + symbols * symbolMs;
const duckBeforeMs = 30;
const duckAfterMs = 10;
const amplitude = 0.3;
const rampMs = 1;
/** The second's number travels modulo this: delays up to 16 s are told apart. */
const seqModulo = 16;
/** Seconds after which a sender's bursts repeat (media marked ahead of time loops over them). */
export const audioMarkCycleSeconds = (seqModulo * markPeriodMs) / 1000;

/** The 28-bit word of a burst: sender (16 bits), second modulo 16 (4), CRC-8 of both (8). */
function audioMarkWord(sender: number, seq: number): number {
	const payload = ((sender & 0xffff) << 4) | (seq & 0xf);
	return ((payload << 8) | crc8(payload, 20)) >>> 0;
}

function decodeWord(word: number): { sender: number; seq: number } | undefined {
	const payload = word >>> 8;
	if (crc8(payload, 20) !== (word & 0xff)) return undefined;
	return { sender: payload >>> 4, seq: payload & 0xf };
}

const symbolHz = (nibble: number): number => firstSymbolHz + nibble * symbolStepHz;

/** One burst's samples (phase-continuous, 1 ms ramps at both ends). */
function burstSamples(sender: number, seq: number, sampleRate: number): Float32Array {
	const word = audioMarkWord(sender, seq);
	const syncLength = Math.round((syncMs * sampleRate) / 1000);
	const symbolLength = Math.round((symbolMs * sampleRate) / 1000);
	const out = new Float32Array(syncLength + symbols * symbolLength);
	let phase = 0;
	for (let n = 0; n < out.length; n++) {
		const symbol = n < syncLength ? -1 : Math.floor((n - syncLength) / symbolLength);
		const hz = symbol < 0 ? syncHz : symbolHz((word >>> (4 * (symbols - 1 - symbol))) & 0xf);
		out[n] = amplitude * Math.sin(phase);
		phase += (2 * Math.PI * hz) / sampleRate;
		if (phase > 2 * Math.PI) phase -= 2 * Math.PI;
	}
	const ramp = Math.round((rampMs * sampleRate) / 1000);
	for (let n = 0; n < ramp; n++) {
		const gain = 0.5 - 0.5 * Math.cos((Math.PI * n) / ramp);
		out[n]! *= gain;
		out[out.length - 1 - n]! *= gain;
	}
	return out;
}

/**
 * Audio frames to the collector's clock: the smallest (wall ms − frame ms) seen, over the last
 * few buckets of seconds so that a drifting sound clock is followed.
 */
export class FrameClock {
	readonly #buckets: number[] = [];
	#bucketStart = -Infinity;
	#offsetMs = Infinity;

	constructor(
		readonly sampleRate: number,
		/** Wall clock minus the collector's. */
		private readonly clockOffsetMs = 0,
		private readonly bucketMs = 2000,
		private readonly keep = 5,
	) {}

	/** A block starting at `frame` is being processed at wall time `nowMs`. */
	observe(frame: number, nowMs: number): void {
		const offset = nowMs - this.clockOffsetMs - (frame * 1000) / this.sampleRate;
		if (nowMs - this.#bucketStart >= this.bucketMs || this.#buckets.length === 0) {
			this.#buckets.push(offset);
			if (this.#buckets.length > this.keep) this.#buckets.shift();
			this.#bucketStart = nowMs;
		} else if (offset < this.#buckets[this.#buckets.length - 1]!) {
			this.#buckets[this.#buckets.length - 1] = offset;
		}
		this.#offsetMs = Math.min(...this.#buckets);
	}

	get ready(): boolean {
		return Number.isFinite(this.#offsetMs);
	}

	/** Collector ms of a (possibly fractional) frame. */
	toMs(frame: number): number {
		return this.#offsetMs + (frame * 1000) / this.sampleRate;
	}

	/** The first frame at or after collector time `ms`. */
	frameAt(ms: number): number {
		return Math.ceil(((ms - this.#offsetMs) * this.sampleRate) / 1000);
	}
}

/** Writes bursts into a microphone's blocks (ducking it around them). */
export class AudioMarkWriter {
	#burst: { k: number; start: number; samples: Float32Array } | undefined;
	/** Frames ducked before a burst's start, and after it up to the end of the ducking. */
	readonly #before: number;
	readonly #after: number;

	constructor(
		private readonly sender: number,
		private readonly clock: FrameClock,
	) {
		this.#before = Math.round((duckBeforeMs * clock.sampleRate) / 1000);
		this.#after = Math.round(((burstMs + duckAfterMs) * clock.sampleRate) / 1000);
	}

	/** `output` gets `input` (the microphone, or silence when absent; a block of the same length) with the marks; `frame` is the block's first frame. */
	process(input: Float32Array | undefined, output: Float32Array, frame: number): void {
		if (input) output.set(input);
		else output.fill(0);
		if (!this.clock.ready) return;
		const blockStartMs = this.clock.toMs(frame);
		for (const k of [Math.floor(blockStartMs / markPeriodMs), Math.floor(blockStartMs / markPeriodMs) + 1]) {
			const start = this.#burst?.k === k ? this.#burst.start : this.clock.frameAt(k * markPeriodMs);
			const duckFrom = start - this.#before;
			const duckTo = start + this.#after;
			if (duckTo <= frame || duckFrom >= frame + output.length) continue;
			if (this.#burst?.k !== k) this.#burst = { k, start, samples: burstSamples(this.sender, ((k % seqModulo) + seqModulo) % seqModulo, this.clock.sampleRate) };
			const samples = this.#burst.samples;
			for (let i = Math.max(0, duckFrom - frame); i < Math.min(output.length, duckTo - frame); i++) {
				const n = frame + i - start;
				output[i] = n >= 0 && n < samples.length ? samples[n]! : 0;
			}
		}
	}
}

export interface HeardMark {
	/** Collector ms the sync was heard starting. */
	heardMs: number;
	/** Collector ms it left the sender's microphone. */
	sentMs: number;
	sender: number;
}

/** Power of one frequency over `samples[from, to)` of a ring (Goertzel's recurrence: no trigonometry per sample). */
function tonePower(ring: Float32Array, from: number, to: number, omega: number): number {
	const coefficient = 2 * Math.cos(omega);
	let s1 = 0;
	let s2 = 0;
	for (let n = from; n < to; n++) {
		const s0 = ring[n % ring.length]! + coefficient * s1 - s2;
		s2 = s1;
		s1 = s0;
	}
	return s1 * s1 + s2 * s2 - coefficient * s1 * s2;
}

/**
 * Hears bursts in a received track's samples: finds a sync tone (pure and loud enough for
 * 20 ms), dates its start at the half-height of the window's rise, then reads the symbols.
 * It runs on every sample of every received track, so its inner loop does a handful of
 * multiplications: the sync's bin is a sliding DFT whose phasor turns by multiplication
 * (re-anchored every second) and whose per-sample terms are kept to be taken out again exactly.
 */
export class AudioMarkReader {
	/** The last half second: samples, and the window's |X| ending at each (one entry per frame). */
	readonly #ring: Float32Array;
	readonly #magnitudes: Float32Array;
	/** Each sample's terms in the sliding sums, so they leave the window exactly as they entered. */
	readonly #termsRe: Float64Array;
	readonly #termsIm: Float64Array;
	readonly #window: number;
	readonly #omega: number;
	readonly #turnCos: number;
	readonly #turnSin: number;
	#phaseCos = 1;
	#phaseSin = 0;
	#re = 0;
	#im = 0;
	#energy = 0;
	#next = 0;
	/** The first frame since the last gap: nothing before it is in the sliding window. */
	#start = 0;
	#pureRun = 0;
	#pending: { onset: number } | undefined;
	#quietUntil = -Infinity;
	/** Syncs heard, and those whose symbols decoded with a valid CRC (the rest were damaged). */
	syncs = 0;
	decoded = 0;

	constructor(
		private readonly clock: FrameClock,
		/** Below this amplitude nothing is a sync (silence and codec noise). */
		private readonly minAmplitude = 0.02,
	) {
		const rate = clock.sampleRate;
		const length = Math.ceil(rate / 2);
		this.#ring = new Float32Array(length);
		this.#magnitudes = new Float32Array(length);
		this.#termsRe = new Float64Array(length);
		this.#termsIm = new Float64Array(length);
		this.#window = Math.round((5 * rate) / 1000);
		this.#omega = (2 * Math.PI * syncHz) / rate;
		this.#turnCos = Math.cos(this.#omega);
		this.#turnSin = Math.sin(this.#omega);
	}

	/** A block of received samples starting at `frame` (blocks must follow each other; a gap starts over). */
	push(samples: Float32Array, frame: number): HeardMark[] {
		const heard: HeardMark[] = [];
		if (frame !== this.#next) this.#reset(frame);
		const rate = this.clock.sampleRate;
		const confirm = Math.round((20 * rate) / 1000);
		const burstFrames = Math.round((burstMs * rate) / 1000);
		const length = this.#ring.length;
		const window = this.#window;
		// |X| of a tone of the least amplitude filling the window, and purity's scale.
		const leastMagnitude = (window / 2) * this.minAmplitude;
		const half = window / 2;
		for (let i = 0; i < samples.length; i++) {
			const n = frame + i;
			const slot = n % length;
			const x = samples[i]!;
			this.#ring[slot] = x;
			const re = x * this.#phaseCos;
			const im = x * this.#phaseSin;
			this.#termsRe[slot] = re;
			this.#termsIm[slot] = im;
			this.#re += re;
			this.#im += im;
			this.#energy += x * x;
			if (n - window >= this.#start) {
				const old = (n - window) % length;
				const y = this.#ring[old]!;
				this.#re -= this.#termsRe[old]!;
				this.#im -= this.#termsIm[old]!;
				this.#energy -= y * y;
			}
			const phaseCos = this.#phaseCos * this.#turnCos + this.#phaseSin * this.#turnSin;
			this.#phaseSin = this.#phaseSin * this.#turnCos - this.#phaseCos * this.#turnSin;
			this.#phaseCos = phaseCos;
			const power = this.#re * this.#re + this.#im * this.#im;
			const magnitude = Math.sqrt(power);
			this.#magnitudes[slot] = magnitude;
			if (this.#pending) {
				if (n >= this.#pending.onset + burstFrames + window) {
					const mark = this.#decode(this.#pending.onset);
					this.#pending = undefined;
					if (mark) heard.push(mark);
				}
				continue;
			}
			if (n < this.#quietUntil) continue;
			const pure = magnitude > leastMagnitude && power > 0.6 * this.#energy * half;
			this.#pureRun = pure ? this.#pureRun + 1 : 0;
			if (this.#pureRun >= confirm) {
				this.syncs++;
				this.#pending = { onset: this.#onset(n, confirm) };
				this.#pureRun = 0;
				// No second sync inside this burst.
				this.#quietUntil = this.#pending.onset + Math.round(((burstMs + duckAfterMs) * rate) / 1000);
			}
		}
		this.#next = frame + samples.length;
		// Once a second the phasor and the sums are taken afresh, so rounding cannot build up.
		if (Math.floor(this.#next / rate) !== Math.floor(frame / rate)) this.#reanchor(this.#next);
		return heard;
	}

	#reset(frame: number): void {
		this.#ring.fill(0);
		this.#magnitudes.fill(0);
		this.#re = this.#im = this.#energy = 0;
		this.#pureRun = 0;
		this.#pending = undefined;
		this.#next = frame;
		this.#start = frame;
		this.#quietUntil = frame + this.#window;
		this.#reanchor(frame);
	}

	#reanchor(next: number): void {
		const angle = this.#omega * (next % (this.clock.sampleRate * 1000));
		this.#phaseCos = Math.cos(angle);
		this.#phaseSin = -Math.sin(angle);
		this.#re = this.#im = this.#energy = 0;
		for (let n = Math.max(this.#start, next - this.#window); n < next; n++) {
			const slot = n % this.#ring.length;
			this.#re += this.#termsRe[slot]!;
			this.#im += this.#termsIm[slot]!;
			this.#energy += this.#ring[slot]! ** 2;
		}
	}

	/** The sync's first sample: where the window's |X| crossed half its plateau, less half a window. */
	#onset(now: number, confirm: number): number {
		const length = this.#ring.length;
		const at = (n: number) => this.#magnitudes[n % length]!;
		let plateau = 0;
		for (let n = now - Math.round(this.#window / 2); n <= now; n++) plateau = Math.max(plateau, at(n));
		const half = plateau / 2;
		const earliest = Math.max(this.#start, now - 3 * this.#window - confirm);
		let n = now;
		while (n > earliest && at(n - 1) >= half) n--;
		if (n === earliest) return n - this.#window / 2;
		const below = at(n - 1);
		const fraction = (half - below) / Math.max(1e-9, at(n) - below);
		return n - 1 + fraction - this.#window / 2 + 1;
	}

	#decode(onset: number): HeardMark | undefined {
		const rate = this.clock.sampleRate;
		const symbolLength = (symbolMs * rate) / 1000;
		const edge = Math.round((4 * rate) / 1000);
		let word = 0;
		for (let s = 0; s < symbols; s++) {
			const from = Math.round(onset + (syncMs * rate) / 1000 + s * symbolLength) + edge;
			const to = Math.round(onset + (syncMs * rate) / 1000 + (s + 1) * symbolLength) - edge;
			let best = 0;
			let bestPower = -1;
			for (let nibble = 0; nibble < 16; nibble++) {
				const power = tonePower(this.#ring, from, to, (2 * Math.PI * symbolHz(nibble)) / rate);
				if (power > bestPower) {
					bestPower = power;
					best = nibble;
				}
			}
			word = ((word << 4) | best) >>> 0;
		}
		const payload = decodeWord(word);
		if (!payload) return undefined;
		this.decoded++;
		const heardMs = this.clock.toMs(onset);
		// The latest second with this number that is not after the sync was heard (allowing clocks a little skew).
		const k = Math.floor((heardMs + 100) / markPeriodMs);
		const back = (((k - payload.seq) % seqModulo) + seqModulo) % seqModulo;
		return { heardMs, sentMs: (k - back) * markPeriodMs, sender: payload.sender };
	}
}

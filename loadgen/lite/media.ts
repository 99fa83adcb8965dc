/**
 * Pre-encoded media for lite bots: VP8 video (IVF) and Opus audio (Ogg) made once with ffmpeg
 * and cached, read into frames, and cut into RTP payloads. Lite bots send real, decodable
 * media without encoding anything themselves.
 *
 * With end-to-end delay marks, each bot has its own media, encoded when it joins: a loop whose
 * frames carry their place in it on the collector's clock (video marks with a loop length) and
 * whose audio carries the bot's burst at every second of a 16-second cycle. The bot sends each
 * frame and packet at that time of every loop, so a browser receiving it measures delay exactly
 * as from a browser sender.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Transform, type TransformCallback } from 'node:stream';
import { AudioMarkWriter, audioMarkCycleSeconds, FrameClock } from '../../capture/audioMarks.ts';
import { blockHeight, drawMark, markWords, neutralChroma } from '../../capture/marks.ts';
import { cacheDir, ffmpegPipe, generateWithFfmpeg } from '../media/fakeMedia.ts';

export interface VideoFrame {
	data: Buffer;
	keyframe: boolean;
}

export interface LiteVideoProfile {
	width: number;
	height: number;
	frameRate: number;
	bitrateKbps: number;
}

/** Keyframe every second: a subscriber that joins (or asks with a PLI) waits at most that long. */
const gopSeconds = 1;
const loopSeconds = 6;

/** Seconds of a bot's marked video loop: delays up to this are told apart. */
export const markedVideoLoopSeconds = loopSeconds;

const videoSource = ({ width, height, frameRate }: LiteVideoProfile) => ['-f', 'lavfi', '-i', `testsrc2=size=${width}x${height}:rate=${frameRate}`, '-t', String(loopSeconds)];

function vp8Encoding({ frameRate, bitrateKbps }: LiteVideoProfile): string[] {
	const gop = String(frameRate * gopSeconds);
	return [
		'-c:v', 'libvpx', '-b:v', `${bitrateKbps}k`, '-minrate', `${bitrateKbps}k`, '-maxrate', `${bitrateKbps}k`,
		'-g', gop, '-keyint_min', gop, '-deadline', 'realtime', '-cpu-used', '8',
		'-error-resilient', '1', '-auto-alt-ref', '0', '-lag-in-frames', '0',
		// libvpx's worker threads spin while they wait: ten encodes at once on two cores took 25 times the CPU of one.
		'-threads', '1',
	];
}

const opusEncoding = ['-c:a', 'libopus', '-b:a', '32k', '-frame_duration', '20', '-application', 'voip', '-ac', '1'];

export async function vp8File(profile: LiteVideoProfile, dir = cacheDir()): Promise<string> {
	const { width, height, frameRate, bitrateKbps } = profile;
	return generateWithFfmpeg(path.join(dir, `lite-${width}x${height}@${frameRate}-${bitrateKbps}k.ivf`), [...videoSource(profile), ...vp8Encoding(profile)]);
}

export async function opusFile(dir = cacheDir()): Promise<string> {
	return generateWithFfmpeg(path.join(dir, 'lite-opus-32k.ogg'), ['-f', 'lavfi', '-i', "aevalsrc='0.4*sin(2*PI*(180+60*sin(2*PI*3*t))*t)*(0.6+0.4*sin(2*PI*0.4*t))':s=48000:d=10", ...opusEncoding]);
}

/** The frames of an IVF file (32-byte file header; 12-byte header per frame). */
export function parseIvf(file: Buffer): VideoFrame[] {
	if (file.toString('ascii', 0, 4) !== 'DKIF') throw new Error('not an IVF file');
	const frames: VideoFrame[] = [];
	let offset = file.readUInt16LE(6);
	while (offset + 12 <= file.length) {
		const size = file.readUInt32LE(offset);
		const data = file.subarray(offset + 12, offset + 12 + size);
		// VP8 frame tag: bit 0 of the first byte is 0 for a key frame (RFC 6386, 9.1).
		frames.push({ data, keyframe: (data[0]! & 0x01) === 0 });
		offset += 12 + size;
	}
	return frames;
}

/** The Opus packets of an Ogg file, without the OpusHead and OpusTags headers (RFC 7845). */
export function parseOggOpus(file: Buffer): Buffer[] {
	const packets: Buffer[] = [];
	let offset = 0;
	let pending: Buffer[] = [];
	while (offset + 27 <= file.length) {
		if (file.toString('ascii', offset, offset + 4) !== 'OggS') throw new Error('bad Ogg page');
		const segments = file[offset + 26]!;
		const table = file.subarray(offset + 27, offset + 27 + segments);
		let data = offset + 27 + segments;
		for (const lace of table) {
			pending.push(file.subarray(data, data + lace));
			data += lace;
			// A lacing value under 255 ends a packet.
			if (lace < 255) {
				packets.push(Buffer.concat(pending));
				pending = [];
			}
		}
		offset = data;
	}
	return packets.filter((p) => !p.subarray(0, 8).toString('ascii').startsWith('Opus'));
}

/**
 * RTP payloads of one VP8 frame (RFC 7741): a one-byte payload descriptor (S set on the first
 * packet of the frame, partition 0), then at most `maxPayload` bytes of the frame.
 */
export function vp8Payloads(frame: Buffer, maxPayload = 1100): Buffer[] {
	const out: Buffer[] = [];
	for (let offset = 0; offset < frame.length; offset += maxPayload) {
		const chunk = frame.subarray(offset, Math.min(frame.length, offset + maxPayload));
		out.push(Buffer.concat([Buffer.from([offset === 0 ? 0x10 : 0x00]), chunk]));
	}
	return out;
}

/** The Opus encoder's look-ahead in samples (the pre-skip of the OpusHead header, RFC 7845 5.1). */
function opusPreSkip(file: Buffer): number {
	const head = file.indexOf('OpusHead');
	if (head < 0) throw new Error('no OpusHead in the Ogg file');
	return file.readUInt16LE(head + 10);
}

/** Draws a frame's delay mark into raw I420 frames as they stream past. */
class MarkFrames extends Transform {
	#frame: Buffer;
	#filled = 0;
	#index = 0;

	constructor(
		private readonly profile: LiteVideoProfile,
		private readonly sender: number,
	) {
		super();
		this.#frame = Buffer.allocUnsafe((profile.width * profile.height * 3) / 2);
	}

	override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
		for (let offset = 0; offset < chunk.length; ) {
			const copied = chunk.copy(this.#frame, this.#filled, offset);
			offset += copied;
			this.#filled += copied;
			if (this.#filled === this.#frame.length) {
				this.push(this.#mark(this.#frame));
				this.#frame = Buffer.allocUnsafe(this.#frame.length);
				this.#filled = 0;
			}
		}
		done();
	}

	#mark(frame: Buffer): Buffer {
		const { width, height, frameRate } = this.profile;
		const atMs = Math.round((this.#index++ * 1000) / frameRate);
		drawMark(frame, width, width, height, markWords(atMs, this.sender, loopSeconds));
		const chroma = (width / 2) * (height / 2);
		for (const offset of [width * height, width * height + chroma]) neutralChroma(frame.subarray(offset), width / 2, width / 2, blockHeight(height));
		return frame;
	}
}

/**
 * A bot's own video loop: frame k carries the time k / frame rate into the loop, and the
 * sender's id; it is to be sent at that time of each loop on the collector's clock.
 */
export async function markedVideo(profile: LiteVideoProfile, sender: number): Promise<VideoFrame[]> {
	if (profile.width % 2 !== 0 || profile.height % 2 !== 0) throw new Error(`marked video needs even dimensions, got ${profile.width}x${profile.height}`);
	const marking = new MarkFrames(profile, sender);
	// Frames stream from the source through the marking into the encoder: a bot's raw loop is never held whole.
	const source = ffmpegPipe([...videoSource(profile), '-f', 'rawvideo', '-pix_fmt', 'yuv420p', 'pipe:1'], { output: marking });
	const encoded = ffmpegPipe(
		['-f', 'rawvideo', '-pix_fmt', 'yuv420p', '-s', `${profile.width}x${profile.height}`, '-r', String(profile.frameRate), '-i', 'pipe:0', ...vp8Encoding(profile), '-f', 'ivf', 'pipe:1'],
		{ input: (stdin) => marking.pipe(stdin) },
	);
	const [, ivf] = await Promise.all([source, encoded]);
	const frames = parseIvf(ivf);
	if (frames.length !== loopSeconds * profile.frameRate) throw new Error(`marked video has ${frames.length} frames, expected ${loopSeconds * profile.frameRate}`);
	return frames;
}

/**
 * What a marked lite bot says between bursts: a 180 Hz voice with 60 Hz of vibrato three times a
 * second and two overtones, rising and falling in loudness. Everything stays under 1 kHz, so
 * nothing in it sounds like a burst's sync.
 */
function voiceSamples(seconds: number, rate: number): Float32Array {
	return Float32Array.from({ length: seconds * rate }, (_, n) => {
		const t = n / rate;
		const phase = 2 * Math.PI * 180 * t - 20 * Math.cos(2 * Math.PI * 3 * t);
		return (0.25 * Math.sin(phase) + 0.1 * Math.sin(2 * phase) + 0.05 * Math.sin(3 * phase)) * (0.6 + 0.4 * Math.sin(2 * Math.PI * 0.4 * t));
	});
}

const opusRate = 48_000;
/** The voice of a loop, the same for every bot of a process. */
let voiceLoop: Float32Array | undefined;
const opusFrame = 960;
const audioLoopPackets = (audioMarkCycleSeconds * opusRate) / opusFrame;

/** A second of audio is encoded before the loop, so the loop's end runs into its start as one encoding would. */
const prerollPackets = opusRate / opusFrame;
/**
 * Where the loop is cut: half a second into it, in the voice between bursts. The decoder comes to
 * the cut with a state the encoder did not have there, which can blur a few frames; a burst
 * there could fail to decode.
 */
const cutPackets = 25;

/**
 * A bot's marked audio loop of 20 ms Opus packets: packet k starts k × 20 ms into a 16-second
 * cycle of the collector's clock, and a burst carrying the sender starts at each of its whole
 * seconds. The encoder delays its output by its look-ahead, so its input leads by that much.
 */
export async function markedAudio(sender: number): Promise<Buffer[]> {
	const length = audioMarkCycleSeconds * opusRate;
	voiceLoop ??= voiceSamples(audioMarkCycleSeconds, opusRate);
	const voice = voiceLoop;
	const encode = async (lead: number) => {
		const clock = new FrameClock(opusRate);
		clock.observe(0, 0);
		const writer = new AudioMarkWriter(sender, clock);
		// The encoder's input, from a second before the cut on: the voice with the bursts of the frames it will be heard at.
		const from = (cutPackets - prerollPackets) * opusFrame + lead;
		const input = new Float32Array(prerollPackets * opusFrame + length);
		const mic = new Float32Array(opusFrame);
		for (let n = 0; n < input.length; n += opusFrame) {
			for (let i = 0; i < opusFrame; i++) mic[i] = voice[(((from + n + i) % length) + length) % length]!;
			writer.process(mic, input.subarray(n, n + opusFrame), from + n);
		}
		return ffmpegPipe(['-f', 'f32le', '-ar', String(opusRate), '-ac', '1', '-i', 'pipe:0', ...opusEncoding, '-f', 'ogg', 'pipe:1'], { input: (stdin) => stdin.end(Buffer.from(input.buffer)) });
	};
	// libopus's look-ahead is 312 samples at 48 kHz; if another build says otherwise, encode again with its figure.
	let ogg = await encode(312);
	if (opusPreSkip(ogg) !== 312) ogg = await encode(opusPreSkip(ogg));
	const encoded = parseOggOpus(ogg).slice(prerollPackets, prerollPackets + audioLoopPackets);
	if (encoded.length !== audioLoopPackets) throw new Error(`marked audio has ${encoded.length} packets, expected ${audioLoopPackets}`);
	return Array.from({ length: audioLoopPackets }, (_, k) => encoded[(k - cutPackets + audioLoopPackets) % audioLoopPackets]!);
}

export async function loadVideo(profile: LiteVideoProfile): Promise<VideoFrame[]> {
	return parseIvf(await readFile(await vp8File(profile)));
}

export async function loadAudio(): Promise<Buffer[]> {
	return parseOggOpus(await readFile(await opusFile()));
}

/**
 * Pre-encoded media for lite bots: VP8 video (IVF) and Opus audio (Ogg) made once with ffmpeg
 * and cached, read into frames, and cut into RTP payloads. Lite bots send real, decodable
 * media without encoding anything themselves.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { cacheDir, generateWithFfmpeg } from '../media/fakeMedia.ts';

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

export async function vp8File(profile: LiteVideoProfile, dir = cacheDir()): Promise<string> {
	const { width, height, frameRate, bitrateKbps } = profile;
	const gop = frameRate * gopSeconds;
	return generateWithFfmpeg(path.join(dir, `lite-${width}x${height}@${frameRate}-${bitrateKbps}k.ivf`), [
		'-f', 'lavfi', '-i', `testsrc2=size=${width}x${height}:rate=${frameRate}`,
		'-t', String(loopSeconds),
		'-c:v', 'libvpx', '-b:v', `${bitrateKbps}k`, '-minrate', `${bitrateKbps}k`, '-maxrate', `${bitrateKbps}k`,
		'-g', String(gop), '-keyint_min', String(gop), '-deadline', 'realtime', '-cpu-used', '8',
		'-error-resilient', '1', '-auto-alt-ref', '0', '-lag-in-frames', '0',
	]);
}

export async function opusFile(dir = cacheDir()): Promise<string> {
	return generateWithFfmpeg(path.join(dir, 'lite-opus-32k.ogg'), [
		'-f', 'lavfi', '-i', "aevalsrc='0.4*sin(2*PI*(180+60*sin(2*PI*3*t))*t)*(0.6+0.4*sin(2*PI*0.4*t))':s=48000:d=10",
		'-c:a', 'libopus', '-b:a', '32k', '-frame_duration', '20', '-application', 'voip', '-ac', '1',
	]);
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

export async function loadVideo(profile: LiteVideoProfile): Promise<VideoFrame[]> {
	return parseIvf(await readFile(await vp8File(profile)));
}

export async function loadAudio(): Promise<Buffer[]> {
	return parseOggOpus(await readFile(await opusFile()));
}

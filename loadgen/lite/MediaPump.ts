import { RtpHeader, RtpPacket, type MediaStreamTrack } from 'werift';
import { publishProfiles, type PublishProfile } from '../../protocol/scenario.ts';
import { MediaClock } from './MediaClock.ts';
import { loadAudio, loadVideo, vp8Payloads, type LiteVideoProfile, type VideoFrame } from './media.ts';

/** VP8 bitrate of the pre-encoded video per publish profile. */
export const liteVideoBitrateKbps: Record<'180p15' | '360p30' | '720p30', number> = {
	'180p15': 250,
	'360p30': 700,
	'720p30': 1500,
};

interface Stream {
	tracks: Set<MediaStreamTrack>;
	clock: MediaClock;
	seq: number;
	timestamp: number;
}

interface VideoStream extends Stream {
	frames: VideoFrame[];
	index: number;
	step: number;
	keyframeWanted: boolean;
}

interface AudioStream extends Stream {
	packets: Buffer[];
	index: number;
}

/**
 * Plays the pre-encoded media of one lite-bot process: one clock per video profile and one for
 * audio, whose RTP packets go to every subscribed track. Each werift sender copies a packet and
 * gives it its own SSRC, sequence and timestamp offsets, so bots share the packets safely.
 */
export class MediaPump {
	readonly #video = new Map<string, Promise<VideoStream>>();
	#audio: Promise<AudioStream> | undefined;

	async attach(profile: PublishProfile, tracks: { audio?: MediaStreamTrack; video?: MediaStreamTrack }): Promise<() => void> {
		const spec = publishProfiles[profile];
		const video = spec.video && tracks.video ? await this.#videoStream(profile as keyof typeof liteVideoBitrateKbps) : undefined;
		const audio = spec.audio && tracks.audio ? await this.#audioStream() : undefined;
		if (video && tracks.video) video.tracks.add(tracks.video);
		if (audio && tracks.audio) audio.tracks.add(tracks.audio);
		return () => {
			if (video && tracks.video) video.tracks.delete(tracks.video);
			if (audio && tracks.audio) audio.tracks.delete(tracks.audio);
		};
	}

	/** A keyframe as soon as the pre-encoded stream allows: jump to the next one. */
	async requestKeyframe(profile: PublishProfile): Promise<void> {
		const stream = await this.#video.get(profile);
		if (stream) stream.keyframeWanted = true;
	}

	#videoStream(profile: keyof typeof liteVideoBitrateKbps): Promise<VideoStream> {
		let stream = this.#video.get(profile);
		if (!stream) {
			const spec = publishProfiles[profile].video;
			const format: LiteVideoProfile = { ...spec, bitrateKbps: liteVideoBitrateKbps[profile] };
			stream = loadVideo(format).then((frames) => {
				const s: VideoStream = {
					frames,
					index: 0,
					step: Math.round(90_000 / spec.frameRate),
					keyframeWanted: false,
					tracks: new Set(),
					seq: Math.floor(Math.random() * 0xffff),
					timestamp: Math.floor(Math.random() * 0xffffffff),
					clock: new MediaClock(1000 / spec.frameRate, (skipped) => this.#sendFrame(s, skipped)),
				};
				return s;
			});
			this.#video.set(profile, stream);
		}
		return stream;
	}

	#audioStream(): Promise<AudioStream> {
		this.#audio ??= loadAudio().then((packets) => {
			const s: AudioStream = {
				packets,
				index: 0,
				tracks: new Set(),
				seq: Math.floor(Math.random() * 0xffff),
				timestamp: Math.floor(Math.random() * 0xffffffff),
				clock: new MediaClock(20, (skipped) => this.#sendAudio(s, skipped)),
			};
			return s;
		});
		return this.#audio;
	}

	#sendFrame(s: VideoStream, skipped: number): void {
		s.timestamp = (s.timestamp + s.step * skipped) >>> 0;
		if (skipped > 0) s.keyframeWanted = true;
		if (s.tracks.size === 0) return;
		if (s.keyframeWanted) {
			s.keyframeWanted = false;
			const next = s.frames.findIndex((f, i) => i >= s.index % s.frames.length && f.keyframe);
			s.index = next >= 0 ? next : 0;
		}
		const frame = s.frames[s.index % s.frames.length]!;
		s.index = (s.index + 1) % s.frames.length;
		s.timestamp = (s.timestamp + s.step) >>> 0;
		const payloads = vp8Payloads(frame.data);
		const packets = payloads.map(
			(payload, i) =>
				new RtpPacket(
					new RtpHeader({ payloadType: 96, sequenceNumber: (s.seq = (s.seq + 1) & 0xffff), timestamp: s.timestamp, marker: i === payloads.length - 1 }),
					payload,
				),
		);
		for (const track of s.tracks) for (const packet of packets) track.writeRtp(packet);
	}

	#sendAudio(s: AudioStream, skipped: number): void {
		s.index = (s.index + skipped) % s.packets.length;
		s.timestamp = (s.timestamp + 960 * (skipped + 1)) >>> 0;
		if (s.tracks.size === 0) return;
		const payload = s.packets[s.index]!;
		s.index = (s.index + 1) % s.packets.length;
		const packet = new RtpPacket(new RtpHeader({ payloadType: 111, sequenceNumber: (s.seq = (s.seq + 1) & 0xffff), timestamp: s.timestamp }), payload);
		for (const track of s.tracks) track.writeRtp(packet);
	}

	async close(): Promise<void> {
		for (const stream of [...this.#video.values(), ...(this.#audio ? [this.#audio] : [])]) (await stream).clock.close();
	}
}

import { RtpHeader, RtpPacket, type MediaStreamTrack } from 'werift';
import type { SenderDelayMarks } from '../../protocol/capture.ts';
import { lateFrameMs } from '../../protocol/metrics.ts';
import { publishProfiles, type PublishProfile } from '../../protocol/scenario.ts';
import { MediaClock } from './MediaClock.ts';
import type { LoopStalls } from './LoopStalls.ts';
import { loadAudio, loadVideo, markedAudio, markedVideo, vp8Payloads, type LiteVideoProfile, type VideoFrame } from './media.ts';

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
	/** Frames carry their time in the loop: each goes out at that time (its tick), never early or skipped to. */
	marked: boolean;
}

interface AudioStream extends Stream {
	packets: Buffer[];
	index: number;
}

/**
 * Plays the pre-encoded media of one lite-bot process: one clock per video profile and one for
 * audio, whose RTP packets go to every subscribed track. Each werift sender copies a packet and
 * gives it its own SSRC, sequence and timestamp offsets, so bots share the packets safely.
 *
 * A bot with delay marks has media of its own instead (its mark id is in every frame and burst),
 * on a clock aligned to the collector's: frame k of a loop goes out at that time of the loop.
 *
 * Every frame and audio packet a track sends is counted, and whether it left more than
 * `lateFrameMs` after its time (or was skipped): the process stood still when it fell due, and
 * whoever receives it, in this process or another or a browser, measures that wait as jitter.
 */
export class MediaPump {
	readonly #video = new Map<string, Promise<VideoStream>>();
	#audio: Promise<AudioStream> | undefined;
	readonly #own = new Set<Stream>();

	constructor(private readonly counts?: Pick<LoopStalls, 'count'>) {}

	async attach(profile: PublishProfile, tracks: { audio?: MediaStreamTrack; video?: MediaStreamTrack }, marks?: SenderDelayMarks): Promise<() => void> {
		const spec = publishProfiles[profile];
		const videoProfile = profile as keyof typeof liteVideoBitrateKbps;
		const settled = await Promise.allSettled([
			spec.video && tracks.video ? (marks?.video ? this.#markedVideoStream(videoProfile, marks) : this.#videoStream(videoProfile)) : undefined,
			spec.audio && tracks.audio ? (marks?.audio ? this.#markedAudioStream(marks) : this.#audioStream()) : undefined,
		]);
		const failed = settled.find((r) => r.status === 'rejected');
		if (failed) {
			// The bot will not send: a marked stream made for it would tick on with nobody to stop it.
			for (const r of settled) if (r.status === 'fulfilled' && r.value && this.#own.delete(r.value)) r.value.clock.close();
			throw failed.reason;
		}
		const [video, audio] = settled.map((r) => (r.status === 'fulfilled' ? r.value : undefined)) as [VideoStream | undefined, AudioStream | undefined];
		if (video && tracks.video) video.tracks.add(tracks.video);
		if (audio && tracks.audio) audio.tracks.add(tracks.audio);
		return () => {
			for (const [stream, track] of [[video, tracks.video], [audio, tracks.audio]] as const) {
				if (!stream || !track) continue;
				stream.tracks.delete(track);
				if (this.#own.delete(stream)) stream.clock.close();
			}
		};
	}

	/** A keyframe as soon as the pre-encoded stream allows: jump to the next one (marked streams send theirs on time, every second). */
	async requestKeyframe(profile: PublishProfile): Promise<void> {
		const stream = await this.#video.get(profile);
		if (stream) stream.keyframeWanted = true;
	}

	#videoStream(profile: keyof typeof liteVideoBitrateKbps): Promise<VideoStream> {
		let stream = this.#video.get(profile);
		if (!stream) {
			stream = loadVideo(liteVideoProfile(profile)).then((frames) => this.#newVideoStream(profile, frames));
			this.#video.set(profile, stream);
		}
		return stream;
	}

	async #markedVideoStream(profile: keyof typeof liteVideoBitrateKbps, marks: SenderDelayMarks): Promise<VideoStream> {
		const stream = this.#newVideoStream(profile, await markedVideo(liteVideoProfile(profile), marks.sender), marks);
		this.#own.add(stream);
		return stream;
	}

	#newVideoStream(profile: keyof typeof liteVideoBitrateKbps, frames: VideoFrame[], marks?: SenderDelayMarks): VideoStream {
		const { frameRate } = publishProfiles[profile].video;
		const s: VideoStream = {
			frames,
			index: 0,
			step: Math.round(90_000 / frameRate),
			keyframeWanted: false,
			marked: marks !== undefined,
			tracks: new Set(),
			seq: Math.floor(Math.random() * 0xffff),
			timestamp: Math.floor(Math.random() * 0xffffffff),
			clock: new MediaClock(1000 / frameRate, (skipped, tick, lateMs) => this.#sendFrame(s, skipped, tick, lateMs), undefined, marks && collectorZero(marks)),
		};
		return s;
	}

	#audioStream(): Promise<AudioStream> {
		this.#audio ??= loadAudio().then((packets) => this.#newAudioStream(packets));
		return this.#audio;
	}

	async #markedAudioStream(marks: SenderDelayMarks): Promise<AudioStream> {
		const stream = this.#newAudioStream(await markedAudio(marks.sender), marks);
		this.#own.add(stream);
		return stream;
	}

	#newAudioStream(packets: Buffer[], marks?: SenderDelayMarks): AudioStream {
		const s: AudioStream = {
			packets,
			index: 0,
			tracks: new Set(),
			seq: Math.floor(Math.random() * 0xffff),
			timestamp: Math.floor(Math.random() * 0xffffffff),
			// A marked loop's packet k is due k × 20 ms into each loop: its index is the tick's place in the loop.
			clock: new MediaClock(20, (skipped, tick, lateMs) => this.#sendAudio(s, skipped, lateMs, marks ? tick % packets.length : undefined), undefined, marks && collectorZero(marks)),
		};
		return s;
	}

	#sendFrame(s: VideoStream, skipped: number, tick: number, lateMs: number): void {
		s.timestamp = (s.timestamp + s.step * skipped) >>> 0;
		if (s.marked) s.index = tick % s.frames.length;
		else if (skipped > 0) s.keyframeWanted = true;
		if (s.tracks.size === 0) return;
		this.#countSent(s, skipped, lateMs);
		if (s.keyframeWanted && !s.marked) {
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

	#sendAudio(s: AudioStream, skipped: number, lateMs: number, index: number | undefined): void {
		s.index = index ?? (s.index + skipped) % s.packets.length;
		s.timestamp = (s.timestamp + 960 * (skipped + 1)) >>> 0;
		if (s.tracks.size === 0) return;
		this.#countSent(s, skipped, lateMs);
		const payload = s.packets[s.index]!;
		s.index = (s.index + 1) % s.packets.length;
		const packet = new RtpPacket(new RtpHeader({ payloadType: 111, sequenceNumber: (s.seq = (s.seq + 1) & 0xffff), timestamp: s.timestamp }), payload);
		for (const track of s.tracks) track.writeRtp(packet);
	}

	/** One frame (or packet) per track, late or not, and the ones skipped before it, all late. */
	#countSent(s: Stream, skipped: number, lateMs: number): void {
		if (skipped > 0) this.counts?.count('framesSentLate', true, skipped * s.tracks.size);
		this.counts?.count('framesSentLate', lateMs > lateFrameMs, s.tracks.size);
	}

	async close(): Promise<void> {
		for (const stream of [...this.#video.values(), ...(this.#audio ? [this.#audio] : [])]) (await stream).clock.close();
		for (const stream of this.#own) stream.clock.close();
		this.#own.clear();
	}
}

function liteVideoProfile(profile: keyof typeof liteVideoBitrateKbps): LiteVideoProfile {
	return { ...publishProfiles[profile].video, bitrateKbps: liteVideoBitrateKbps[profile] };
}

/** The `performance.now()` at which the collector's clock reads 0: a marked loop's tick 0. */
function collectorZero(marks: SenderDelayMarks): number {
	return marks.clockOffsetMs - performance.timeOrigin;
}

/**
 * The page side of end-to-end delay. Video: marks drawn into the camera's frames on the way out
 * (a getUserMedia video track passes through Chromium's breakout box: MediaStreamTrackProcessor
 * → the mark → MediaStreamTrackGenerator), and marks read off every decoded frame of every
 * received video track. Reading happens on decoded frames rather than in
 * requestVideoFrameCallback: headless pages that are not in front never render, so a render
 * callback would not run in most bot pages; decoded frames are what the video element shows
 * next (one compositor frame, about 16 ms, later). Audio: the microphone passes through an
 * audio worklet that adds coded bursts, and every received audio track feeds one that hears
 * them (audioMarks.ts).
 */
import type { SenderDelayMarks } from '../protocol/capture.ts';
import type { ReaderMessage, ReaderOptions, WriterOptions } from './audioWorklet.ts';
import { blockHeight, drawMark, markWords, neutralChroma, readMark } from './marks.ts';

/** The audio worklet's bundled source (capture/bundle.ts defines it). */
declare const __CALLSWARM_AUDIO_WORKLET__: string | undefined;

/** Chromium's breakout box (not in TypeScript's DOM types). */
declare class MediaStreamTrackProcessor<T> {
	constructor(init: { track: MediaStreamTrack; maxBufferSize?: number });
	readonly readable: ReadableStream<T>;
}
declare class MediaStreamTrackGenerator<T> extends MediaStreamTrack {
	constructor(init: { kind: 'video' | 'audio' });
	readonly writable: WritableStream<T>;
}

/** Which kinds carry marks, this sender's 16-bit id, and this machine's clock minus the collector's (marks are in collector time). */

export const breakoutBoxAvailable = (): boolean => typeof (globalThis as { MediaStreamTrackProcessor?: unknown }).MediaStreamTrackProcessor === 'function';

const lumaFormats = new Set(['I420', 'I420A', 'I422', 'I444', 'NV12']);

/** A copy of `track` whose frames carry their capture time and sender; the original keeps running underneath. */
export function markedTrack(track: MediaStreamTrack, config: SenderDelayMarks): MediaStreamTrack {
	if (!breakoutBoxAvailable() || track.kind !== 'video') return track;
	const processor = new MediaStreamTrackProcessor<VideoFrame>({ track, maxBufferSize: 2 });
	const generator = new MediaStreamTrackGenerator<VideoFrame>({ kind: 'video' });
	generator.contentHint = track.contentHint;
	// One buffer for every frame of the track (VideoFrame copies it): no garbage at 30 frames a second.
	let buffer = new Uint8Array(0);
	const marking = new TransformStream<VideoFrame, VideoFrame>({
		async transform(frame, controller) {
			if (!frame.format || !lumaFormats.has(frame.format)) {
				controller.enqueue(frame);
				return;
			}
			if (buffer.byteLength !== frame.allocationSize()) buffer = new Uint8Array(frame.allocationSize());
			const layout = await frame.copyTo(buffer);
			const width = frame.visibleRect?.width ?? frame.codedWidth;
			const height = frame.visibleRect?.height ?? frame.codedHeight;
			const y = layout[0]!;
			drawMark(buffer.subarray(y.offset), y.stride, width, height, markWords(Date.now() - config.clockOffsetMs, config.sender));
			const rows = Math.ceil((2 * blockHeight(height)) / 2);
			if (frame.format === 'NV12') neutralChroma(buffer.subarray(layout[1]!.offset), layout[1]!.stride, width + (width & 1), rows);
			else for (const plane of layout.slice(1, 3)) neutralChroma(buffer.subarray(plane.offset), plane.stride, Math.ceil(width / 2), rows);
			const marked = new VideoFrame(buffer, {
				format: frame.format,
				codedWidth: frame.codedWidth,
				codedHeight: frame.codedHeight,
				timestamp: frame.timestamp,
				...(frame.duration !== null ? { duration: frame.duration } : {}),
				layout,
				...(frame.visibleRect ? { visibleRect: { x: frame.visibleRect.x, y: frame.visibleRect.y, width: frame.visibleRect.width, height: frame.visibleRect.height } } : {}),
				displayWidth: frame.displayWidth,
				displayHeight: frame.displayHeight,
				colorSpace: frame.colorSpace.toJSON(),
			});
			frame.close();
			controller.enqueue(marked);
		},
	});
	void processor.readable.pipeThrough(marking).pipeTo(generator.writable).catch(() => undefined);
	// Stopping the marked track stops the camera under it.
	const stop = generator.stop.bind(generator);
	generator.stop = () => {
		stop();
		track.stop();
	};
	return generator;
}

let audioContext: Promise<AudioContext> | undefined;

/** The page's one AudioContext with the mark worklet loaded (undefined where Web Audio or the worklet is missing). */
function markContext(): Promise<AudioContext> | undefined {
	if (typeof AudioWorkletNode !== 'function' || typeof __CALLSWARM_AUDIO_WORKLET__ !== 'string') return undefined;
	audioContext ??= (async () => {
		// At the output device's rate (44.1 kHz in a bare container): a context at WebRTC's 48 kHz, which resamples its output instead of each track, measured no cheaper.
		const context = new AudioContext({ latencyHint: 'interactive' });
		const url = URL.createObjectURL(new Blob([__CALLSWARM_AUDIO_WORKLET__], { type: 'text/javascript' }));
		try {
			await context.audioWorklet.addModule(url);
		} finally {
			URL.revokeObjectURL(url);
		}
		// Bots run with autoplay allowed; elsewhere a context may start suspended.
		if (context.state === 'suspended') void context.resume().catch(() => undefined);
		return context;
	})();
	return audioContext;
}

/**
 * A copy of a microphone track carrying a coded burst at every second of the collector's clock
 * (the microphone ducked around it); the original when Web Audio cannot (a page whose CSP
 * refuses blob: worklets, say).
 */
export async function markedAudioTrack(track: MediaStreamTrack, config: SenderDelayMarks): Promise<MediaStreamTrack> {
	const pending = track.kind === 'audio' ? markContext() : undefined;
	const context = await pending?.catch(() => undefined);
	if (!context) return track;
	const source = new MediaStreamAudioSourceNode(context, { mediaStream: new MediaStream([track]) });
	const processorOptions: WriterOptions = { sender: config.sender, clockOffsetMs: config.clockOffsetMs };
	const writer = new AudioWorkletNode(context, 'callswarm-audio-mark-writer', { numberOfInputs: 1, numberOfOutputs: 1, outputChannelCount: [1], processorOptions });
	const destination = new MediaStreamAudioDestinationNode(context, { channelCount: 1 });
	source.connect(writer).connect(destination);
	// A muted branch to the destination: a bot whose context had nothing reaching it (a sender that receives no audio) measured about 0.05 core costlier.
	writer.connect(new GainNode(context, { gain: 0 })).connect(context.destination);
	const marked = destination.stream.getAudioTracks()[0]!;
	marked.contentHint = track.contentHint || 'speech';
	// Stopping the marked track stops the microphone under it.
	const stop = marked.stop.bind(marked);
	marked.stop = () => {
		stop();
		track.stop();
		source.disconnect();
		writer.disconnect();
	};
	return marked;
}

/** What one received track showed since it started: cumulative, like getStats() counters. */
interface Reading {
	id: string;
	kind: 'audio' | 'video';
	sender: number | undefined;
	framesSeen: number;
	marksRead: number;
	delaySumMs: number;
	/** A mark that did not advance for this long while frames came: the viewer saw a freeze. */
	freezeCount: number;
	frozenMs: number;
	lastMarkMs: number | undefined;
	lastAdvanceAt: number | undefined;
	frozen: boolean;
}

const newReading = (id: string, kind: Reading['kind']): Reading => ({
	id,
	kind,
	sender: undefined,
	framesSeen: 0,
	marksRead: 0,
	delaySumMs: 0,
	freezeCount: 0,
	frozenMs: 0,
	lastMarkMs: undefined,
	lastAdvanceAt: undefined,
	frozen: false,
});

/** A freeze as the viewer sees it: the picture (its mark) does not change for this long. */
const freezeAfterMs = 500;

/** Reads marks off the decoded frames of received video tracks. */
export class E2eReceiver {
	readonly #readings = new Map<string, Reading>();
	/** Received audio tracks in the Web Audio graph, and how to take each out. */
	readonly #listening = new Map<MediaStreamTrack, () => void>();

	constructor(private readonly config: Pick<SenderDelayMarks, 'clockOffsetMs' | 'video' | 'audio'>) {}

	watch(track: MediaStreamTrack): void {
		if (this.#readings.has(track.id)) return;
		if (track.kind === 'audio') {
			if (this.config.audio) void this.#listen(track);
			return;
		}
		if (!breakoutBoxAvailable() || track.kind !== 'video' || !this.config.video) return;
		const reading = newReading(track.id, 'video');
		this.#readings.set(track.id, reading);
		const reader = new MediaStreamTrackProcessor<VideoFrame>({ track, maxBufferSize: 4 }).readable.getReader();
		const rows = { buffer: new Uint8Array(0) };
		void (async () => {
			for (;;) {
				const { value: frame, done } = await reader.read().catch(() => ({ value: undefined, done: true as const }));
				if (done || !frame) return;
				// The frame is shown now; copying its rows out takes a while and is not part of the delay.
				const now = Date.now() - this.config.clockOffsetMs;
				try {
					await this.#read(reading, frame, now, rows);
				} finally {
					frame.close();
				}
			}
		})();
	}

	/** Hears the bursts in a received audio track: syncs heard count as frames, decoded bursts as marks. */
	async #listen(track: MediaStreamTrack): Promise<void> {
		const context = await markContext()?.catch(() => undefined);
		if (!context || track.readyState === 'ended' || this.#readings.has(track.id)) return;
		const reading = newReading(track.id, 'audio');
		this.#readings.set(track.id, reading);
		const source = new MediaStreamAudioSourceNode(context, { mediaStream: new MediaStream([track]) });
		const processorOptions: ReaderOptions = { clockOffsetMs: this.config.clockOffsetMs };
		const listener = new AudioWorkletNode(context, 'callswarm-audio-mark-reader', { numberOfInputs: 1, numberOfOutputs: 1, outputChannelCount: [1], processorOptions });
		listener.port.onmessage = (event: MessageEvent<ReaderMessage>) => {
			reading.framesSeen = event.data.syncs;
			reading.marksRead = event.data.decoded;
			for (const heard of event.data.heard) {
				reading.sender = heard.sender;
				reading.delaySumMs += heard.delayMs;
			}
		};
		// Connected to the destination so the graph pulls it; it writes nothing, and bots' audio is muted anyway.
		source.connect(listener).connect(context.destination);
		const release = () => {
			source.disconnect();
			listener.disconnect();
			listener.port.onmessage = null;
		};
		track.addEventListener('ended', release, { once: true });
		// Remote tracks a page stops itself end without an event: the graph lets them go at the next look.
		this.#listening.set(track, release);
	}

	async #read(reading: Reading, frame: VideoFrame, now: number, rows: { buffer: Uint8Array }): Promise<void> {
		reading.framesSeen++;
		if (!frame.format || !lumaFormats.has(frame.format)) return;
		const width = frame.visibleRect?.width ?? frame.codedWidth;
		const height = frame.visibleRect?.height ?? frame.codedHeight;
		// Only the rows of the marks are copied out of the frame.
		const rect = { x: 0, y: 0, width: frame.codedWidth, height: Math.min(frame.codedHeight, (2 * blockHeight(height) + 1) & ~1) };
		const size = frame.allocationSize({ rect });
		if (rows.buffer.byteLength < size) rows.buffer = new Uint8Array(size);
		const layout = await frame.copyTo(rows.buffer, { rect });
		const mark = readMark(rows.buffer.subarray(layout[0]!.offset), layout[0]!.stride, width, height, now);
		if (!mark) return;
		reading.marksRead++;
		reading.sender = mark.sender;
		const delay = now - mark.captureMs;
		reading.delaySumMs += delay;
		if (reading.lastMarkMs === undefined || mark.captureMs > reading.lastMarkMs) {
			if (reading.frozen && reading.lastAdvanceAt !== undefined) reading.frozenMs += now - reading.lastAdvanceAt;
			reading.frozen = false;
			reading.lastMarkMs = mark.captureMs;
			reading.lastAdvanceAt = now;
		} else if (!reading.frozen && reading.lastAdvanceAt !== undefined && now - reading.lastAdvanceAt > freezeAfterMs) {
			reading.frozen = true;
			reading.freezeCount++;
		}
	}

	/**
	 * One stats object per received track (type "callswarm-e2e"), with cumulative counters the
	 * collector turns into per-interval delay, share of frames (audio: bursts heard) with a mark
	 * read, and freezes (video).
	 */
	stats(timestamp: number): Array<Record<string, unknown>> {
		for (const [track, release] of this.#listening) {
			if (track.readyState !== 'ended') continue;
			release();
			this.#listening.delete(track);
		}
		const out: Array<Record<string, unknown>> = [];
		for (const r of this.#readings.values()) {
			if (r.sender === undefined) continue;
			out.push({
				type: 'callswarm-e2e',
				id: `E2E-${r.id}`,
				timestamp,
				kind: r.kind,
				senderMark: r.sender,
				framesSeen: r.framesSeen,
				marksRead: r.marksRead,
				delaySumMs: Math.round(r.delaySumMs),
				freezeCount: r.freezeCount,
				frozenMs: r.frozenMs,
			});
		}
		return out;
	}
}

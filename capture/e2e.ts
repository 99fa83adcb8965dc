/**
 * The page side of end-to-end video delay: marks drawn into the camera's frames on the way out
 * (a getUserMedia video track passes through Chromium's breakout box: MediaStreamTrackProcessor
 * → the mark → MediaStreamTrackGenerator), and marks read off every decoded frame of every
 * received video track. Reading happens on decoded frames rather than in
 * requestVideoFrameCallback: headless pages that are not in front never render, so a render
 * callback would not run in most bot pages; decoded frames are what the video element shows
 * next (one compositor frame, about 16 ms, later).
 */
import { blockHeight, drawMark, markWords, neutralChroma, readMark } from './marks.ts';

/** Chromium's breakout box (not in TypeScript's DOM types). */
declare class MediaStreamTrackProcessor<T> {
	constructor(init: { track: MediaStreamTrack; maxBufferSize?: number });
	readonly readable: ReadableStream<T>;
}
declare class MediaStreamTrackGenerator<T> extends MediaStreamTrack {
	constructor(init: { kind: 'video' | 'audio' });
	readonly writable: WritableStream<T>;
}

export interface E2eConfig {
	/** This participant's 16-bit sender id (senderMarkId of its peer id): written into its frames. */
	sender: number;
	/** This machine's clock minus the collector's: marks are in collector time, so shards on other machines agree. */
	clockOffsetMs: number;
}

export const breakoutBoxAvailable = (): boolean => typeof (globalThis as { MediaStreamTrackProcessor?: unknown }).MediaStreamTrackProcessor === 'function';

const lumaFormats = new Set(['I420', 'I420A', 'I422', 'I444', 'NV12']);

/** A copy of `track` whose frames carry their capture time and sender; the original keeps running underneath. */
export function markedTrack(track: MediaStreamTrack, config: E2eConfig): MediaStreamTrack {
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

/** What one received video track showed since it started: cumulative, like getStats() counters. */
interface Reading {
	id: string;
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

/** A freeze as the viewer sees it: the picture (its mark) does not change for this long. */
const freezeAfterMs = 500;

/** Reads marks off the decoded frames of received video tracks. */
export class E2eReceiver {
	readonly #readings = new Map<string, Reading>();

	constructor(private readonly config: Pick<E2eConfig, 'clockOffsetMs'>) {}

	watch(track: MediaStreamTrack): void {
		if (!breakoutBoxAvailable() || track.kind !== 'video' || this.#readings.has(track.id)) return;
		const reading: Reading = { id: track.id, sender: undefined, framesSeen: 0, marksRead: 0, delaySumMs: 0, freezeCount: 0, frozenMs: 0, lastMarkMs: undefined, lastAdvanceAt: undefined, frozen: false };
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
	 * One stats object per received video track (type "callswarm-e2e"), with cumulative counters
	 * the collector turns into per-interval delay, share of frames with a mark, and freezes.
	 */
	stats(timestamp: number): Array<Record<string, unknown>> {
		const out: Array<Record<string, unknown>> = [];
		for (const r of this.#readings.values()) {
			if (r.sender === undefined) continue;
			out.push({
				type: 'callswarm-e2e',
				id: `E2E-${r.id}`,
				timestamp,
				kind: 'video',
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

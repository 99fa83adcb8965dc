/**
 * The in-page capture: what a page is told when callswarm's capture script is injected into it
 * (by a browser bot, before any page script), and what the capture hands back.
 */
import { z } from 'zod';
import type { ParticipantEvent, StatsSnapshotInput } from './telemetry.ts';

/**
 * Which end-to-end delay marks browser bots write and read. Video by default: audio marks cost a
 * browser bot about a quarter more CPU (bench:bots), which the sizing tables do not count, and
 * take 220 ms of each second of the microphone.
 */
export const DelayMarkKinds = z.strictObject({
	/** Capture time drawn into camera frames, read off received video (e2e_video_ms). */
	video: z.boolean().default(true),
	/** A coded burst every second in the microphone, heard in received audio (e2e_audio_ms). */
	audio: z.boolean().default(false),
});

export const IceServer = z.object({
	urls: z.union([z.string().max(500), z.array(z.string().max(500)).max(10)]),
	username: z.string().max(200).optional(),
	credential: z.string().max(200).optional(),
});

/** The delay marks a machine's bots write and read: which kinds, and this machine's clock minus the collector's. */
export const MachineDelayMarks = DelayMarkKinds.extend({ clockOffsetMs: z.number().min(-86_400_000).max(86_400_000) });
export type MachineDelayMarks = z.output<typeof MachineDelayMarks>;
/** A sending bot's delay marks: the machine's, and its own 16-bit mark id (senderMarkId of its peer id). */
export const SenderDelayMarks = MachineDelayMarks.extend({ sender: z.number().int().min(0).max(0xffff) });
export type SenderDelayMarks = z.output<typeof SenderDelayMarks>;

export const CaptureConfig = z.object({
	/** getStats() of every connection this often, into the buffer `drain()` empties. */
	statsIntervalMs: z.number().int().min(100).max(600_000).default(2000),
	/** Off: no periodic sampling (whoever uses the capture asks for snapshots itself). */
	sample: z.boolean().default(true),
	/** "known": only the stats types and fields the collector reads (strict, about a quarter of the bytes); "full": every allow-listed field (protocol/redaction.ts). Either way nothing personal. */
	stats: z.enum(['known', 'full']).default('known'),
	/** Replaces every connection's ICE servers (a participant's own impairing TURN relay). */
	iceServers: z.array(IceServer).max(10).optional(),
	/** Every connection relays (iceTransportPolicy "relay"), so all of its media takes the relay's path. */
	forceRelay: z.boolean().default(false),
	/** No connection up this long after the join started: a fail event. */
	joinTimeoutMs: z.number().int().positive().max(3_600_000).default(30_000),
	/**
	 * End-to-end delay: camera frames carry their capture time and this sender's id
	 * (senderMarkId of its peer id), the microphone a coded burst every second, and received
	 * video and audio are read for other senders' marks.
	 * Times are in the collector's clock: `clockOffsetMs` is this machine's clock minus it.
	 */
	e2e: SenderDelayMarks.optional(),
	/** getDisplayMedia answers with a generated screen (slides-like, this size and rate). */
	screen: z.object({ width: z.number().int().min(16).max(3840), height: z.number().int().min(16).max(2160), frameRate: z.number().min(1).max(60) }).optional(),
});
export type CaptureConfig = z.output<typeof CaptureConfig>;
export type CaptureConfigInput = z.input<typeof CaptureConfig>;

/** One registered RTCPeerConnection as the capture sees it. */
export interface CapturedConnection {
	label: string;
	connectionState: string;
	everConnected: boolean;
}

/** What `window.__callswarmCapture` offers the load generator. */
export interface CaptureApi {
	/** Snapshots and events since the previous call. */
	drain(): { snapshots: StatsSnapshotInput[]; events: ParticipantEvent[] };
	/** getStats() of every open connection now, one snapshot each. */
	snapshot(options?: { stats?: 'known' | 'full' }): Promise<StatsSnapshotInput[]>;
	/** The join starts now (before the join steps): join and first-media times count from here. */
	markJoinStart(): void;
	/**
	 * A received track is a shared screen: its stats say so (contentType "screenshare") and count
	 * as screen share, not camera. Sent screens are recognised by themselves (getDisplayMedia,
	 * or contentHint "detail" / "text"); which received track is a screen only the app knows.
	 */
	markScreen(trackId: string): void;
	connections(): CapturedConnection[];
}

declare global {
	interface Window {
		/** Set by a browser bot before the capture script runs. */
		__callswarmCaptureConfig?: unknown;
		__callswarmCapture?: CaptureApi;
	}
}

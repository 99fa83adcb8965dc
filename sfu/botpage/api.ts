import type { CallState } from '../client/index.ts';
import type { ParticipantEvent, StatsSnapshot } from '../../protocol/telemetry.ts';

/** One getStats() of one RTCPeerConnection ("send" or "recv"): `[...report.values()]`. */
export type RawStatsSnapshot = StatsSnapshot;

export interface BotPageState {
	state: CallState;
	roomId: string;
	peerId: string;
	peers: string[];
	producers: Array<{ producerId: string; kind: string }>;
	/** `forwarded`: false while last-N holds it back at the SFU; `screen`: a shared screen. */
	consumers: Array<{ consumerId: string; peerId: string; kind: string; trackId: string; forwarded: boolean; screen: boolean }>;
	/** The room's dominant speaker, as the SFU last said. */
	activeSpeaker: string | undefined;
	/** Whether the microphone sends sound (false: silence, as a muted microphone). */
	speaking: boolean;
	error: string | undefined;
}

/** What the bot page exposes as `window.callswarm` for the load generator (puppeteer). */
export interface BotPageApi {
	join(): Promise<void>;
	leave(): Promise<void>;
	/** New connections in the same room (e.g. after a network change); a reconnect event follows. */
	reconnect(reason: string): Promise<void>;
	/** With `known`, only the stats types and fields the collector reads (about a quarter of the bytes). */
	getStats(options?: { known?: boolean }): Promise<RawStatsSnapshot[]>;
	state(): BotPageState;
	/** Talk or fall silent: the microphone track is enabled or sends silence (speaker turns). */
	setSpeaking(speaking: boolean): void;
	/** Events since the previous call. */
	drainEvents(): ParticipantEvent[];
}

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
	consumers: Array<{ consumerId: string; peerId: string; kind: string; trackId: string }>;
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
	/** Events since the previous call. */
	drainEvents(): ParticipantEvent[];
}

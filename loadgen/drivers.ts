import type { AppTarget, EndToEnd, NetworkConditions } from '../protocol/scenario.ts';
import type { ParticipantEvent } from '../protocol/telemetry.ts';
import type { WatchedProcess } from './health/GeneratorMonitor.ts';
import type { WithheldFigures } from '../protocol/api.ts';
import type { Slot } from './schedule/slots.ts';
import type { TelemetrySender } from './telemetry/TelemetrySender.ts';

/** Where participants go: a callswarm SFU (its bot page and signaling), or any app's own pages. */
export type DriverTarget =
	| {
			kind: 'callswarm';
			/** ws://host:port/ws of the SFU. */
			signalingUrl: string;
			/** http://host:port/bot/ of the SFU. */
			botPageUrl: string;
	  }
	| { kind: 'app'; app: AppTarget };

/** What every bot driver gets from the run. */
export interface DriverContext {
	runId: string;
	target: DriverTarget;
	statsIntervalMs: number;
	sender: TelemetrySender;
	/** Speaker turns: microphones start silent and talk when a turn says so. */
	speakerTurns?: boolean;
	/** Network conditions of a participant group right now. */
	networkOf(group: string): NetworkConditions;
	/** Groups whose participants go through their own impairment relay: conditions now or later, or `relay: 'always'`. */
	relayGroups: ReadonlySet<string>;
	/** Where a browser bots' TURN server listens, and the address its relayed candidates carry. */
	turn: { listenIp: string; relayIp: string };
	/** Every participant event (also sent as telemetry), for the live status. */
	onEvent(slot: Slot, event: ParticipantEvent): void;
	/** Problems worth a line in the output. */
	log(message: string): void;
	/**
	 * End-to-end delay marks: which kinds, this machine's clock minus the collector's, and the
	 * participant whose 16-bit mark id a receiver read. Browser bots write and read them, lite
	 * bots write them. Absent: no marks.
	 */
	e2e?: EndToEnd & { clockOffsetMs: number; peerOfMark(mark: number): string | undefined };
}

/** What a driver prepares for: every place it may host during the run. */
export interface PreparePlan {
	all: readonly Slot[];
}

/** A kind of bot (browser, lite): joins and leaves participants, follows network changes. */
export interface BotDriver {
	/**
	 * Before the schedule starts, starts the processes the run will need at once (browsers,
	 * lite-bot processes, the TURN server): their start-up is the generator's cost, not part of
	 * any call, and a machine busy launching them would otherwise skew the first joins.
	 * Resolves to how many processes it started.
	 */
	prepare?(plan: PreparePlan): Promise<number>;
	join(slot: Slot): Promise<void>;
	leave(slot: Slot): Promise<void>;
	/** Applies new network conditions to every participant of a group, live (no reconnect). */
	setNetwork(group: string, conditions: NetworkConditions): Promise<void>;
	/** Speaker turns: the participant talks or falls silent (drivers whose bots cannot, leave it out). */
	setSpeaking?(slot: Slot, speaking: boolean): Promise<void>;
	/**
	 * Round trips its bots timed and jitter figures they reported on their own event loop, of each
	 * kind, and how many of them a stall of that loop may have distorted and were withheld
	 * (drivers whose bots are measured elsewhere leave it out).
	 */
	withheldFigures?(): WithheldFigures;
	/** The driver's processes now, for the generator's own health. */
	processes(): WatchedProcess[];
	/** Every participant leaves; the driver's processes stop. */
	close(): Promise<void>;
}

/** The SFU's signaling URL, for drivers that speak callswarm signaling themselves (lite bots). */
export function signalingUrlOf(target: DriverTarget): string {
	if (target.kind !== 'callswarm') throw new Error('lite bots need a callswarm SFU: an app target takes browser bots');
	return target.signalingUrl;
}

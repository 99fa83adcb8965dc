import type { NetworkConditions } from '../protocol/scenario.ts';
import type { WatchedProcess } from './health/GeneratorMonitor.ts';
import type { ParticipantEvent } from '../protocol/telemetry.ts';
import type { Slot } from './schedule/slots.ts';
import type { TelemetrySender } from './telemetry/TelemetrySender.ts';

/** What every bot driver gets from the run. */
export interface DriverContext {
	runId: string;
	/** ws://host:port/ws of the SFU. */
	signalingUrl: string;
	/** http://host:port/bot/ of the SFU. */
	botPageUrl: string;
	statsIntervalMs: number;
	sender: TelemetrySender;
	/** Network conditions of a participant group right now. */
	networkOf(group: string): NetworkConditions;
	/** Every participant event (also sent as telemetry), for the live status. */
	onEvent(slot: Slot, event: ParticipantEvent): void;
	/** Problems worth a line in the output. */
	log(message: string): void;
}

/** A kind of bot (browser, lite): joins and leaves participants, follows network changes. */
export interface BotDriver {
	join(slot: Slot): Promise<void>;
	leave(slot: Slot): Promise<void>;
	/** Applies new network conditions to every participant of a group. */
	setNetwork(group: string, conditions: NetworkConditions): Promise<void>;
	/** The driver's processes now, for the generator's own health. */
	processes(): WatchedProcess[];
	/** Every participant leaves; the driver's processes stop. */
	close(): Promise<void>;
}

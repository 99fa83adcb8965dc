import type { Slot } from '../schedule/slots.ts';

/** What a lite-bot process runs for a slot: a lite bot, or a viewer. */
export function hostedKind(slot: Slot): 'lite' | 'viewer' {
	return slot.group.bot === 'viewer' ? 'viewer' : 'lite';
}

/** The share of a lite-bot process a slot takes, 1 being a full process: lite bots and viewers each by their own count per process. */
export function processShare(slot: Slot, perProcess: { botsPerProcess: number; viewersPerProcess: number }): number {
	return 1 / (hostedKind(slot) === 'viewer' ? perProcess.viewersPerProcess : perProcess.botsPerProcess);
}

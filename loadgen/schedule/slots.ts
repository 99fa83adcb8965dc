import type { NamedParticipantGroup, Scenario } from '../../protocol/scenario.ts';

/** One participant place of the scenario: which room, which group. */
export interface Slot {
	/** Position in join order across the whole run (all shards). */
	index: number;
	roomId: string;
	group: NamedParticipantGroup;
	peerId: string;
}

export function roomIds(scenario: Scenario): string[] {
	const rooms = scenario.rooms;
	return 'ids' in rooms ? rooms.ids : Array.from({ length: rooms.count }, (_, i) => `${rooms.prefix}-${i + 1}`);
}

/**
 * Every participant place in join order: rooms fill evenly (the first N joiners spread over the
 * rooms) and, inside a room, groups interleave in proportion (2 browsers among 40 lite bots join
 * early and midway, not last).
 */
export function buildSlots(scenario: Scenario): Slot[] {
	const composition = scenario.participants
		.flatMap((group) => Array.from({ length: group.count }, (_, k) => ({ group, at: (k + 0.5) / group.count })))
		.sort((a, b) => a.at - b.at);
	const rooms = roomIds(scenario);
	const slots: Slot[] = [];
	composition.forEach(({ group }, position) => {
		for (const roomId of rooms) {
			const index = slots.length;
			slots.push({ index, roomId, group, peerId: `${group.name}-${String(index).padStart(4, '0')}` });
			void position;
		}
	});
	return slots;
}

export interface Shard {
	/** 1-based. */
	index: number;
	count: number;
}

/** The slots a shard runs: every count-th slot, so each shard gets a similar mix. */
export function slotsOfShard(slots: Slot[], shard: Shard): Slot[] {
	return slots.filter((slot) => slot.index % shard.count === shard.index - 1);
}

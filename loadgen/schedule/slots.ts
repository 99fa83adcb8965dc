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
 * Every participant place in join order. Inside a room, groups interleave in proportion (2
 * browsers among 40 lite bots join early and midway, not last). Rooms fill one after the other
 * ("pack": the first joiners are in a call together) or round-robin ("spread": the first N
 * joiners each open a room).
 */
export function buildSlots(scenario: Scenario): Slot[] {
	const composition = scenario.participants
		.flatMap((group) => Array.from({ length: group.count }, (_, k) => ({ group, at: (k + 0.5) / group.count })))
		.sort((a, b) => a.at - b.at)
		.map((c) => c.group);
	const rooms = roomIds(scenario);
	const order: Array<{ roomId: string; group: NamedParticipantGroup }> =
		scenario.rooms.fill === 'spread'
			? composition.flatMap((group) => rooms.map((roomId) => ({ roomId, group })))
			: rooms.flatMap((roomId) => composition.map((group) => ({ roomId, group })));
	return order.map(({ roomId, group }, index) => ({ index, roomId, group, peerId: `${group.name}-${String(index).padStart(4, '0')}` }));
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

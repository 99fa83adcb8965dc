import type { Speaking } from '../../protocol/scenario.ts';
import type { Slot } from '../schedule/slots.ts';

/**
 * Speaker turns, room by room: a few participants talk at a time, for a turn drawn between the
 * scenario's shortest and longest, then others take over (whoever spoke least recently first, so
 * everyone gets turns). Everyone else's microphone sends silence.
 */
export class SpeakerTurns {
	readonly #rooms = new Map<string, { talkers: Slot[]; speaking: Set<number>; timer?: NodeJS.Timeout; spoke: Map<number, number> }>();
	#closed = false;

	constructor(
		private readonly speaking: Speaking,
		private readonly setSpeaking: (slot: Slot, speaking: boolean) => Promise<void>,
		private readonly random: () => number = Math.random,
	) {}

	/** A participant that can talk joined its room; it gets a turn at once if the room has room for a talker. */
	add(slot: Slot): void {
		if (this.#closed) return;
		let room = this.#rooms.get(slot.roomId);
		if (!room) {
			room = { talkers: [], speaking: new Set(), spoke: new Map() };
			this.#rooms.set(slot.roomId, room);
		}
		if (room.talkers.some((t) => t.index === slot.index)) return;
		room.talkers.push(slot);
		this.#fill(slot.roomId);
	}

	/** A participant left or failed: someone waiting takes its turn (if it had one) for the rest of it. */
	remove(slot: Slot): void {
		const room = this.#rooms.get(slot.roomId);
		if (!room) return;
		room.talkers = room.talkers.filter((t) => t.index !== slot.index);
		room.spoke.delete(slot.index);
		if (room.speaking.delete(slot.index)) this.#fill(slot.roomId);
		if (room.talkers.length === 0) {
			clearTimeout(room.timer);
			this.#rooms.delete(slot.roomId);
		}
	}

	/** Who talks in a room now (slot indexes). */
	speakers(roomId: string): number[] {
		return [...(this.#rooms.get(roomId)?.speaking ?? [])];
	}

	close(): void {
		this.#closed = true;
		for (const room of this.#rooms.values()) clearTimeout(room.timer);
		this.#rooms.clear();
	}

	/** Free places in the current turn go to those who spoke least recently. */
	#fill(roomId: string): void {
		const room = this.#rooms.get(roomId);
		if (!room || this.#closed) return;
		const now = Date.now();
		for (const talker of this.#leastRecentFirst(room)) {
			if (room.speaking.size >= this.speaking.concurrent) break;
			if (room.speaking.has(talker.index)) continue;
			room.speaking.add(talker.index);
			room.spoke.set(talker.index, now);
			void this.setSpeaking(talker, true);
		}
		if (!room.timer) this.#schedule(roomId);
	}

	#leastRecentFirst(room: { talkers: Slot[]; spoke: Map<number, number> }): Slot[] {
		return [...room.talkers].sort((a, b) => (room.spoke.get(a.index) ?? 0) - (room.spoke.get(b.index) ?? 0) || a.index - b.index);
	}

	#schedule(roomId: string): void {
		const room = this.#rooms.get(roomId)!;
		const [min, max] = this.speaking.turnSeconds;
		room.timer = setTimeout(() => this.#turn(roomId), (min + (max - min) * this.random()) * 1000);
		room.timer.unref();
	}

	/** The next turn in a room: the `concurrent` who spoke least recently talk, the rest fall silent. */
	#turn(roomId: string): void {
		const room = this.#rooms.get(roomId);
		if (!room || this.#closed) return;
		const now = Date.now();
		const order = this.#leastRecentFirst(room);
		// Those talking now give way when others are waiting; a room with few talkers keeps them.
		const waiting = order.filter((t) => !room.speaking.has(t.index));
		const next = [...waiting, ...order.filter((t) => room.speaking.has(t.index))].slice(0, this.speaking.concurrent);
		const nextSet = new Set(next.map((t) => t.index));
		for (const talker of room.talkers) {
			const was = room.speaking.has(talker.index);
			const is = nextSet.has(talker.index);
			if (is) room.spoke.set(talker.index, now);
			if (was !== is) void this.setSpeaking(talker, is);
		}
		room.speaking = nextSet;
		this.#schedule(roomId);
	}
}

import { EventEmitter } from 'node:events';

interface TrackedCall {
	appId: string;
	startedAt: number;
	/** When the collector last received data of the call (its own clock: client clocks drift). */
	lastReceived: number;
	/** Participants and when each was first seen. */
	peers: Map<string, number>;
	endedAt: number | undefined;
}

export interface CallEnded {
	callKey: string;
	appId: string;
	startedAt: number;
	endedAt: number;
	participants: number;
}

export interface CallTrackerEvents {
	ended: [call: CallEnded];
}

/** Ended calls are remembered this long, so a call that resumes keeps its start. */
const keepEndedMs = 24 * 3600_000;

/**
 * Production calls start and end by themselves: a call starts with its first data and ends when
 * no participant has sent anything for the app's idle time. The tracker only decides; whoever
 * owns it records the end (the run registry row of the call).
 */
export class CallTracker extends EventEmitter<CallTrackerEvents> {
	readonly #calls = new Map<string, TrackedCall>();

	constructor(private readonly idleMs: (appId: string) => number) {
		super();
	}

	/**
	 * Data of a call arrived. `fresh` says the call is new or resumed after it ended: its registry
	 * row must be (re)written as running, with `startedAt`.
	 */
	touch(appId: string, callKey: string, peerId: string, firstTs: number, now = Date.now()): { fresh: boolean; startedAt: number; peerFirstSeen: number } {
		let call = this.#calls.get(callKey);
		const fresh = call === undefined || call.endedAt !== undefined;
		if (!call) {
			call = { appId, startedAt: Math.min(firstTs, now), lastReceived: now, peers: new Map(), endedAt: undefined };
			this.#calls.set(callKey, call);
		}
		call.startedAt = Math.min(call.startedAt, firstTs);
		call.lastReceived = now;
		call.endedAt = undefined;
		const peerFirstSeen = Math.min(call.peers.get(peerId) ?? firstTs, firstTs);
		call.peers.set(peerId, peerFirstSeen);
		return { fresh, startedAt: call.startedAt, peerFirstSeen };
	}

	/** A call known from the store as running (after a restart), last heard of at `lastReceived`. */
	restore(appId: string, callKey: string, startedAt: number, lastReceived: number, peers: number): void {
		if (this.#calls.has(callKey)) return;
		const peerIds = new Map(Array.from({ length: peers }, (_, i) => [`restored-${i}`, startedAt] as const));
		this.#calls.set(callKey, { appId, startedAt, lastReceived, peers: peerIds, endedAt: undefined });
	}

	/** Ends the calls idle for longer than their app allows; emits `ended` for each. */
	sweep(now = Date.now()): CallEnded[] {
		const ended: CallEnded[] = [];
		for (const [callKey, call] of this.#calls) {
			if (call.endedAt !== undefined) {
				if (now - call.endedAt > keepEndedMs) this.#calls.delete(callKey);
				continue;
			}
			if (now - call.lastReceived < this.idleMs(call.appId)) continue;
			call.endedAt = call.lastReceived;
			ended.push({ callKey, appId: call.appId, startedAt: call.startedAt, endedAt: call.lastReceived, participants: call.peers.size });
		}
		for (const call of ended) this.emit('ended', call);
		return ended;
	}

	/** Calls of an app with data within their idle time. */
	active(appId: string): number {
		let n = 0;
		for (const call of this.#calls.values()) if (call.appId === appId && call.endedAt === undefined) n++;
		return n;
	}

	forget(callKey: string): void {
		this.#calls.delete(callKey);
	}
}

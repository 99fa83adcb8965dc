import { performance } from 'node:perf_hooks';
import type { RoundTripCounts } from './ipc.ts';

interface Stall {
	/** performance.now() ms */
	from: number;
	to: number;
}

/**
 * When this process's event loop stood still. werift times a STUN check, and a viewer an RTCP
 * round trip, from sending to handling the answer: an answer that waited behind a stall of the
 * bot's own process reads as network delay. A load generator on a busy machine (or a bot
 * joining while its process sets up others) must not report that as the call's round-trip time.
 */
export class LoopStalls {
	readonly #stalls: Stall[] = [];
	readonly #counts: RoundTripCounts = { judged: 0, withheld: 0 };
	#lastTick = performance.now();
	readonly #timer: NodeJS.Timeout;

	/**
	 * @param tickMs how often the loop is looked at; a tick this much late or more is a stall
	 * @param toleranceMs a round trip may be off by this much, or by `toleranceShare` of itself
	 *   if that is more: a few ms are the loop's ordinary work (a GC, a burst of packets, the
	 *   stats of the process's other bots) and would withhold nearly every figure
	 * @param keepMs how long a stall is remembered: longer than the oldest window asked about
	 */
	constructor(
		readonly tickMs = 10,
		readonly toleranceMs = 20,
		readonly toleranceShare = 0.2,
		readonly keepMs = 60_000,
	) {
		this.#timer = setInterval(() => this.#tick(), tickMs).unref();
	}

	#tick(): void {
		const now = performance.now();
		if (now - this.#lastTick >= 2 * this.tickMs) this.#stalls.push({ from: this.#lastTick + this.tickMs, to: now });
		this.#lastTick = now;
		while (this.#stalls.length > 0 && this.#stalls[0]!.to < now - this.keepMs) this.#stalls.shift();
	}

	/**
	 * How far behind its tick the loop is now, ms, or 0 within one tick's slack. Above 0 the loop
	 * has just stood still and no tick has run since: I/O handled now (a packet read from its
	 * socket, an answer) may have waited up to this long.
	 */
	behindMs(now = performance.now()): number {
		const behind = now - this.#lastTick - this.tickMs;
		return behind >= this.tickMs ? behind : 0;
	}

	/** The longest time the loop stood still within [from, to] (performance.now() ms), a stall still going on included. */
	longestStallBetween(from: number, to: number): number {
		const now = performance.now();
		const overlap = (stall: Stall) => Math.min(stall.to, to) - Math.max(stall.from, from);
		// A stall that has just ended has no tick after it yet: the caller runs first.
		let longest = this.behindMs(now) > 0 ? Math.max(0, overlap({ from: this.#lastTick + this.tickMs, to: now })) : 0;
		// Newest first: the stalls are in order, and one that ended before the window ends the search.
		for (let i = this.#stalls.length - 1; i >= 0 && this.#stalls[i]!.to >= from; i--) longest = Math.max(longest, overlap(this.#stalls[i]!));
		return longest;
	}

	/**
	 * Whether a round trip timed on this loop, answered within [since, until], may be off by more
	 * than the tolerance. An answer waits out the stall it arrives in, so the figure is too long
	 * by at most the longest stall it spans, and never by more than itself.
	 */
	distorts(rttMs: number, since: number, until: number): boolean {
		const worstError = Math.min(this.longestStallBetween(since - rttMs, until), rttMs);
		return worstError > Math.max(this.toleranceMs, this.toleranceShare * rttMs);
	}

	/** Judges one new round trip as `distorts` does, and counts it: a run says how many figures it left out. */
	withholds(rttMs: number, since: number, until: number): boolean {
		const withheld = this.distorts(rttMs, since, until);
		this.#counts.judged++;
		if (withheld) this.#counts.withheld++;
		return withheld;
	}

	/** Round trips judged and withheld so far. */
	get counts(): RoundTripCounts {
		return { ...this.#counts };
	}

	close(): void {
		clearInterval(this.#timer);
	}
}

/**
 * One bot's candidate pairs as werift reports them: it keeps a pair's last STUN round trip,
 * timed on this process's loop, and a figure a stall may have stretched is withheld until the
 * next clean one. A new measurement ended since the pair was last looked at (or since the join,
 * for the join's connectivity check) and began its round trip before that.
 */
export class PairRoundTrips {
	/** Per pc and pair: the measurement last seen, when it was looked at, and whether a stall may have stretched it. */
	readonly #pairs = new Map<string, { measurement: unknown; at: number; stretched: boolean }>();
	#lookedAt = performance.now();

	constructor(private readonly stalls: LoopStalls) {}

	/** The bot starts joining: its first measurements are from here on. */
	joining(): void {
		this.#lookedAt = performance.now();
	}

	/** Removes, in place, each candidate pair's currentRoundTripTime a stall may have stretched. */
	withholdStretched(reports: { pc: string; stats: Record<string, unknown>[] }[]): void {
		const lookedAt = this.#lookedAt;
		const now = (this.#lookedAt = performance.now());
		for (const { pc, stats } of reports) {
			for (const pair of stats) {
				const rtt = pair.currentRoundTripTime;
				if (pair.type !== 'candidate-pair' || typeof rtt !== 'number') continue;
				const key = `${pc}/${String(pair.id)}`;
				const measurement = pair.roundTripTimeMeasurements ?? pair.totalRoundTripTime ?? rtt;
				let seen = this.#pairs.get(key);
				if (seen?.measurement === measurement) seen.at = now;
				else {
					seen = { measurement, at: now, stretched: this.stalls.withholds(rtt * 1000, seen?.at ?? lookedAt, now) };
					this.#pairs.set(key, seen);
				}
				if (seen.stretched) delete pair.currentRoundTripTime;
			}
		}
	}
}

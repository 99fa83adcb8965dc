import { performance } from 'node:perf_hooks';
import type { FigureCounts, WithheldFigures } from '../../protocol/api.ts';

export interface Stall {
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
	readonly #counts: WithheldFigures = { roundTrips: none(), jitterFigures: none(), mediaRoundTrips: none(), framesSentLate: none() };
	#lastTick = performance.now();
	readonly #timer: NodeJS.Timeout;

	/**
	 * @param tickMs how often the loop is looked at; a tick this much late or more is a stall
	 * @param toleranceMs a round trip may be off by this much, or by `toleranceShare` of itself
	 *   if that is more: a few ms are the loop's ordinary work (a GC, a burst of packets, the
	 *   stats of the process's other bots) and would withhold nearly every figure
	 * @param keepMs how long a stall is remembered: longer than the oldest window asked about
	 * @param drainMs how long after a stall what waited in the sockets through it may still be read
	 */
	constructor(
		readonly tickMs = 10,
		readonly toleranceMs = 20,
		readonly toleranceShare = 0.2,
		readonly keepMs = 60_000,
		readonly drainMs = 2 * tickMs,
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

	/**
	 * Whether I/O handled now (a packet read from its socket) may have waited out a stall: the
	 * loop is behind, or a stall ended less than `drainMs` ago. The tick that sees a stall end
	 * may run before the sockets are read (timers come first in the loop's turn), and a backlog
	 * of many sockets takes more than one turn to read.
	 */
	mayHaveWaited(now = performance.now()): boolean {
		if (this.behindMs(now) > 0) return true;
		const last = this.#stalls.at(-1);
		return last !== undefined && now - last.to < this.drainMs;
	}

	/** The longest time the loop stood still within [from, to] (performance.now() ms), a stall still going on included. */
	longestStallBetween(from: number, to: number): number {
		return this.stallsBetween(from, to).reduce((longest, stall) => Math.max(longest, stall.to - stall.from), 0);
	}

	/**
	 * When the loop stood still within [from, to] (performance.now() ms), newest first; a stall
	 * still going on included. `whole`: each stall that reaches into the window as long as it
	 * was (what a stall left behind depends on all of it); otherwise cut to the window (what a
	 * round trip within it can have waited).
	 */
	stallsBetween(from: number, to: number, { whole = false } = {}): Stall[] {
		const now = performance.now();
		const within = (stall: Stall): Stall[] => {
			const cut = { from: Math.max(stall.from, from), to: Math.min(stall.to, to) };
			return cut.to > cut.from ? [whole ? stall : cut] : [];
		};
		// A stall that has just ended has no tick after it yet: the caller runs first.
		const out = this.behindMs(now) > 0 ? within({ from: this.#lastTick + this.tickMs, to: now }) : [];
		// Newest first: the stalls are in order, and one that ended before the window ends the search.
		for (let i = this.#stalls.length - 1; i >= 0 && this.#stalls[i]!.to >= from; i--) out.push(...within(this.#stalls[i]!));
		return out;
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

	/**
	 * Judges one new round trip as `distorts` does, and counts it: a run says how many figures it
	 * left out. `kind`: a candidate pair's or viewer's (rtt_ms), or an RTCP one of sent media (media_rtt_ms).
	 */
	withholds(rttMs: number, since: number, until: number, kind: 'roundTrips' | 'mediaRoundTrips' = 'roundTrips'): boolean {
		const withheld = this.distorts(rttMs, since, until);
		this.count(kind, withheld);
		return withheld;
	}

	/** Counts `times` figures judged, withheld or not (frames: sent, late or not). */
	count(kind: keyof WithheldFigures, withheld: boolean, times = 1): void {
		this.#counts[kind].judged += times;
		if (withheld) this.#counts[kind].withheld += times;
	}

	/** Figures judged and withheld so far, of each kind. */
	get counts(): WithheldFigures {
		const { roundTrips, jitterFigures, mediaRoundTrips, framesSentLate } = this.#counts;
		return { roundTrips: { ...roundTrips }, jitterFigures: { ...jitterFigures }, mediaRoundTrips: { ...mediaRoundTrips }, framesSentLate: { ...framesSentLate } };
	}

	close(): void {
		clearInterval(this.#timer);
	}
}

function none(): FigureCounts {
	return { judged: 0, withheld: 0 };
}

/**
 * Where a bot's stats keep a round trip timed on this process's loop: a candidate pair's last
 * STUN check (rtt_ms), and a sent stream's RTCP round trip (media_rtt_ms: werift times a
 * receiver report's answer to its sender report when it handles the report).
 */
const timedRoundTrips: Record<string, { field: string; kind: 'roundTrips' | 'mediaRoundTrips' } | undefined> = {
	'candidate-pair': { field: 'currentRoundTripTime', kind: 'roundTrips' },
	'remote-inbound-rtp': { field: 'roundTripTime', kind: 'mediaRoundTrips' },
};

/**
 * One bot's round trips as werift reports them, timed on this process's loop: a figure a stall
 * may have stretched is withheld until the next clean one. A new measurement ended since the
 * stats were last looked at (or since the join, for the join's connectivity check) and began its
 * round trip before that.
 *
 * A candidate pair keeps its last STUN round trip. A sent stream's `roundTripTime` is werift's
 * moving average (85 % of the figure before), which would carry a stretched answer on into the
 * figures after it: it is replaced by the mean of the measurements since the last look (from
 * `totalRoundTripTime` and `roundTripTimeMeasurements`), as a browser reports its latest.
 */
export class RoundTripFigures {
	/** Per pc and stats id: the measurement last seen and the total with it, when it was looked at, the figure it gave, and whether a stall may have stretched it. */
	readonly #seen = new Map<string, { measurement: unknown; total: number | undefined; at: number; figure: number; stretched: boolean }>();
	#lookedAt = performance.now();

	constructor(private readonly stalls: LoopStalls) {}

	/** The bot starts joining: its first measurements are from here on. */
	joining(): void {
		this.#lookedAt = performance.now();
	}

	/** Sets, in place, each round trip to the figure of its new measurements, or removes it where a stall may have stretched them. */
	withholdStretched(reports: { pc: string; stats: Record<string, unknown>[] }[]): void {
		const lookedAt = this.#lookedAt;
		const now = (this.#lookedAt = performance.now());
		for (const { pc, stats } of reports) {
			for (const stat of stats) {
				const timed = typeof stat.type === 'string' ? timedRoundTrips[stat.type] : undefined;
				const rtt = timed ? stat[timed.field] : undefined;
				if (!timed || typeof rtt !== 'number') continue;
				const key = `${pc}/${String(stat.id)}`;
				const measurement = stat.roundTripTimeMeasurements ?? stat.totalRoundTripTime ?? rtt;
				let seen = this.#seen.get(key);
				if (seen?.measurement === measurement) seen.at = now;
				else {
					// werift times an RTCP round trip on Date.now (1 ms steps) less the receiver's hold (15 µs steps):
					// on loopback, a round trip well under a millisecond can come out below zero, which no round trip is.
					const figure = timed.kind === 'mediaRoundTrips' ? Math.max(0, newMeasurementsMean(stat, seen) ?? rtt) : rtt;
					const total = typeof stat.totalRoundTripTime === 'number' ? stat.totalRoundTripTime : undefined;
					seen = { measurement, total, at: now, figure, stretched: this.stalls.withholds(figure * 1000, seen?.at ?? lookedAt, now, timed.kind) };
					this.#seen.set(key, seen);
				}
				if (seen.stretched) delete stat[timed.field];
				else stat[timed.field] = seen.figure;
			}
		}
	}
}

/** The mean of a sent stream's RTCP round trips since they were last seen (seconds), where its totals tell it. */
function newMeasurementsMean(stat: Record<string, unknown>, seen: { measurement: unknown; total: number | undefined } | undefined): number | undefined {
	const { totalRoundTripTime: total, roundTripTimeMeasurements: count } = stat;
	if (typeof total !== 'number' || typeof count !== 'number') return undefined;
	const [total0, count0] = seen && typeof seen.measurement === 'number' && seen.total !== undefined ? [seen.total, seen.measurement] : [0, 0];
	return count > count0 ? (total - total0) / (count - count0) : undefined;
}

/**
 * A received stream's interarrival jitter as werift reports it: werift stamps a packet's
 * arrival when this process's loop handles it, so the packets that waited in the socket through
 * a stall arrive as one burst. A frame that should have arrived within the stall arrives its
 * length late and the next one on time: two differences of the stall's length, each weighing a
 * sixteenth in RFC 3550's estimator, grow the jitter by up to an eighth of the stall; the
 * estimator then forgets a sixteenth of that per frame. That is this machine's wait, not the
 * network's: a jitter figure that what is left of a stall's mark may have grown by more than
 * the tolerance is withheld.
 */
export class ReceiveJitter {
	/**
	 * @param toleranceMs a jitter figure may be off by this much, or by `toleranceShare` of itself
	 *   if that is more: the loop's ordinary stalls of 10 to 40 ms (a GC, the process's other bots'
	 *   stats) add up to 5 ms (a 2 ms tolerance withheld 15–55 % of a loaded machine's figures)
	 * @param lookBackMs stalls older than this have left little of their mark (30 frames at 15 fps: a seventh)
	 */
	constructor(
		private readonly stalls: LoopStalls,
		readonly toleranceMs = 5,
		readonly toleranceShare = 0.2,
		readonly lookBackMs = 2000,
	) {}

	/**
	 * Removes, in place, every inbound-rtp jitter (seconds) what is left of a recent stall may have
	 * grown by more than the tolerance; every figure looked at is counted, withheld or not.
	 */
	withholdStretched(reports: { stats: Record<string, unknown>[] }[]): void {
		const now = performance.now();
		// A stall that began before the look-back and ended within it grew the figure by its whole length.
		const recent = this.stalls.stallsBetween(now - this.lookBackMs, now, { whole: true });
		for (const { stats } of reports) {
			for (const stat of stats) {
				const jitter = stat.jitter;
				if (stat.type !== 'inbound-rtp' || typeof jitter !== 'number') continue;
				const errorMs = Math.max(0, ...recent.map((stall) => ((stall.to - stall.from) / 8) * forgetting ** ((now - stall.to) / frameIntervalMs(stat))));
				const withheld = errorMs > Math.max(this.toleranceMs, this.toleranceShare * jitter * 1000);
				if (withheld) delete stat.jitter;
				this.stalls.count('jitterFigures', withheld);
			}
		}
	}
}

/** The estimator keeps 15/16 of its figure per frame (RFC 3550). */
const forgetting = 15 / 16;

/** Time between a received stream's frames, ms: 20 ms Opus packets, or the video's frame rate (15 fps until it has one). */
function frameIntervalMs(inbound: Record<string, unknown>): number {
	if (inbound.kind === 'audio') return 20;
	const fps = inbound.framesPerSecond;
	return typeof fps === 'number' && fps > 0 ? 1000 / fps : 1000 / 15;
}

import type { ReportBlock } from './rtcp.ts';

/** A sequence jump this large is a restarted sender, not loss (RFC 3550 A.1 MAX_DROPOUT). */
const maxDropout = 3000;
/** Packets this far behind the highest are duplicates or very late, not a wrap. */
const maxMisorder = 100;

/**
 * What a receiver counts of one RTP stream from headers alone, the way a browser's receive
 * statistics do (RFC 3550 A.3 and A.8): packets and bytes, loss as expected minus received,
 * interarrival jitter. Payloads are never read (they stay encrypted).
 */
export class ReceiveStatistics {
	packetsReceived = 0;
	bytesReceived = 0;
	firstPacketAtMs: number | undefined;
	#baseSeq = 0;
	#maxSeq = 0;
	#cycles = 0;
	#expectedBefore = 0;
	#jitter = 0;
	#lastTransit: number | undefined;
	#lastTimestamp: number | undefined;
	#expectedPrior = 0;
	#receivedPrior = 0;
	/** The last sender report: its NTP middle bits and when it arrived. */
	#lastSr: { ntpMiddle: number; atMs: number } | undefined;

	constructor(readonly clockRate: number) {}

	/**
	 * One RTP packet: its sequence number and timestamp, its payload size, and when it arrived
	 * (ms, any monotonic clock). A packet read `late` (it may have waited in the socket while the
	 * receiver's own process stood still) is counted, but its arrival time is not the network's
	 * and does not move the jitter.
	 */
	onPacket(seq: number, timestamp: number, payloadBytes: number, arrivalMs: number, late = false): void {
		if (this.firstPacketAtMs === undefined) {
			this.firstPacketAtMs = arrivalMs;
			this.#baseSeq = seq;
			this.#maxSeq = seq;
		} else {
			const delta = (seq - this.#maxSeq) & 0xffff;
			if (delta > 0 && delta < maxDropout) {
				if (seq < this.#maxSeq) this.#cycles += 0x10000;
				this.#maxSeq = seq;
			} else if (delta !== 0 && delta <= 0x10000 - maxMisorder) {
				// A jump: the sender restarted its sequence. Counters go on (they are cumulative);
				// what was expected before the jump is kept, and counting restarts from here.
				this.#expectedBefore = this.expected;
				this.#baseSeq = seq;
				this.#maxSeq = seq;
				this.#cycles = 0;
			} else if (delta !== 0) {
				// Reordered or duplicated: counted as received, never moves the highest.
				this.bytesReceived += payloadBytes;
				this.packetsReceived++;
				return;
			}
		}
		this.packetsReceived++;
		this.bytesReceived += payloadBytes;
		// Jitter from in-order packets that start a new frame, as libwebrtc does: the packets of
		// one frame share a timestamp and leave the sender in a burst.
		if (timestamp !== this.#lastTimestamp) {
			this.#lastTimestamp = timestamp;
			// The next timely frame is compared with the last timely one: both transits are the network's.
			if (late) return;
			const transit = (arrivalMs / 1000) * this.clockRate - timestamp;
			if (this.#lastTransit !== undefined) {
				let d = Math.abs(transit - this.#lastTransit);
				// Timestamps wrap at 2^32.
				if (d > 2 ** 31) d = Math.abs(d - 2 ** 32);
				this.#jitter += (d - this.#jitter) / 16;
			}
			this.#lastTransit = transit;
		}
	}


	onSenderReport(ntpMiddle: number, atMs: number): void {
		this.#lastSr = { ntpMiddle, atMs };
	}

	get extendedHighestSeq(): number {
		return this.#cycles + this.#maxSeq;
	}

	get expected(): number {
		return this.firstPacketAtMs === undefined ? 0 : this.#expectedBefore + this.extendedHighestSeq - this.#baseSeq + 1;
	}

	/** Expected minus received: negative with duplicates, as RFC 3550 and browsers report it. */
	get packetsLost(): number {
		return this.expected - this.packetsReceived;
	}

	/** Interarrival jitter, seconds. */
	get jitterSeconds(): number {
		return this.#jitter / this.clockRate;
	}

	/** The report block for this stream; moves the "since last report" marks on. */
	reportBlock(ssrc: number, nowMs: number): ReportBlock {
		const expected = this.expected;
		const expectedInterval = expected - this.#expectedPrior;
		const receivedInterval = this.packetsReceived - this.#receivedPrior;
		this.#expectedPrior = expected;
		this.#receivedPrior = this.packetsReceived;
		const lostInterval = expectedInterval - receivedInterval;
		return {
			ssrc,
			fractionLost: expectedInterval > 0 && lostInterval > 0 ? lostInterval / expectedInterval : 0,
			cumulativeLost: this.packetsLost,
			extendedHighestSeq: this.extendedHighestSeq,
			jitter: this.#jitter,
			lastSr: this.#lastSr?.ntpMiddle ?? 0,
			delaySinceLastSr: this.#lastSr ? Math.round(((nowMs - this.#lastSr.atMs) / 1000) * 65536) : 0,
		};
	}
}

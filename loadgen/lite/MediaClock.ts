/**
 * The clock of one pre-encoded stream: a frame (or audio packet) every `periodMs` of wall time.
 *
 * A Node interval timer is rescheduled from when its callback ran, so every event-loop stall
 * (a burst of DTLS handshakes while bots join) pushes all later frames back: the stream falls
 * behind real time for good and every receiver conceals, which reads as a bad call when it is
 * the generator that stalled. This clock counts frames from a fixed origin instead: after a stall
 * it sends the frames that fell due, as a real client's capture queue does, so receivers see
 * jitter they can buffer rather than a stream slower than its timestamps. Each wait is to the
 * next frame's due time, so frames leave on their grid (to the timer's millisecond), which is
 * what lets a stream whose frames carry their send times in them (delay marks) be sent on time.
 */
export class MediaClock {
	#timer: NodeJS.Timeout | undefined;
	/** The tick of the last frame sent: frames are due at `origin + tick × period`. */
	#due: number;
	#closed = false;

	/**
	 * @param onFrame called per frame with its tick, how late it is (ms after its due time) and,
	 *   on the first frame after a stall longer than `maxBurst` frames, how many were skipped (the
	 *   stream resumes from now, its timestamps stepping over the gap as a capture device's would).
	 * @param originMs the `performance.now()` of tick 0 (default: now). A stream aligned to
	 *   another clock (the collector's) passes that clock's zero.
	 */
	constructor(
		private readonly periodMs: number,
		private readonly onFrame: (skipped: number, tick: number, lateMs: number) => void,
		private readonly maxBurst = 25,
		private readonly originMs = performance.now(),
	) {
		// The frame of the tick under way is already late: the first one sent is the next, on time.
		this.#due = this.#tickAt(performance.now());
		this.#schedule();
	}

	close(): void {
		this.#closed = true;
		clearTimeout(this.#timer);
	}

	#tickAt(now: number): number {
		return Math.floor((now - this.originMs) / this.periodMs);
	}

	#schedule(): void {
		if (this.#closed) return;
		const next = this.originMs + (this.#due + 1) * this.periodMs;
		// Timers truncate fractions and may fire early by them: the ceiling never wakes before the frame is due.
		this.#timer = setTimeout(() => this.#tick(), Math.max(0, Math.ceil(next - performance.now())));
	}

	#tick(): void {
		const now = performance.now();
		const due = this.#tickAt(now);
		const behind = due - this.#due;
		if (behind > 0) {
			const skipped = Math.max(0, behind - this.maxBurst);
			const first = this.#due + 1 + skipped;
			this.#due = due;
			for (let tick = first; tick <= due; tick++) this.onFrame(tick === first ? skipped : 0, tick, now - (this.originMs + tick * this.periodMs));
		}
		this.#schedule();
	}
}

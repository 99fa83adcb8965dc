/**
 * The clock of one pre-encoded stream: a frame (or audio packet) every `periodMs` of wall time.
 *
 * A Node interval timer is rescheduled from when its callback ran, so every event-loop stall
 * (a burst of DTLS handshakes while bots join) pushes all later frames back: the stream falls
 * behind real time for good and every receiver conceals, which reads as a bad call when it is
 * the generator that stalled. This clock counts frames from its start instead: after a stall it
 * sends the frames that fell due, as a real client's capture queue does, so receivers see
 * jitter they can buffer rather than a stream slower than its timestamps.
 */
export class MediaClock {
	readonly #timer: NodeJS.Timeout;
	readonly #startedAt = performance.now();
	#due = 0;

	/**
	 * @param maxBurst frames sent at once after a stall; a longer stall is dropped (the stream
	 *   resumes from now, its timestamps stepping over the gap as a capture device's would).
	 */
	constructor(
		private readonly periodMs: number,
		private readonly onFrame: (skipped: number) => void,
		private readonly maxBurst = 25,
	) {
		this.#timer = setInterval(() => this.#tick(), periodMs);
	}

	close(): void {
		clearInterval(this.#timer);
	}

	#tick(): void {
		const elapsed = performance.now() - this.#startedAt;
		const due = Math.floor(elapsed / this.periodMs);
		const behind = due - this.#due;
		if (behind <= 0) return;
		const skipped = Math.max(0, behind - this.maxBurst);
		this.#due = due;
		this.onFrame(skipped);
		for (let i = 1; i < behind - skipped; i++) this.onFrame(0);
	}
}

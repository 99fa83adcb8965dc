/**
 * Turns on an engine that runs one statement at a time (embedded chDB), reads before writes.
 * A dashboard's view is several queries in a row; first-come order would put an insert of
 * tens of thousands of rows (and its rollup views) between each of them, so a view that takes
 * 90 ms alone took a second under full-speed ingest. Here a write waits while reads are
 * running or queued, and for a short grace after the last one ends (the gap between a view's
 * dependent queries), but never longer than `maxWriteWaitMs`: readers that never stop cannot
 * starve ingest, whose backlog would otherwise turn into 429s.
 */
export class ReadsFirst {
	#reads = 0;
	#lastReadEnd = 0;
	readonly #wakeWriters: Array<() => void> = [];

	constructor(
		private readonly graceMs = 25,
		private readonly maxWriteWaitMs = 250,
	) {}

	async read<T>(run: () => Promise<T>): Promise<T> {
		this.#reads++;
		try {
			return await run();
		} finally {
			this.#reads--;
			this.#lastReadEnd = performance.now();
			if (this.#reads === 0) for (const wake of this.#wakeWriters.splice(0)) wake();
		}
	}

	async write<T>(run: () => Promise<T>): Promise<T> {
		const deadline = performance.now() + this.maxWriteWaitMs;
		for (;;) {
			const now = performance.now();
			if (now >= deadline) break;
			if (this.#reads > 0) {
				await new Promise<void>((resolve) => {
					const wake = () => {
						clearTimeout(timer);
						resolve();
					};
					// Given up on: no longer waiting to be woken (readers that never stop would pile these up).
					const timer = setTimeout(() => {
						this.#wakeWriters.splice(this.#wakeWriters.indexOf(wake), 1);
						resolve();
					}, deadline - now);
					this.#wakeWriters.push(wake);
				});
				continue;
			}
			const quietFor = now - this.#lastReadEnd;
			if (quietFor >= this.graceMs) break;
			await new Promise((resolve) => setTimeout(resolve, Math.min(this.graceMs - quietFor, deadline - now)));
		}
		return run();
	}
}

/** Runs at most `limit` tasks at once; the others wait their turn, first come first served. */
export class ConcurrencyLimit {
	#running = 0;
	readonly #waiting: (() => void)[] = [];

	constructor(readonly limit: number) {
		if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`limit must be a positive integer, got ${limit}`);
	}

	async run<T>(task: () => Promise<T>): Promise<T> {
		if (this.#running >= this.limit) await new Promise<void>((resolve) => this.#waiting.push(resolve));
		else this.#running++;
		try {
			return await task();
		} finally {
			// The turn passes straight to the next waiter, so the count never dips and lets a newcomer jump the queue.
			const next = this.#waiting.shift();
			if (next) next();
			else this.#running--;
		}
	}
}

/**
 * Answers for finished runs, which change only if late telemetry or a re-registration arrives
 * (both invalidate). A dashboard reload or a compare view then costs nothing; running runs are
 * always computed fresh.
 */
export class ViewCache {
	readonly #entries = new Map<string, { runId: string; value: unknown }>();
	/** Answers being computed, per run: an invalidation meanwhile makes them stale. */
	readonly #computing = new Map<string, Set<{ stale: boolean }>>();

	constructor(private readonly capacity = 64) {}

	get<T>(runId: string, key: string): T | undefined {
		const k = `${runId}\u0000${key}`;
		const entry = this.#entries.get(k);
		if (!entry) return undefined;
		this.#entries.delete(k);
		this.#entries.set(k, entry);
		return entry.value as T;
	}

	#set(runId: string, key: string, value: unknown): void {
		const k = `${runId}\u0000${key}`;
		this.#entries.delete(k);
		this.#entries.set(k, { runId, value });
		while (this.#entries.size > this.capacity) this.#entries.delete(this.#entries.keys().next().value!);
	}

	/**
	 * Computes an answer and keeps it when `keep` says so, unless the run's data changed while it
	 * was computed: an answer that began before new rows reached the store may lack them.
	 */
	async remember<T>(runId: string, key: string, compute: () => Promise<T>, keep: (value: T) => Promise<boolean>): Promise<T> {
		const ticket = { stale: false };
		let tickets = this.#computing.get(runId);
		if (!tickets) this.#computing.set(runId, (tickets = new Set()));
		tickets.add(ticket);
		try {
			const value = await compute();
			if ((await keep(value)) && !ticket.stale) this.#set(runId, key, value);
			return value;
		} finally {
			tickets.delete(ticket);
			if (tickets.size === 0) this.#computing.delete(runId);
		}
	}

	invalidate(runId: string): void {
		for (const ticket of this.#computing.get(runId) ?? []) ticket.stale = true;
		for (const [k, entry] of this.#entries) if (entry.runId === runId) this.#entries.delete(k);
	}

	/** Forgets every answer (rows of unknown runs reached the store). */
	clear(): void {
		for (const tickets of this.#computing.values()) for (const ticket of tickets) ticket.stale = true;
		this.#entries.clear();
	}

	get size(): number {
		return this.#entries.size;
	}
}

/**
 * Answers for finished runs, which change only if late telemetry or a re-registration arrives
 * (both invalidate). A dashboard reload or a compare view then costs nothing; running runs are
 * always computed fresh.
 */
export class ViewCache {
	readonly #entries = new Map<string, { runId: string; value: unknown }>();

	constructor(private readonly capacity = 64) {}

	get<T>(runId: string, key: string): T | undefined {
		const k = `${runId}\u0000${key}`;
		const entry = this.#entries.get(k);
		if (!entry) return undefined;
		this.#entries.delete(k);
		this.#entries.set(k, entry);
		return entry.value as T;
	}

	set(runId: string, key: string, value: unknown): void {
		const k = `${runId}\u0000${key}`;
		this.#entries.delete(k);
		this.#entries.set(k, { runId, value });
		while (this.#entries.size > this.capacity) this.#entries.delete(this.#entries.keys().next().value!);
	}

	invalidate(runId: string): void {
		for (const [k, entry] of this.#entries) if (entry.runId === runId) this.#entries.delete(k);
	}

	get size(): number {
		return this.#entries.size;
	}
}

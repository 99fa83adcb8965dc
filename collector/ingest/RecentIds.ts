/** A bounded set that forgets its oldest ids first: the batch ids seen recently. */
export class RecentIds {
	readonly #ids = new Set<string>();

	constructor(private readonly capacity: number) {}

	has(id: string): boolean {
		return this.#ids.has(id);
	}

	add(id: string): void {
		this.#ids.add(id);
		if (this.#ids.size > this.capacity) {
			const oldest = this.#ids.values().next().value;
			if (oldest !== undefined) this.#ids.delete(oldest);
		}
	}

	get size(): number {
		return this.#ids.size;
	}
}

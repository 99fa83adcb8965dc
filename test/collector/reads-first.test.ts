/** Reads before writes on a one-statement-at-a-time engine: the order, and the bound on a write's wait. */
import { describe, expect, it } from 'vitest';
import { ReadsFirst } from '../../collector/store/ReadsFirst.ts';

function deferred(): { promise: Promise<void>; resolve: () => void } {
	let resolve!: () => void;
	const promise = new Promise<void>((r) => (resolve = r));
	return { promise, resolve };
}

describe('ReadsFirst', () => {
	it('holds a write while a read runs, and runs it once the reads are done', async () => {
		const turns = new ReadsFirst(0, 60_000);
		const order: string[] = [];
		const readGate = deferred();
		const read = turns.read(async () => {
			await readGate.promise;
			order.push('read');
		});
		const write = turns.write(async () => {
			order.push('write');
		});
		// The write is queued behind a read that has not finished.
		await new Promise((r) => setImmediate(r));
		expect(order).toEqual([]);
		readGate.resolve();
		await Promise.all([read, write]);
		expect(order).toEqual(['read', 'write']);
	});

	it('runs a write at once when nothing reads', async () => {
		const turns = new ReadsFirst(0, 60_000);
		await expect(turns.write(async () => 'written')).resolves.toBe('written');
	});

	it('does not let readers that never stop starve a write', async () => {
		const turns = new ReadsFirst(0, 20);
		const never = deferred();
		const endless = turns.read(() => never.promise);
		// Anchored on the write's own outcome, not on a clock: it runs although the read never ends.
		await expect(turns.write(async () => 'written anyway')).resolves.toBe('written anyway');
		never.resolve();
		await endless;
	});

	it('passes a read or write failure to its caller and keeps serving', async () => {
		const turns = new ReadsFirst(0, 60_000);
		await expect(turns.read(async () => Promise.reject(new Error('query failed')))).rejects.toThrow('query failed');
		await expect(turns.write(async () => 'next')).resolves.toBe('next');
	});
});

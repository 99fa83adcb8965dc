/**
 * A room's audience spread over the SFU's workers: viewers are placed on the least-loaded
 * worker, the room's producers are piped there once, every viewer receives the media, and
 * what is placed where is accounted on the right worker until the viewers leave.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BotBench } from '../../loadgen/BotBench.ts';
import type { LiteDriver } from '../../loadgen/lite/LiteDriver.ts';
import { Scenario } from '../../protocol/scenario.ts';
import { waitFor } from '../helpers/signaling.ts';

const [sender, viewer] = Scenario.parse({
	name: 'audience',
	participants: [
		{ name: 'sender', bot: 'lite', count: 1, publish: '180p15', subscribe: 'none' },
		{ name: 'viewer', bot: 'viewer', count: 1 },
	],
	schedule: { executor: 'constant-vus', vus: 1, duration: '1s' },
}).participants;

const viewerCount = 6;
let bench: BotBench;
let senders: LiteDriver;
let viewers: LiteDriver;
const media = new Map<string, Set<string>>();
const failures = new Map<string, string>();

beforeAll(async () => {
	bench = await BotBench.start({ sfu: { workers: 2 }, flushIntervalMs: 500, log: () => undefined });
	const onEvent = (slot: { peerId: string }, event: { type: string; mediaKind?: string }) => {
		if (event.type === 'fail') failures.set(slot.peerId, (event as { reason?: string }).reason ?? '');
		if (event.type !== 'first-media' || !event.mediaKind) return;
		media.set(slot.peerId, (media.get(slot.peerId) ?? new Set()).add(event.mediaKind));
	};
	senders = bench.driver('audience-test', { botsPerProcess: 1, onEvent });
	viewers = bench.driver('audience-test', { botsPerProcess: 50, viewersPerProcess: 50, onEvent });
}, 60_000);

afterAll(async () => {
	await viewers?.close();
	await senders?.close();
	await bench?.close();
});

describe("a room's audience over two workers", () => {
	it('places viewers on both workers, pipes the media to the other once, and every viewer receives audio and video', async () => {
		await senders.join({ index: 0, roomId: 'stage', group: sender!, peerId: 'sender' });
		await waitFor(() => bench.sfu.rooms.get('stage')?.peers.get('sender')?.producers.size === 2, 'the sender to produce audio and video', 60_000);
		const room = bench.sfu.rooms.get('stage')!;
		const pipeConsumers: string[] = [];
		let pipeTransports = 0;
		room.router.observer.on('newtransport', (transport) => {
			if (transport.type !== 'pipe') return;
			pipeTransports++;
			transport.observer.on('newconsumer', (consumer) => pipeConsumers.push(consumer.producerId));
		});
		const slots = [...Array(viewerCount).keys()].map((i) => ({ index: 1 + i, roomId: 'stage', group: viewer!, peerId: `viewer-${i}` }));
		for (const slot of slots) await viewers.join(slot);
		await waitFor(
			() => [...Array(viewerCount).keys()].every((i) => media.get(`viewer-${i}`)?.size === 2),
			'audio and video at every viewer',
			120_000,
		);

		// The sender went to the room's worker; the viewers split over both, the other one holding at least two.
		const placed = [...room.peers.values()].filter((p) => p.botKind === 'viewer').map((p) => room.slotOf(p).index);
		expect(placed).toHaveLength(viewerCount);
		const elsewhere = placed.filter((index) => index !== room.slot.index).length;
		expect(elsewhere).toBeGreaterThanOrEqual(2);
		expect(elsewhere).toBeLessThan(viewerCount);

		// Consumers are counted on the worker that forwards them: two per viewer.
		const load = await bench.sfu.workerLoad();
		const byWorker = new Map(load.map((w) => [w.worker, w]));
		expect(byWorker.get(room.slot.index)!.producers).toBe(2);
		expect(byWorker.get(room.slot.index)!.consumers).toBe(2 * (viewerCount - elsewhere));
		const other = load.find((w) => w.worker !== room.slot.index)!;
		expect(other.consumers).toBe(2 * elsewhere);
		expect(other.peers).toBe(elsewhere);

		// Each producer was piped to the other worker once, however many viewers there consume it.
		expect(pipeTransports).toBe(1);
		expect(pipeConsumers.sort()).toEqual([...room.peers.get('sender')!.producers.keys()].sort());

		// Leaving gives the places back on the worker each viewer was on.
		for (const slot of slots) await viewers.leave(slot);
		await waitFor(() => [...room.peers.values()].every((p) => p.botKind !== 'viewer'), 'the viewers to leave', 30_000);
		const after = await bench.sfu.workerLoad();
		expect(after.find((w) => w.worker !== room.slot.index)!.peers).toBe(0);
		expect(after.find((w) => w.worker === room.slot.index)!.peers).toBe(1);
	});

	it("loses only the viewers on a worker that dies: they are told to join again, the room and the others go on", async () => {
		const room = bench.sfu.rooms.get('stage')!;
		const slots = [...Array(viewerCount).keys()].map((i) => ({ index: 20 + i, roomId: 'stage', group: viewer!, peerId: `late-${i}` }));
		for (const slot of slots) await viewers.join(slot);
		await waitFor(() => slots.every((s) => media.get(s.peerId)?.size === 2), 'audio and video at every late viewer', 120_000);
		const audienceSlot = bench.sfu.pool.slots.find((s) => s !== room.slot)!;
		const there = [...room.peers.values()].filter((p) => room.slotOf(p) === audienceSlot).map((p) => p.id);
		expect(there.length).toBeGreaterThanOrEqual(2);

		process.kill(audienceSlot.worker.pid, 'SIGKILL');
		await waitFor(() => there.every((peerId) => failures.has(peerId)), 'the viewers on the dead worker to be told', 30_000);
		for (const peerId of there) expect(failures.get(peerId)).toMatch(/room reset: media worker died/);
		expect(room.closed).toBe(false);
		expect([...room.peers.keys()].sort()).toEqual(['sender', ...slots.map((s) => s.peerId).filter((p) => !there.includes(p))].sort());
		const survivors = slots.filter((s) => !there.includes(s.peerId));
		expect(survivors.every((s) => !failures.has(s.peerId))).toBe(true);
		// The worker's slot is replaced; nothing of the room is counted on it.
		await waitFor(() => !audienceSlot.worker.closed, 'the worker to be replaced', 30_000);
		expect(audienceSlot.peers).toBe(0);
	});
});

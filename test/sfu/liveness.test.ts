import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSfu, type Sfu } from '../../sfu/index.ts';
import { fakeParticipant, RawSocket, waitFor } from '../helpers/signaling.ts';

let sfu: Sfu;

beforeAll(async () => {
	sfu = await startSfu({ port: 0, workers: 2, heartbeatMs: 2000, logLevel: 'none' });
});

afterAll(async () => {
	await sfu?.close();
});

describe('room placement', () => {
	it('spreads rooms created at the same moment over the workers (a room counts on its worker before its router exists)', async () => {
		// Connections first, then four joins of four new rooms in the same instant.
		const sockets = await Promise.all([1, 2, 3, 4].map(() => RawSocket.open(sfu.wsUrl)));
		const replies = await Promise.all(sockets.map((ws, i) => ws.request(1, 'join', { roomId: `burst-${i}`, peerId: `p-${i}` })));
		expect(replies.every((r) => r.ok === true)).toBe(true);
		const perWorker = new Map<number, number>();
		for (const room of sfu.rooms.values()) perWorker.set(room.slot.index, (perWorker.get(room.slot.index) ?? 0) + 1);
		expect([...perWorker.values()].sort()).toEqual([2, 2]);
		for (const ws of sockets) ws.close();
		await waitFor(() => sfu.rooms.size === 0, 'the rooms to close');
		expect(sfu.pool.slots.map((s) => s.rooms)).toEqual([0, 0]);
	});
});

describe('signaling liveness', () => {
	it('closes a peer whose process stopped (socket open, nothing answers) and tells the others', async () => {
		const watcher = await fakeParticipant(sfu.wsUrl, 'liveness', 'watcher', { publish: false });
		const left: string[] = [];
		watcher.call.on('peerleft', (peerId) => left.push(peerId));
		const child = spawn(process.execPath, ['--import', 'tsx', 'test/fixtures/processes/signaling-peer.ts', sfu.wsUrl, 'liveness', 'frozen'], {
			stdio: ['ignore', 'pipe', 'inherit'],
		});
		try {
			await new Promise<void>((resolve, reject) => {
				child.stdout.on('data', (data: Buffer) => String(data).includes('joined') && resolve());
				child.once('exit', (code) => reject(new Error(`the peer process exited (${code}) before joining`)));
			});
			expect(sfu.rooms.get('liveness')?.peers.has('frozen')).toBe(true);
			process.kill(child.pid!, 'SIGSTOP');
			await waitFor(() => left.includes('frozen'), 'the stopped peer to be closed and announced', 30_000);
			expect(sfu.rooms.get('liveness')?.peers.has('frozen')).toBe(false);
			// A live peer answers its pings and stays.
			expect(sfu.rooms.get('liveness')?.peers.has('watcher')).toBe(true);
		} finally {
			child.kill('SIGKILL');
			await watcher.call.leave();
		}
	});
});

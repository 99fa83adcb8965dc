import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSfu, type Sfu } from '../../sfu/index.ts';
import { fakeParticipant, RawSocket, waitFor } from '../helpers/signaling.ts';

let sfu: Sfu;

beforeAll(async () => {
	sfu = await startSfu({
		port: 0,
		workers: 2,
		maxRooms: 3,
		maxPeersPerRoom: 3,
		maxMessageBytes: 4096,
		logLevel: 'none',
	});
});

afterAll(async () => {
	await sfu?.close();
});

describe('signaling error replies keep the connection usable', () => {
	it('answers malformed JSON, unknown methods, bad fields and out-of-order requests, then still serves a join', async () => {
		const ws = await RawSocket.open(sfu.wsUrl);

		ws.send('{ this is not json');
		const badJson = await ws.next((m) => m.ok === false);
		expect(badJson).toMatchObject({ id: null, ok: false, error: { code: 'bad_json' } });

		ws.send(JSON.stringify({ method: 'join' }));
		const noId = await ws.next((m) => m.ok === false);
		expect(noId).toMatchObject({ ok: false, error: { code: 'bad_request', path: 'id' } });

		expect(await ws.request(1, 'fly', {})).toMatchObject({
			id: 1,
			ok: false,
			error: { code: 'unknown_method', message: 'unknown method "fly"' },
		});

		expect(await ws.request(2, 'join', { roomId: 'bad room!' })).toMatchObject({
			id: 2,
			ok: false,
			error: { code: 'bad_request', path: 'data.roomId' },
		});

		expect(await ws.request(3, 'createWebRtcTransport', { direction: 'send' })).toMatchObject({
			id: 3,
			ok: false,
			error: { code: 'not_joined' },
		});

		expect(await ws.request(4, 'createWebRtcTransport', { direction: 'sideways' })).toMatchObject({
			id: 4,
			ok: false,
			error: { code: 'bad_request', path: 'data.direction' },
		});

		const joined = await ws.request(5, 'join', { roomId: 'errors', peerId: 'p1' });
		expect(joined).toMatchObject({ id: 5, ok: true, data: { peerId: 'p1', roomId: 'errors', peers: [] } });

		expect(await ws.request(6, 'join', { roomId: 'errors' })).toMatchObject({
			error: { code: 'already_joined' },
		});
		expect(await ws.request(7, 'connectWebRtcTransport', {
			transportId: 'nope',
			dtlsParameters: { fingerprints: [{ algorithm: 'sha-256', value: 'AA' }] },
		})).toMatchObject({ error: { code: 'not_found' } });
		expect(await ws.request(8, 'consume', { transportId: 'nope', producerId: 'nope' })).toMatchObject({
			error: { code: 'not_found', path: 'transportId' },
		});
		const transport = await ws.request(9, 'createWebRtcTransport', { direction: 'send' });
		expect(transport).toMatchObject({ ok: true });
		const transportId = (transport.data as { transportId: string }).transportId;
		// Well-formed but unusable RTP parameters are refused by mediasoup: a media_error reply.
		expect(await ws.request(10, 'produce', {
			transportId,
			kind: 'audio',
			rtpParameters: { codecs: [{ mimeType: 'audio/unknowncodec', payloadType: 100, clockRate: 8000 }] },
		})).toMatchObject({ ok: false, error: { code: 'media_error' } });
		expect(await ws.request(11, 'leave')).toMatchObject({ id: 11, ok: true });
		ws.close();
	});

	it('refuses oversize messages with an error reply, and closes on frames far beyond the limit', async () => {
		const ws = await RawSocket.open(sfu.wsUrl);
		ws.send(JSON.stringify({ id: 1, method: 'join', data: { roomId: 'big', displayName: 'x'.repeat(6000) } }));
		expect(await ws.next((m) => m.ok === false)).toMatchObject({ error: { code: 'message_too_large' } });
		expect(await ws.request(2, 'join', { roomId: 'big' })).toMatchObject({ ok: true });
		ws.send('x'.repeat(4096 * 4 + 1));
		expect(await ws.closed()).toBe(1009);
	});

	it('gives limit_reached for a full room and for too many rooms', async () => {
		const sockets = await Promise.all([1, 2, 3, 4].map(() => RawSocket.open(sfu.wsUrl)));
		for (const [i, ws] of sockets.slice(0, 3).entries()) {
			expect(await ws.request(1, 'join', { roomId: 'full', peerId: `p${i}` })).toMatchObject({ ok: true });
		}
		const refused = await sockets[3]!.request(1, 'join', { roomId: 'full', peerId: 'p3' });
		expect(refused).toMatchObject({ ok: false, error: { code: 'limit_reached' } });
		expect(String((refused.error as { message: string }).message)).toContain('maxPeersPerRoom=3');

		const roomSockets = await Promise.all([1, 2, 3].map(() => RawSocket.open(sfu.wsUrl)));
		const replies = [];
		for (const [i, ws] of roomSockets.entries()) replies.push(await ws.request(1, 'join', { roomId: `room-${i}` }));
		// 'full' plus two more rooms reach maxRooms=3: the third new room is refused.
		expect(replies.map((r) => r.ok)).toEqual([true, true, false]);
		expect(replies[2]).toMatchObject({ error: { code: 'limit_reached' } });
		for (const ws of [...sockets, ...roomSockets]) ws.close();
		await waitFor(() => sfu.rooms.size === 0, 'rooms to empty');
	});
});

describe('room lifecycle', () => {
	it('tells peers of joins, producers and leaves; a disconnect closes the peer\'s media', async () => {
		const alice = await fakeParticipant(sfu.wsUrl, 'life', 'alice');
		const bob = await fakeParticipant(sfu.wsUrl, 'life', 'bob');
		await waitFor(() => alice.call.consumers.size === 2 && bob.call.consumers.size === 2, 'both to consume audio+video');
		expect([...bob.call.consumers.values()].map((c) => c.peerId)).toEqual(['alice', 'alice']);
		expect(sfu.totals()).toMatchObject({ rooms: 1, peers: 2, producers: 4, consumers: 4, transports: 4 });

		const closedAtAlice: string[] = [];
		alice.call.on('consumerclosed', (id) => closedAtAlice.push(id));
		const left = new Promise<string>((resolve) => alice.call.once('peerleft', resolve));
		// Drop bob's socket without a leave: the server must clean up after him.
		bob.signaling.disconnect();
		expect(await left).toBe('bob');
		await waitFor(() => closedAtAlice.length === 2, 'alice to lose both consumers of bob');
		await waitFor(() => sfu.totals().peers === 1, 'bob to be removed');
		expect(sfu.totals()).toMatchObject({ peers: 1, producers: 2, consumers: 0, transports: 2 });
		await alice.call.leave();
		await waitFor(() => sfu.rooms.size === 0, 'the empty room to close');
	});

	it('counts what it holds in all its rooms, or in the rooms named only', async () => {
		const alice = await fakeParticipant(sfu.wsUrl, 'count-a', 'alice');
		const bob = await fakeParticipant(sfu.wsUrl, 'count-a', 'bob');
		const carol = await fakeParticipant(sfu.wsUrl, 'count-b', 'carol');
		await waitFor(() => sfu.totals().consumers === 4 && sfu.totals().producers === 6, 'the pair to consume each other, carol to publish alone');
		expect(sfu.totals()).toMatchObject({ rooms: 2, peers: 3, producers: 6, consumers: 4, transports: 6 });
		const pair = sfu.totals(new Set(['count-a']));
		expect(pair).toMatchObject({ rooms: 1, peers: 2, producers: 4, consumers: 4, transports: 4 });
		// Carol receives nothing: whatever the SFU forwards, it forwards in the pair's room.
		expect(pair.forwardingConsumers).toBe(sfu.totals().forwardingConsumers);
		expect(sfu.totals(new Set(['count-b']))).toMatchObject({ rooms: 1, peers: 1, producers: 2, consumers: 0, forwardingConsumers: 0 });
		expect(sfu.totals(new Set(['no-such-room']))).toMatchObject({ rooms: 0, peers: 0, consumers: 0 });
		for (const p of [alice, bob, carol]) await p.call.leave();
		await waitFor(() => sfu.rooms.size === 0, 'the rooms to close');
	});

	it('places new rooms on the least-loaded worker', async () => {
		const a = await fakeParticipant(sfu.wsUrl, 'spread-a', 'a', { publish: false });
		const b = await fakeParticipant(sfu.wsUrl, 'spread-b', 'b', { publish: false });
		const workers = new Set([...sfu.rooms.values()].map((r) => r.slot.index));
		expect(workers.size).toBe(2);
		await a.call.leave();
		await b.call.leave();
	});
});

describe('status endpoints', () => {
	it('serves /healthz, Prometheus /metrics and the /v1/rooms snapshot', async () => {
		const p = await fakeParticipant(sfu.wsUrl, 'status', 'watcher');
		const health = await fetch(`${sfu.url}/healthz`);
		expect(health.status).toBe(200);
		expect(await health.json()).toMatchObject({ ok: true, workers: 2 });

		const metrics = await (await fetch(`${sfu.url}/metrics`)).text();
		expect(metrics).toMatch(/callswarm_sfu_entities\{entity="rooms"\} 1/);
		expect(metrics).toMatch(/callswarm_sfu_entities\{entity="producers"\} 2/);
		expect(metrics).toMatch(/callswarm_sfu_worker_cpu_seconds_total\{worker="0",pid="\d+"\} [\d.]+/);
		expect(metrics).toMatch(/callswarm_sfu_worker_max_rss_bytes\{worker="1",pid="\d+"\} [1-9]\d+/);

		const rooms = (await (await fetch(`${sfu.url}/v1/rooms`)).json()) as { rooms: Array<Record<string, unknown>> };
		expect(rooms.rooms).toHaveLength(1);
		expect(rooms.rooms[0]).toMatchObject({ roomId: 'status', peers: [{ peerId: 'watcher', producers: 2 }] });
		await p.call.leave();
	});

	it('serves the bot page bundle', async () => {
		const page = await fetch(`${sfu.botPageUrl}`);
		expect(page.status).toBe(200);
		expect(await page.text()).toContain('bot.js');
		const script = await fetch(`${sfu.botPageUrl}bot.js`);
		expect(script.status).toBe(200);
		expect((await script.text()).length).toBeGreaterThan(100_000);
	});
});

describe('worker death', () => {
	it('replaces a killed worker and resets its rooms; peers rejoin and media state is rebuilt', async () => {
		const alice = await fakeParticipant(sfu.wsUrl, 'crash', 'alice', { rejoinOnReset: true });
		const bob = await fakeParticipant(sfu.wsUrl, 'crash', 'bob', { rejoinOnReset: true });
		await waitFor(() => alice.call.consumers.size === 2 && bob.call.consumers.size === 2, 'consumers before crash');
		const room = sfu.rooms.get('crash')!;
		const slot = room.slot;
		const deadPid = slot.worker.pid;
		const resets: string[] = [];
		alice.call.on('reset', (reason) => resets.push(reason));
		const replaced = new Promise((resolve) => sfu.once('workerreplaced', resolve));

		process.kill(deadPid, 'SIGKILL');

		await replaced;
		expect(slot.worker.pid).not.toBe(deadPid);
		await waitFor(() => resets.length === 1, 'alice to get roomReset');
		expect(resets[0]).toBe('media worker died');
		await waitFor(
			() => alice.call.state === 'joined' && bob.call.state === 'joined' && alice.call.consumers.size === 2 && bob.call.consumers.size === 2,
			'both peers to rejoin and consume again',
		);
		const newRoom = sfu.rooms.get('crash')!;
		expect(newRoom).not.toBe(room);
		expect(newRoom.slot.worker.closed).toBe(false);
		expect(sfu.totals()).toMatchObject({ peers: 2, producers: 4, consumers: 4 });
		await alice.call.leave();
		await bob.call.leave();
	});
});

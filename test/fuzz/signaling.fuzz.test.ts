/**
 * Seeded fuzzing of the SFU's WebSocket signaling: mutated versions of every request a client
 * makes (join, transports, produce, consume, ...), truncated JSON and binary frames. Every
 * request gets a typed reply (never "internal"), no mediasoup worker dies, and the SFU still
 * carries a real call afterwards.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSfu, type Sfu } from '../../sfu/index.ts';
import { damagedText, mutate, random, type Json } from '../helpers/fuzz.ts';
import { fakeParticipant, RawSocket, waitFor } from '../helpers/signaling.ts';

const seed = Number(process.env.CALLSWARM_FUZZ_SEED ?? 20261128);
const messages = 1200;
let sfu: Sfu;
const deaths: string[] = [];

beforeAll(async () => {
	sfu = await startSfu({ port: 0, workers: 2, logLevel: 'none', maxMessageBytes: 64 * 1024 });
	sfu.on('workerdied', ({ worker, error }) => deaths.push(`worker ${worker}: ${error.message}`));
});

afterAll(async () => {
	await sfu?.close();
});

/**
 * A joined connection with a send and a receive transport, and the real requests a publishing
 * participant makes on it: what the fuzzer mutates, so mutations reach mediasoup itself.
 */
async function session(n: number): Promise<{ socket: RawSocket; templates: Array<{ method: string; data: Json }> }> {
	const socket = await RawSocket.open(sfu.wsUrl);
	const joined = (await socket.request('j', 'join', { roomId: `fuzz-${n % 3}`, peerId: `fuzzer-${n}` })).data as { routerRtpCapabilities: Json };
	await socket.request('c', 'setRtpCapabilities', { rtpCapabilities: joined.routerRtpCapabilities });
	const send = (await socket.request('s', 'createWebRtcTransport', { direction: 'send' })).data as { transportId: string };
	const recv = (await socket.request('r', 'createWebRtcTransport', { direction: 'recv' })).data as { transportId: string };
	socket.messages.length = 0;
	const rtpParameters: Json = {
		mid: '0',
		codecs: [{ mimeType: 'audio/opus', payloadType: 111, clockRate: 48000, channels: 2, parameters: { useinbandfec: 1 }, rtcpFeedback: [{ type: 'transport-cc' }] }],
		headerExtensions: [{ uri: 'urn:ietf:params:rtp-hdrext:sdes:mid', id: 1 }],
		encodings: [{ ssrc: 1000 + n, dtx: false }],
		rtcp: { cname: `fuzz-${n}`, reducedSize: true },
	};
	const video: Json = {
		mid: '1',
		codecs: [
			{ mimeType: 'video/VP8', payloadType: 96, clockRate: 90000, rtcpFeedback: [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }] },
			{ mimeType: 'video/rtx', payloadType: 97, clockRate: 90000, parameters: { apt: 96 } },
		],
		encodings: [
			{ rid: 'r0', scalabilityMode: 'L1T3', maxBitrate: 100000 },
			{ rid: 'r1', scalabilityMode: 'L1T3', maxBitrate: 300000 },
		],
		headerExtensions: [{ uri: 'urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id', id: 4 }],
		rtcp: { cname: `fuzz-${n}` },
	};
	return {
		socket,
		templates: [
			{ method: 'produce', data: { transportId: send.transportId, kind: 'audio', rtpParameters, paused: false, appData: { source: 'mic' } } },
			{ method: 'produce', data: { transportId: send.transportId, kind: 'video', rtpParameters: video } },
			{ method: 'connectWebRtcTransport', data: { transportId: recv.transportId, dtlsParameters: { role: 'client', fingerprints: [{ algorithm: 'sha-256', value: 'AB:CD:EF' }] } } },
			{ method: 'consume', data: { transportId: recv.transportId, producerId: 'nope' } },
			{ method: 'restartIce', data: { transportId: send.transportId } },
			{ method: 'setRtpCapabilities', data: { rtpCapabilities: joined.routerRtpCapabilities } },
			{ method: 'createWebRtcTransport', data: { direction: 'recv' } },
			{ method: 'pauseConsumer', data: { consumerId: 'x' } },
			{ method: 'closeProducer', data: { producerId: 'y' } },
			{ method: 'join', data: { roomId: 'elsewhere', peerId: 'p', displayName: 'fuzz', botKind: 'app' } },
			{ method: 'leave', data: {} },
		],
	};
}

describe(`signaling fuzzing (seed ${seed})`, () => {
	it(`gives ${messages} mutated messages typed replies, keeps every worker alive, and still carries a call`, async () => {
		const rand = random(seed);
		const codes = new Map<string, number>();
		let sessions = 0;
		let { socket, templates } = await session(sessions++);
		let answered = 0;
		for (let i = 0; i < messages; i++) {
			// A fresh session now and then, and after a leave or a close: most messages meet a joined peer.
			if (socket.closeCode !== undefined || i % 100 === 99) {
				socket.close();
				({ socket, templates } = await session(sessions++));
			}
			const template = templates[Math.floor(rand() * templates.length)]!;
			const envelope: Json = { id: i, method: template.method, data: template.data };
			const r = rand();
			if (r < 0.1) {
				socket.send(damagedText(envelope, rand));
			} else if (r < 0.13) {
				socket.ws.send(Buffer.from([0, 1, 2, 3, 255]));
			} else {
				const mutated = mutate(envelope, rand);
				// Keep most ids intact, so the reply can be matched to its request.
				if (rand() < 0.8 && mutated && typeof mutated === 'object' && !Array.isArray(mutated)) mutated.id = i;
				socket.send(JSON.stringify(mutated));
			}
			const reply = await socket.next(() => true, 10_000).catch(() => undefined);
			if (!reply) {
				expect(socket.closeCode, `message ${i} got no reply and the socket is open`).toBeDefined();
				continue;
			}
			answered++;
			const code = reply.ok === false ? String((reply.error as { code: string }).code) : 'ok';
			codes.set(code, (codes.get(code) ?? 0) + 1);
			// Notifications to this peer (it may have joined) are not replies; drop them.
			socket.messages.length = 0;
		}
		socket.close();
		if (process.env.CALLSWARM_FUZZ_VERBOSE) console.log(Object.fromEntries(codes));
		expect(codes.get('internal') ?? 0, JSON.stringify([...codes])).toBe(0);
		expect(answered).toBeGreaterThan(messages * 0.9);
		expect(deaths).toEqual([]);
		expect(sfu.pool.slots.every((s) => !s.worker.closed)).toBe(true);

		// Still a working SFU: two participants publish and receive each other.
		const alice = await fakeParticipant(sfu.wsUrl, 'after-fuzz', 'alice');
		const bob = await fakeParticipant(sfu.wsUrl, 'after-fuzz', 'bob');
		await waitFor(() => alice.call.consumers.size === 2 && bob.call.consumers.size === 2, 'both to consume the other');
		await alice.call.leave();
		await bob.call.leave();
		expect((await fetch(`${sfu.url}/healthz`)).status).toBe(200);
	});
});

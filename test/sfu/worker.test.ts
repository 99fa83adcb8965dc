import { spawnSync } from 'node:child_process';
import dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { afterAll, describe, expect, it } from 'vitest';
import { loadMediasoup, resolveWorkerBin, type types } from '../../sfu/mediasoup.ts';
import { mediaCodecs } from '../../sfu/options.ts';
import { waitFor } from '../helpers/signaling.ts';

const workers: types.Worker[] = [];
afterAll(() => {
	for (const w of workers) w.close();
});

function rtp(seq: number, ssrc: number, payloadType: number): Buffer {
	const packet = Buffer.alloc(12 + 80, 0xab);
	packet[0] = 0x80;
	packet[1] = payloadType;
	packet.writeUInt16BE(seq, 2);
	packet.writeUInt32BE(seq * 960, 4);
	packet.writeUInt32BE(ssrc, 8);
	return packet;
}

/**
 * Whether the worker must send through io_uring here: on Linux 6 or later (mediasoup's own bar)
 * unless a sysctl turns io_uring off. Undefined under a seccomp filter: a container's profile may
 * forbid io_uring (some runtimes' default profiles do), and the worker then falls back by itself.
 */
function ioUringExpected(): boolean | undefined {
	if (Number(os.release().split('.')[0]) < 6) return false;
	if (/^Seccomp:\s*2$/m.test(readFileSync('/proc/self/status', 'utf8'))) return undefined;
	try {
		return readFileSync('/proc/sys/kernel/io_uring_disabled', 'utf8').trim() === '0';
	} catch {
		return true; // kernels before 6.6 have no such switch
	}
}

describe('the offline-built mediasoup worker', () => {
	it('is the 3.19.3 worker and starts (exit 41 without MEDIASOUP_VERSION means it linked and ran)', async () => {
		const bin = resolveWorkerBin();
		const result = spawnSync(bin, [], { env: {} });
		expect(result.status).toBe(41);
		expect((await loadMediasoup()).version).toBe('3.19.3');
	});

	it('carries its own libsrtp and liburing (Debian\'s shared libsrtp2 does its ciphers through NSS, far slower per packet; its liburing is too old for io_uring sends)', () => {
		const linked = spawnSync('ldd', [resolveWorkerBin()], { encoding: 'utf8' });
		expect(linked.status).toBe(0);
		expect(linked.stdout).not.toMatch(/libsrtp2|libnss3|liburing/);
	});

	it('forwards RTP through an SRTP pipe between two workers (libsrtp2 protect/unprotect shim), sending through io_uring where the kernel allows', async () => {
		const mediasoup = await loadMediasoup();
		const [w1, w2] = await Promise.all([mediasoup.createWorker({ logLevel: 'none' }), mediasoup.createWorker({ logLevel: 'none' })]);
		workers.push(w1, w2);
		const codecs = mediaCodecs as unknown as types.RtpCodecCapability[];
		const [r1, r2] = await Promise.all([w1.createRouter({ mediaCodecs: codecs }), w2.createRouter({ mediaCodecs: codecs })]);
		const input = await r1.createPlainTransport({ listenInfo: { protocol: 'udp', ip: '127.0.0.1' }, rtcpMux: true, comedia: true });
		const ssrc = 11_111_111;
		const producer = await input.produce({
			kind: 'audio',
			rtpParameters: {
				codecs: [{ mimeType: 'audio/opus', payloadType: 100, clockRate: 48000, channels: 2 }],
				encodings: [{ ssrc }],
			},
		});
		await r1.pipeToRouter({ producerId: producer.id, router: r2, enableSrtp: true });

		const sink = dgram.createSocket('udp4');
		let received = 0;
		sink.on('message', (m) => {
			if ((m[1]! & 0x7f) < 72 || (m[1]! & 0x7f) > 79) received++;
		});
		await new Promise<void>((resolve) => sink.bind(0, '127.0.0.1', resolve));
		const output = await r2.createPlainTransport({ listenInfo: { protocol: 'udp', ip: '127.0.0.1' }, rtcpMux: true, comedia: false });
		await output.connect({ ip: '127.0.0.1', port: sink.address().port });
		await output.consume({ producerId: producer.id, rtpCapabilities: r2.rtpCapabilities });

		const source = dgram.createSocket('udp4');
		for (let seq = 1; seq <= 50; seq++) {
			source.send(rtp(seq, ssrc, 100), input.tuple.localPort, '127.0.0.1');
			await new Promise((r) => setTimeout(r, 5));
		}
		await waitFor(() => received >= 45, 'RTP to come out of the second worker');
		source.close();
		sink.close();
		// The worker built with liburing sends what it forwards as io_uring submissions; on a kernel
		// without io_uring it falls back to plain sends and reports no liburing at all.
		const expected = ioUringExpected();
		for (const worker of [w1, w2]) {
			const { liburing } = await worker.dump();
			if (expected !== undefined) expect(liburing !== undefined).toBe(expected);
			if (liburing) expect(liburing.sqeProcessCount).toBeGreaterThan(0);
		}
	});
});

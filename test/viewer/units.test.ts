/** The viewer's header arithmetic: RFC 3550 loss and jitter, and the RTCP it writes and reads. */
import { describe, expect, it } from 'vitest';
import { ReceiveStatistics } from '../../loadgen/viewer/ReceiveStatistics.ts';
import { isRtcp, ntpMiddle32, readRtcp, receiverReport, roundTripMs } from '../../loadgen/viewer/rtcp.ts';

/** Audio at 48 kHz, 20 ms packets: packet n leaves at n*20 ms with timestamp n*960. */
function feed(stats: ReceiveStatistics, seqs: number[], arrival: (n: number) => number = (n) => n * 20): void {
	for (const n of seqs) stats.onPacket(n & 0xffff, (n * 960) >>> 0, 80, arrival(n));
}

describe('receive statistics', () => {
	it('counts loss as expected minus received, across the 16-bit sequence wrap', () => {
		const stats = new ReceiveStatistics(48_000);
		const sent = Array.from({ length: 1000 }, (_, i) => 65_000 + i);
		const received = sent.filter((n) => n % 10 !== 3);
		feed(stats, received);
		expect(stats.packetsReceived).toBe(900);
		// The last of 65000..65999 is 65999, an extended sequence past one wrap.
		expect(stats.extendedHighestSeq).toBe(65_999);
		expect(stats.expected).toBe(1000);
		expect(stats.packetsLost).toBe(100);
	});

	it('counts duplicates and late packets as received without moving the highest (loss may go negative)', () => {
		const stats = new ReceiveStatistics(48_000);
		feed(stats, [0, 1, 2, 3, 2, 3, 4]);
		expect(stats.extendedHighestSeq).toBe(4);
		expect(stats.packetsReceived).toBe(7);
		expect(stats.packetsLost).toBe(-2);
	});

	it('keeps counting through a sender that restarts its sequence', () => {
		const stats = new ReceiveStatistics(48_000);
		feed(stats, [100, 101, 102]);
		feed(stats, [40_000, 40_001, 40_003]);
		expect(stats.packetsReceived).toBe(6);
		expect(stats.packetsLost).toBe(1);
	});

	it('has no jitter at a steady pace and about the mean deviation with a bounded random delay', () => {
		const steady = new ReceiveStatistics(48_000);
		feed(steady, Array.from({ length: 500 }, (_, i) => i), (n) => n * 20 + 35);
		expect(steady.jitterSeconds).toBeCloseTo(0, 6);
		// Each packet delayed uniformly in 0..20 ms: |D| of two such delays averages 6.7 ms.
		let seed = 7;
		const random = () => ((seed = (seed * 16_807) % 2_147_483_647) / 2_147_483_647);
		const jittery = new ReceiveStatistics(48_000);
		const delays = Array.from({ length: 5000 }, () => random() * 20);
		feed(jittery, Array.from({ length: 5000 }, (_, i) => i), (n) => n * 20 + delays[n]!);
		expect(jittery.jitterSeconds * 1000).toBeGreaterThan(5);
		expect(jittery.jitterSeconds * 1000).toBeLessThan(8.5);
	});

	it('leaves packets read late (the receiver stood still) out of the jitter, and counts them as received', () => {
		// A steady stream; the receiver stands still for 100 ms, then reads the five packets that
		// waited in its socket at once, then reads on time again.
		const stall = new Set([100, 101, 102, 103, 104]);
		const arrival = (n: number) => (stall.has(n) ? 104 * 20 + 1 : n * 20);
		const judged = new ReceiveStatistics(48_000);
		for (let n = 0; n < 200; n++) judged.onPacket(n, n * 960, 80, arrival(n), stall.has(n));
		expect(judged.jitterSeconds).toBeCloseTo(0, 6);
		expect(judged.packetsReceived).toBe(200);
		expect(judged.packetsLost).toBe(0);
		// Taken at face value, the same reads are the stall's: several ms of jitter.
		const naive = new ReceiveStatistics(48_000);
		for (let n = 0; n < 110; n++) naive.onPacket(n, n * 960, 80, arrival(n));
		expect(naive.jitterSeconds * 1000).toBeGreaterThan(5);
	});

	it('reports fraction lost since the previous report', () => {
		const stats = new ReceiveStatistics(48_000);
		feed(stats, Array.from({ length: 100 }, (_, i) => i));
		expect(stats.reportBlock(1, 2000).fractionLost).toBe(0);
		feed(stats, Array.from({ length: 100 }, (_, i) => 100 + i).filter((n) => n % 4 !== 0));
		const block = stats.reportBlock(1, 4000);
		expect(block.fractionLost).toBeCloseTo(0.25, 2);
		expect(block.cumulativeLost).toBe(25);
	});
});

describe('viewer RTCP', () => {
	it('writes a receiver report and an XR reference time that parse back as RTCP', () => {
		const packet = receiverReport(0x1234, [{ ssrc: 9, fractionLost: 0.25, cumulativeLost: 25, extendedHighestSeq: 70_000, jitter: 480, lastSr: 0xabcd0000, delaySinceLastSr: 65_536 }], Date.UTC(2026, 10, 28));
		expect(isRtcp(packet)).toBe(true);
		// RR: V=2, one block, PT 201, length 7 words; then XR, PT 207.
		expect(packet[0]).toBe(0x81);
		expect(packet[1]).toBe(201);
		expect(packet.readUInt16BE(2)).toBe(7);
		expect(packet.readUInt32BE(8)).toBe(9);
		expect(packet[12]).toBe(64);
		expect(packet.readIntBE(13, 3)).toBe(25);
		expect(packet.readUInt32BE(16)).toBe(70_000);
		expect(packet[33]).toBe(207);
		expect(packet[40]).toBe(4);
		// Nothing in our own packet is a sender report or DLRR.
		expect(readRtcp(packet)).toEqual([]);
	});

	it('reads sender reports and DLRR, skipping a truncated packet, and turns DLRR into a round trip', () => {
		const sr = Buffer.alloc(28);
		sr[0] = 0x80;
		sr[1] = 200;
		sr.writeUInt16BE(6, 2);
		sr.writeUInt32BE(42, 4);
		sr.writeUInt32BE(0x0001_2345, 8);
		sr.writeUInt32BE(0x6789_0000, 12);
		const sentAt = 1_795_000_000_000;
		const lastRr = ntpMiddle32(sentAt);
		const xr = Buffer.alloc(8 + 4 + 12);
		xr[0] = 0x80;
		xr[1] = 207;
		xr.writeUInt16BE(5, 2);
		xr[8] = 5;
		xr.writeUInt16BE(3, 10);
		xr.writeUInt32BE(42, 12);
		xr.writeUInt32BE(lastRr, 16);
		// The SFU held our reference time 100 ms.
		xr.writeUInt32BE(Math.round(0.1 * 65_536), 20);
		const truncated = Buffer.from([0x80, 200, 0, 50]);
		const infos = readRtcp(Buffer.concat([sr, xr, truncated]));
		expect(infos).toEqual([
			{ type: 'sr', ssrc: 42, ntpMiddle: 0x2345_6789 },
			{ type: 'dlrr', ssrc: 42, lastRr, delaySinceLastRr: Math.round(0.1 * 65_536) },
		]);
		const dlrr = infos[1] as Extract<(typeof infos)[number], { type: 'dlrr' }>;
		// Received 160 ms after it was sent: 60 ms on the wire.
		expect(roundTripMs(dlrr, sentAt + 160)).toBeCloseTo(60, 0);
		expect(roundTripMs({ lastRr: 0, delaySinceLastRr: 0 }, sentAt)).toBeUndefined();
	});

	it('tells RTCP from RTP by payload type (RFC 5761)', () => {
		expect(isRtcp(Buffer.from([0x80, 111]))).toBe(false);
		expect(isRtcp(Buffer.from([0x80, 0x80 | 100]))).toBe(false);
		expect(isRtcp(Buffer.from([0x80, 200]))).toBe(true);
		expect(isRtcp(Buffer.from([0x80]))).toBe(false);
	});
});

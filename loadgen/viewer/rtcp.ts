/**
 * The few RTCP packets a viewer speaks (RFC 3550, RFC 3611): it sends receiver reports and an
 * XR receiver reference time; it reads sender reports and the XR DLRR reply, which gives the
 * round trip over the media path. Plain bytes in and out; SRTCP is applied around them.
 */

/** Seconds from 1900 (NTP) to 1970 (Unix). */
const ntpEpochOffset = 2_208_988_800;
const twoTo32 = 2 ** 32;

/** RTCP packet types. */
const SR = 200;
const RR = 201;
const XR = 207;
/** XR block types. */
const RRTR = 4;
const DLRR = 5;

/** The middle 32 bits of the NTP time at `ms` (Unix epoch), the unit of LSR and LRR: 1/65536 s. */
export function ntpMiddle32(ms: number): number {
	const seconds = ms / 1000 + ntpEpochOffset;
	const whole = Math.floor(seconds);
	const fraction = Math.floor((seconds - whole) * twoTo32);
	return (((whole & 0xffff) << 16) | (fraction >>> 16)) >>> 0;
}

/** A reception report block (RFC 3550 6.4.1), one per received stream. */
export interface ReportBlock {
	ssrc: number;
	/** Lost since the previous report, 0..1. */
	fractionLost: number;
	/** Cumulative lost, may be negative with duplicates. */
	cumulativeLost: number;
	extendedHighestSeq: number;
	/** Interarrival jitter in RTP timestamp units. */
	jitter: number;
	/** Middle 32 bits of the last sender report's NTP time (0: none yet). */
	lastSr: number;
	/** Since that report, 1/65536 s. */
	delaySinceLastSr: number;
}

function header(buffer: Buffer, offset: number, count: number, type: number, bytes: number): void {
	buffer[offset] = 0x80 | (count & 0x1f);
	buffer[offset + 1] = type;
	buffer.writeUInt16BE(bytes / 4 - 1, offset + 2);
}

/**
 * A compound packet: a receiver report (at most 31 blocks, the field's limit) and an XR
 * receiver reference time, which asks the SFU to answer with DLRR in its next report.
 */
export function receiverReport(senderSsrc: number, blocks: readonly ReportBlock[], nowMs: number): Buffer {
	const reported = blocks.slice(0, 31);
	const rrBytes = 8 + 24 * reported.length;
	const xrBytes = 8 + 12;
	const buffer = Buffer.alloc(rrBytes + xrBytes);
	header(buffer, 0, reported.length, RR, rrBytes);
	buffer.writeUInt32BE(senderSsrc >>> 0, 4);
	let at = 8;
	for (const block of reported) {
		buffer.writeUInt32BE(block.ssrc >>> 0, at);
		buffer[at + 4] = Math.min(255, Math.max(0, Math.floor(block.fractionLost * 256)));
		buffer.writeIntBE(Math.max(-0x800000, Math.min(0x7fffff, block.cumulativeLost)), at + 5, 3);
		buffer.writeUInt32BE(block.extendedHighestSeq >>> 0, at + 8);
		buffer.writeUInt32BE(Math.min(0xffffffff, Math.max(0, Math.round(block.jitter))), at + 12);
		buffer.writeUInt32BE(block.lastSr >>> 0, at + 16);
		buffer.writeUInt32BE(block.delaySinceLastSr >>> 0, at + 20);
		at += 24;
	}
	header(buffer, at, 0, XR, xrBytes);
	buffer.writeUInt32BE(senderSsrc >>> 0, at + 4);
	buffer[at + 8] = RRTR;
	buffer.writeUInt16BE(2, at + 10);
	const seconds = nowMs / 1000 + ntpEpochOffset;
	const whole = Math.floor(seconds);
	buffer.writeUInt32BE(whole >>> 0, at + 12);
	buffer.writeUInt32BE(Math.floor((seconds - whole) * twoTo32) >>> 0, at + 16);
	return buffer;
}

/** What a viewer learns from the SFU's RTCP. */
export type RtcpInfo =
	| { type: 'sr'; ssrc: number; ntpMiddle: number }
	| { type: 'dlrr'; ssrc: number; lastRr: number; delaySinceLastRr: number };

/**
 * Sender reports and DLRR sub-blocks of a compound packet. Anything else, or a packet whose
 * length field runs past the end, is skipped: one bad packet must not stop the rest.
 */
export function readRtcp(packet: Buffer): RtcpInfo[] {
	const out: RtcpInfo[] = [];
	let at = 0;
	while (at + 4 <= packet.length) {
		if (packet[at]! >> 6 !== 2) break;
		const type = packet[at + 1]!;
		const bytes = (packet.readUInt16BE(at + 2) + 1) * 4;
		if (at + bytes > packet.length) break;
		if (type === SR && bytes >= 28) {
			out.push({ type: 'sr', ssrc: packet.readUInt32BE(at + 4), ntpMiddle: ((packet.readUInt16BE(at + 10) << 16) | packet.readUInt16BE(at + 12)) >>> 0 });
		} else if (type === XR) {
			let block = at + 8;
			while (block + 4 <= at + bytes) {
				const blockType = packet[block]!;
				const blockBytes = (packet.readUInt16BE(block + 2) + 1) * 4;
				if (block + blockBytes > at + bytes) break;
				if (blockType === DLRR) {
					for (let sub = block + 4; sub + 12 <= block + blockBytes; sub += 12) {
						out.push({ type: 'dlrr', ssrc: packet.readUInt32BE(sub), lastRr: packet.readUInt32BE(sub + 4), delaySinceLastRr: packet.readUInt32BE(sub + 8) });
					}
				}
				block += blockBytes;
			}
		}
		at += bytes;
	}
	return out;
}

/** Round trip from a DLRR reply received at `nowMs`, ms (undefined when it makes no sense). */
export function roundTripMs(dlrr: { lastRr: number; delaySinceLastRr: number }, nowMs: number): number | undefined {
	if (dlrr.lastRr === 0) return undefined;
	const units = (ntpMiddle32(nowMs) - dlrr.lastRr - dlrr.delaySinceLastRr) >>> 0;
	// A wrap past zero is a negative round trip: clock rounding on loopback, or a stale reply.
	if (units > 0x80000000) return 0;
	return (units / 65536) * 1000;
}

/** RFC 5761: with RTCP muxed, packet types 192..223 are RTCP, the rest RTP. */
export function isRtcp(packet: Buffer): boolean {
	if (packet.length < 2) return false;
	const type = packet[1]!;
	return type >= 192 && type <= 223;
}

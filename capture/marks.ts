/**
 * End-to-end video delay, webrtcperf's way: the sending bot's camera frames carry their capture
 * time (and who sent them) as a row of black and white blocks drawn into the top of each frame,
 * which survives encoding, simulcast layers and scaling; a receiver reads the blocks off every
 * decoded frame and knows capture-to-decode delay per sender, exactly, on one machine's clock.
 *
 * Layout: two rows, each of 34 blocks across the full width and 1/18 of the height: a white and a
 * black reference block (for the threshold), then 32 bits. Row 1: the low 24 bits of the capture
 * time in ms and an 8-bit CRC; row 2: a 16-bit sender id, an 8-bit loop length in seconds (0 for
 * none) and an 8-bit CRC of both.
 *
 * A loop length is for media encoded ahead of time (lite bots' pre-encoded video): its time is the
 * capture time modulo the loop, on the collector's clock, and the sender sends each frame at
 * that time of every loop; the receiver takes the latest time that fits, not after now.
 * Pixels are written in the luma plane (chroma neutral), so any YUV frame format works.
 */

export const markBlocks = 34;
const dataBits = 32;
/** Timestamps wrap every 2^24 ms (4.6 hours is far beyond any delay): the receiver unwraps against its own clock. */
const timeMask = 0xffffff;
const white = 235;
const black = 16;

/** Block height for a frame height: two rows of marks take 1/9 of the frame. */
export const blockHeight = (height: number): number => Math.max(4, Math.floor(height / 18));

export function crc8(value: number, bits: number): number {
	let crc = 0;
	for (let i = bits - 1; i >= 0; i--) {
		const bit = (value >>> i) & 1;
		const top = (crc >>> 7) & 1;
		crc = ((crc << 1) & 0xff) ^ (top ^ bit ? 0x07 : 0);
	}
	return crc;
}

/** A 16-bit id for a sender (its peer id), the same in every page and in Node. */
export function senderMarkId(peerId: string): number {
	let hash = 0x811c9dc5;
	for (let i = 0; i < peerId.length; i++) {
		hash ^= peerId.charCodeAt(i);
		hash = Math.imul(hash, 0x01000193) >>> 0;
	}
	return (hash ^ (hash >>> 16)) & 0xffff;
}

/** The two rows' 32-bit words for a capture time and a sender (and a loop of that many seconds: then `captureMs` is taken modulo it). */
export function markWords(captureMs: number, sender: number, loopSeconds = 0): [number, number] {
	const time = loopSeconds > 0 ? captureMs % (loopSeconds * 1000) : captureMs & timeMask;
	const id = ((sender & 0xffff) << 8) | (loopSeconds & 0xff);
	return [((time << 8) | crc8(time, 24)) >>> 0, ((id << 8) | crc8(id, 24)) >>> 0];
}

/** Writes the rows into a luma plane (8-bit, `stride` bytes per row). */
export function drawMark(luma: Uint8Array, stride: number, width: number, height: number, words: [number, number]): void {
	const bh = blockHeight(height);
	for (let row = 0; row < 2; row++) {
		const word = words[row]!;
		// One line of blocks, then copies of it: this runs on every sent frame (30 a second at 360p30).
		const first = row * bh * stride;
		for (let block = 0; block < markBlocks; block++) {
			const on = block === 0 ? true : block === 1 ? false : ((word >>> (dataBits - 1 - (block - 2))) & 1) === 1;
			const x0 = Math.floor((block * width) / markBlocks);
			const x1 = Math.floor(((block + 1) * width) / markBlocks);
			luma.fill(on ? white : black, first + x0, first + x1);
		}
		for (let y = 1; y < bh; y++) luma.copyWithin(first + y * stride, first, first + width);
	}
}

/** Neutral chroma under the rows (a plane of half resolution, as in I420 and NV12). */
export function neutralChroma(plane: Uint8Array, stride: number, bytesPerRow: number, rows: number): void {
	for (let y = 0; y < rows; y++) plane.fill(128, y * stride, y * stride + bytesPerRow);
}

export interface ReadMark {
	captureMs: number;
	sender: number;
}

/**
 * Reads the rows from a luma plane (possibly a scaled and compressed copy of the frame), or
 * undefined when the blocks do not decode with valid CRCs (no mark, or damaged).
 */
export function readMark(luma: Uint8Array, stride: number, width: number, height: number, nowMs: number): ReadMark | undefined {
	const bh = blockHeight(height);
	const words: number[] = [];
	for (let row = 0; row < 2; row++) {
		// The middle of each block, away from edges where the codec smears.
		const y0 = row * bh + Math.floor(bh / 4);
		const y1 = row * bh + Math.ceil((3 * bh) / 4);
		const level = (block: number) => {
			const x0 = Math.floor((block * width) / markBlocks);
			const x1 = Math.floor(((block + 1) * width) / markBlocks);
			const mx0 = x0 + Math.floor((x1 - x0) / 4);
			const mx1 = Math.max(mx0 + 1, x1 - Math.floor((x1 - x0) / 4));
			let sum = 0;
			let n = 0;
			for (let y = y0; y < y1; y++) {
				for (let x = mx0; x < mx1; x++) {
					sum += luma[y * stride + x]!;
					n++;
				}
			}
			return sum / n;
		};
		const hi = level(0);
		const lo = level(1);
		if (hi - lo < 60) return undefined;
		const threshold = (hi + lo) / 2;
		let word = 0;
		for (let bit = 0; bit < dataBits; bit++) word = ((word << 1) | (level(bit + 2) > threshold ? 1 : 0)) >>> 0;
		words.push(word);
	}
	const time = words[0]! >>> 8;
	if (crc8(time, 24) !== (words[0]! & 0xff)) return undefined;
	const id = words[1]! >>> 8;
	if (crc8(id, 24) !== (words[1]! & 0xff)) return undefined;
	const sender = id >>> 8;
	const loopMs = (id & 0xff) * 1000;
	if (loopMs > 0 && time >= loopMs) return undefined;
	// The full capture time: the latest time that fits (these low 24 bits, or this time of a loop), not after now.
	const period = loopMs > 0 ? loopMs : timeMask + 1;
	const captureMs = nowMs - ((((nowMs % period) - time) % period) + period) % period;
	return { captureMs, sender };
}

import type { types } from 'mediasoup-client';
import { z } from 'zod';
import { PeerId, RoomId, VideoLayer } from '../../protocol/signaling.ts';

const flag = z.enum(['0', '1']).transform((v) => v === '1');

/** Bot page URL parameters (untrusted input, like any URL). */
export const BotPageParams = z.object({
	room: RoomId,
	peer: PeerId.optional(),
	name: z.string().max(200).optional(),
	/** Signaling URL; default: /ws on the page's own host. */
	ws: z.string().regex(/^wss?:\/\//, 'must be a ws:// or wss:// URL').optional(),
	audio: flag.default(true),
	/** "WIDTHxHEIGHT@FPS", or "0" for no camera. */
	video: z
		.string()
		.regex(/^(0|\d{2,4}x\d{2,4}@\d{1,2})$/, 'must be WIDTHxHEIGHT@FPS, e.g. 640x360@30, or 0')
		.default('640x360@30'),
	subscribe: z.enum(['all', 'audio', 'video', 'none']).default('all'),
	codec: z.enum(['VP8', 'VP9', 'H264']).default('VP8'),
	/** Send the camera in layers: simulcast (VP8, H264; as many as its size allows, see layeredEncodings) or L3T3 SVC (VP9). */
	simulcast: flag.default(false),
	/** The layer asked for from simulcast and SVC senders. */
	layer: VideoLayer.default('auto'),
	/** Last-N: forward at most this many remote videos, of the latest speakers. */
	lastN: z.coerce.number().int().min(0).max(1000).optional(),
	/** Top-N audio: forward at most this many remote microphones, the loudest. */
	audioTopN: z.coerce.number().int().min(1).max(1000).optional(),
	/** Also share a screen: slides drawn at 1920x1080, 5 frames a second, contentHint "detail". */
	screen: flag.default(false),
	/** Start with the microphone silent (speaker turns unmute it). */
	muted: flag.default(false),
	/** Video sender bitrate cap in bits per second. */
	maxBitrate: z.coerce.number().int().positive().optional(),
	/** Echo cancellation, noise suppression and gain control on the microphone (off: bots feed a file). */
	processing: flag.default(false),
	autojoin: flag.default(true),
	rejoin: flag.default(true),
});
export type BotPageParams = z.infer<typeof BotPageParams>;

export function parseVideo(video: string): { width: number; height: number; frameRate: number } | undefined {
	const match = /^(\d+)x(\d+)@(\d+)$/.exec(video);
	return match ? { width: Number(match[1]), height: Number(match[2]), frameRate: Number(match[3]) } : undefined;
}

/**
 * The encodings of a camera sent in layers. Simulcast halves the resolution per layer, the
 * bitrate cap (if any) on the full one, with as many layers as Chromium sends at that size
 * (3 from 960x540, 2 from 480x270, else 1: it drops the top layers beyond those, so asking for
 * more would lose the full resolution). VP9 sends them as one L3T3 SVC stream.
 */
export function layeredEncodings(
	codec: BotPageParams['codec'],
	frame: { width: number; height: number },
	maxBitrate: number | undefined,
): types.RtpEncodingParameters[] {
	const cap = maxBitrate ? { maxBitrate } : {};
	if (codec === 'VP9') return [{ scalabilityMode: 'L3T3_KEY', ...cap }];
	const pixels = frame.width * frame.height;
	const layers = pixels >= 960 * 540 ? 3 : pixels >= 480 * 270 ? 2 : 1;
	return Array.from({ length: layers }, (_, i) => ({
		rid: `r${i}`,
		scaleResolutionDownBy: 2 ** (layers - 1 - i),
		...(i === layers - 1 ? cap : {}),
	}));
}

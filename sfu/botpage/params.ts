import { z } from 'zod';
import { PeerId, RoomId } from '../../protocol/signaling.ts';

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

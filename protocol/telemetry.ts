import { z } from 'zod';

/** Something that happened to a participant, as opposed to a sampled metric. */
export const ParticipantEventType = z.enum(['join', 'first-media', 'leave', 'fail', 'reconnect']);
export type ParticipantEventType = z.infer<typeof ParticipantEventType>;

export const ParticipantEvent = z.object({
	type: ParticipantEventType,
	/** Epoch milliseconds. */
	ts: z.number().positive(),
	/** join: time to join; first-media: join request to first decoded frame / first audio; reconnect: time to rejoin. */
	durationMs: z.number().nonnegative().optional(),
	/** fail / leave / reconnect: why. */
	reason: z.string().max(2000).optional(),
	mediaKind: z.enum(['audio', 'video']).optional(),
	attempt: z.number().int().positive().optional(),
});
export type ParticipantEvent = z.infer<typeof ParticipantEvent>;

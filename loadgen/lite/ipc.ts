/** Messages between the load generator and its lite-bot processes (validated on both ends). */
import { z } from 'zod';
import { WithheldFigures } from '../../protocol/api.ts';
import { MachineDelayMarks } from '../../protocol/capture.ts';
import { NetworkConditions, PublishProfile } from '../../protocol/scenario.ts';
import { PeerId, RoomId, VideoLayer } from '../../protocol/signaling.ts';
import { TelemetryBatch } from '../../protocol/telemetry.ts';

export const LiteSlot = z.object({
	/** A lite bot (werift, sends and receives) or a viewer (receive-only, headers counted). */
	bot: z.enum(['lite', 'viewer']).default('lite'),
	index: z.number().int().nonnegative(),
	roomId: RoomId,
	peerId: PeerId,
	group: z.string(),
	publish: PublishProfile,
	subscribe: z.enum(['all', 'audio', 'video', 'none']),
	layer: VideoLayer,
	lastN: z.number().int().min(0).optional(),
	audioTopN: z.number().int().min(1).optional(),
});
export type LiteSlot = z.output<typeof LiteSlot>;

export const LiteCommand = z.discriminatedUnion('op', [
	z.object({
		op: z.literal('start'),
		runId: z.string(),
		signalingUrl: z.string(),
		statsIntervalMs: z.number().positive(),
		/** Lite bots' media carries end-to-end delay marks of these kinds (each bot's own, encoded at its join). */
		e2e: MachineDelayMarks.optional(),
	}),
	/** network: conditions through an impairment relay, or null for a direct connection. */
	z.object({ op: z.literal('join'), slot: LiteSlot, network: NetworkConditions.nullable() }),
	z.object({ op: z.literal('leave'), index: z.number().int() }),
	z.object({ op: z.literal('network'), group: z.string(), network: NetworkConditions }),
	z.object({ op: z.literal('stop') }),
]);
export type LiteCommand = z.input<typeof LiteCommand>;
export type ParsedLiteCommand = z.output<typeof LiteCommand>;

export const LiteReply = z.discriminatedUnion('op', [
	z.object({ op: z.literal('ready') }),
	z.object({ op: z.literal('batch'), batch: TelemetryBatch }),
	/** Sent with every round of samples and before every `left`, so the last leave carries the final counts. */
	z.object({ op: z.literal('withheld'), counts: WithheldFigures }),
	z.object({ op: z.literal('left'), index: z.number().int() }),
	z.object({ op: z.literal('log'), message: z.string() }),
	/** Event-loop delay p99 over the last second: a lite-bot process that lags sends media late. */
	z.object({ op: z.literal('health'), lagMs: z.number().nonnegative() }),
]);
export type LiteReply = z.input<typeof LiteReply>;

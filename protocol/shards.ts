/**
 * Multi-machine runs: the shards of one run report to the collector, which knows how many to
 * expect, notices a shard that stops reporting, tells every shard when one of them found an
 * abortOnFail threshold failing, and computes the one verdict over everybody's data when the
 * last shard is done.
 */
import { z } from 'zod';
import { RunId } from './telemetry.ts';
import { RunStatus, ThresholdResult } from './api.ts';
import { wholeNumberText } from './issues.ts';
import { ThresholdExpressions } from './thresholds.ts';

const ShardIndex = z.number().int().min(1).max(10_000);

export const ShardParams = z.object({ runId: RunId, index: wholeNumberText.pipe(ShardIndex) });

/** How a shard's own part ended (the run's verdict is the collector's). */
export const ShardOutcome = z.object({
	/** completed: its schedule ran out; stopped: told to stop (another shard's abort, a stop request); invalid: its machine saturated; interrupted: Ctrl-C or a signal. */
	status: z.enum(['completed', 'stopped', 'invalid', 'interrupted']),
	reason: z.string().max(500).default(''),
});
export type ShardOutcome = z.infer<typeof ShardOutcome>;

/** PUT /v1/runs/:runId/shards/:index: a shard starts, is alive (every heartbeat), or is done. */
export const ShardReport = z.object({
	count: ShardIndex,
	/** The machine or pod, for people reading the dashboard. */
	generator: z.string().min(1).max(200),
	/** ready: waiting for the others (a start "when all are ready"); running (every heartbeat); finished. */
	state: z.enum(['ready', 'running', 'finished']),
	scenario: z.string().max(200).default(''),
	/** Epoch ms every shard starts the schedule at; none while "ready" for a start when all are. */
	startedAt: z.number().int().positive().optional(),
	plannedParticipants: z.number().int().nonnegative().max(100_000_000),
	joined: z.number().int().nonnegative().max(100_000_000).default(0),
	failed: z.number().int().nonnegative().max(100_000_000).default(0),
	/** The shard reports this often; silent for six of these (at least 15 s), it is lost. */
	heartbeatMs: z.number().int().min(200).max(600_000).default(5000),
	/** Every threshold of the scenario: the verdict checks them over all shards' data. */
	thresholds: ThresholdExpressions.default({}),
	/** With state "finished". */
	outcome: ShardOutcome.optional(),
});
export type ShardReport = z.input<typeof ShardReport>;

/** POST /v1/runs/:runId/abort: a shard found an abortOnFail threshold failing; every shard stops. */
export const AbortRequest = z.object({ shard: ShardIndex, reason: z.string().min(1).max(500) });
export type AbortRequest = z.infer<typeof AbortRequest>;

export const ShardState = z.object({
	index: z.number(),
	generator: z.string(),
	state: z.enum(['ready', 'running', 'finished', 'lost']),
	plannedParticipants: z.number(),
	joined: z.number(),
	failed: z.number(),
	lastSeenAt: z.number().nullable(),
	finishedAt: z.number().nullable(),
	outcome: ShardOutcome.nullable(),
});
export type ShardState = z.infer<typeof ShardState>;

export const RunCoordination = z.object({
	runId: z.string(),
	/** Shards the run expects. */
	expected: z.number(),
	shards: z.array(ShardState),
	/** When every shard starts the schedule: given by the shards, or set once all are ready. */
	startAt: z.number().nullable(),
	/** Set once any shard asked every shard to stop. */
	abort: z.object({ shard: z.number(), reason: z.string(), at: z.number() }).nullable(),
	/** The one verdict, once every shard finished or was declared lost. */
	verdict: z.object({ status: RunStatus, statusReason: z.string(), thresholds: z.array(ThresholdResult) }).nullable(),
});
export type RunCoordination = z.infer<typeof RunCoordination>;

/**
 * Production monitoring: apps that load callswarm's SDK to report their own calls, their ingest
 * keys, the telemetry the SDK sends, the app view over a time range, and alert rules.
 */
import { z } from 'zod';
import { SeriesPoint } from './api.ts';
import { Duration } from './durations.ts';
import { MetricName } from './metrics.ts';
import { Identifier } from './signaling.ts';
import { ParticipantEvent, StatsSnapshot, TelemetryResponse } from './telemetry.ts';
import { appIdPattern } from './sdk.ts';
import { ThresholdExpressions, ThresholdText } from './thresholds.ts';

/** Apps are named like runs: safe in URLs and in a call key ("<app>.<call>"). */
export const AppId = z.string().min(1).max(32).regex(appIdPattern, 'lower-case letters, digits, _ and - only');

export const AppParams = z.object({ appId: AppId });
export const KeyParams = AppParams.extend({ keyId: z.string().regex(/^[0-9a-f]{8}$/, 'a key id: 8 hex digits') });
export const AlertParams = AppParams.extend({ ruleId: z.string().regex(/^[0-9a-f]{12}$/, 'a rule id: 12 hex digits') });

const Origin = z.string().regex(/^https?:\/\/[^/\s]+$/, 'an origin like https://app.example.com (no path)');

export const AppCreate = z.object({
	appId: AppId,
	name: z.string().max(200).default(''),
	/** Pages that may post telemetry from a browser (CORS). */
	origins: z.array(Origin).max(50).default([]),
	/** Days samples and events of this app are kept. */
	retentionDays: z.number().int().min(1).max(3650).default(30),
	/** Days whole (redacted) getStats() reports are kept, when the app sends them. */
	rawRetentionDays: z.number().int().min(1).max(365).default(7),
	/** Share of calls the SDK monitors (0..1), decided per call so a call is all in or all out. */
	sampleShare: z.number().min(0).max(1).default(1),
	/** A call with no data for this long has ended. */
	callIdleMinutes: z.number().int().min(1).max(1440).default(5),
});
export type AppCreate = z.input<typeof AppCreate>;

export const AppUpdate = AppCreate.omit({ appId: true }).partial();
export type AppUpdate = z.input<typeof AppUpdate>;

export const AppInfo = z.object({
	appId: z.string(),
	name: z.string(),
	origins: z.array(z.string()),
	retentionDays: z.number(),
	rawRetentionDays: z.number(),
	sampleShare: z.number(),
	callIdleMinutes: z.number(),
	createdAt: z.number(),
});
export type AppInfo = z.infer<typeof AppInfo>;
export const AppList = z.object({ apps: z.array(AppInfo) });
export type AppList = z.infer<typeof AppList>;

export const AppKeyInfo = z.object({
	keyId: z.string(),
	createdAt: z.number(),
	revokedAt: z.number().nullable(),
	/** Only in the reply that creates it: the key is not kept, only its hash. */
	key: z.string().optional(),
});
export type AppKeyInfo = z.infer<typeof AppKeyInfo>;
export const AppKeyList = z.object({ keys: z.array(AppKeyInfo) });
export type AppKeyList = z.infer<typeof AppKeyList>;

/** Free labels of a participant (app version, region, ...) for the app view's breakdowns. */
const Labels = z.record(z.string().max(40).regex(/^[\w.-]+$/), z.string().max(100)).refine((l) => Object.keys(l).length <= 10, 'at most 10 labels');

/**
 * One batch from the monitoring SDK. Call and user ids are the app's own (opaque or hashed
 * already); the collector stores only an HMAC of them with the app's secret salt.
 */
export const AppTelemetryBatch = z.object({
	batchId: z.string().min(8).max(128),
	callId: z.string().min(1).max(200),
	userId: z.string().min(1).max(200),
	/** One page load of the participant: a user on two devices is two sessions. */
	sessionId: Identifier.max(64),
	labels: Labels.default({}),
	userAgent: z.string().max(512).optional(),
	snapshots: z.array(StatsSnapshot).max(500).default([]),
	events: z.array(ParticipantEvent).max(500).default([]),
	/** The page's previous snapshot of each connection, its counters only (see TelemetryBatch.baseline). */
	baseline: z.array(StatsSnapshot).max(100).default([]),
});
export type AppTelemetryBatch = z.infer<typeof AppTelemetryBatch>;
export type AppTelemetryBatchInput = z.input<typeof AppTelemetryBatch>;
export const AppTelemetryRequest = z.object({ batches: z.array(AppTelemetryBatch).min(1).max(100) });

/** A time range of the app view: the last hour, day or week, or from..to (epoch ms). */
export const AppViewQuery = z.object({
	range: z.enum(['1h', '1d', '7d']).optional(),
	from: z.coerce.number().int().positive().optional(),
	to: z.coerce.number().int().positive().optional(),
});
export type AppViewQuery = z.output<typeof AppViewQuery>;

export const AppView = z.object({
	app: AppInfo,
	from: z.number(),
	to: z.number(),
	bucketSeconds: z.number(),
	calls: z.object({ total: z.number(), active: z.number(), points: z.array(z.object({ t: z.number(), started: z.number(), participants: z.number() })) }),
	series: z.record(z.string(), z.array(SeriesPoint)),
	/** Share of calls (by their averages) in each quality band. */
	bands: z.object({ good: z.number(), degraded: z.number(), bad: z.number() }),
	worstCalls: z.array(
		z.object({ callKey: z.string(), participants: z.number(), startedAt: z.number(), mos: z.number().nullable(), lossPct: z.number().nullable(), rttMs: z.number().nullable() }),
	),
	breakdown: z.record(
		z.string(),
		z.array(z.object({ value: z.string(), participants: z.number(), mos: z.number().nullable(), rttMs: z.number().nullable(), lossPct: z.number().nullable() })),
	),
	alerts: z.array(z.lazy(() => AlertState)),
});
export type AppView = z.infer<typeof AppView>;

/** "mos: p(5)>3.5 over 5m": a threshold over a sliding window of an app's data. */
export const AlertRuleCreate = z
	.object({
		name: z.string().min(1).max(200),
		metric: MetricName,
		threshold: ThresholdText,
		window: Duration.pipe(z.number().min(10_000, 'at least 10s').max(86_400_000, 'at most a day')),
		/** Where firing and resolving are posted: JSON, or Slack-compatible `{ text }`. */
		webhook: z.url({ protocol: /^https?$/ }).optional(),
		format: z.enum(['json', 'slack']).default('json'),
	})
	.superRefine((rule, ctx) => {
		// The scenario's rule: "rate" only for rate metrics, and rate metrics only with "rate".
		const checked = ThresholdExpressions.safeParse({ [rule.metric]: [rule.threshold] });
		if (!checked.success) ctx.addIssue({ code: 'custom', path: ['threshold'], message: checked.error.issues[0]!.message });
	});
export type AlertRuleCreate = z.input<typeof AlertRuleCreate>;

export const AlertRule = z.object({
	ruleId: z.string(),
	name: z.string(),
	metric: z.string(),
	threshold: z.string(),
	windowMs: z.number(),
	webhook: z.string(),
	format: z.enum(['json', 'slack']),
});
export type AlertRule = z.infer<typeof AlertRule>;

export const AlertState = AlertRule.extend({
	state: z.enum(['ok', 'firing', 'no-data']),
	value: z.number().nullable(),
	since: z.number().nullable(),
});
export type AlertState = z.infer<typeof AlertState>;

export const AlertEvent = z.object({
	ruleId: z.string(),
	ts: z.number(),
	state: z.enum(['firing', 'resolved']),
	value: z.number().nullable(),
	message: z.string(),
	delivered: z.boolean(),
});
export const AlertList = z.object({ rules: z.array(AlertState), history: z.array(AlertEvent) });
export type AlertList = z.infer<typeof AlertList>;

/** What an alert webhook receives (format "json"). */
export const AlertNotification = z.object({
	app: z.string(),
	rule: z.string(),
	state: z.enum(['firing', 'resolved']),
	metric: z.string(),
	threshold: z.string(),
	windowMs: z.number(),
	value: z.number().nullable(),
	ts: z.number(),
	text: z.string(),
});
export type AlertNotification = z.infer<typeof AlertNotification>;

/** What a test notification did: the webhook's answer. */
export const AlertTestReport = z.object({ delivered: z.boolean(), status: z.number().nullable(), error: z.string().nullable() });
export type AlertTestReport = z.infer<typeof AlertTestReport>;

/** Erase a user's data (every call of theirs: their rows only) or a whole call's, by the app's own ids. */
export const DeletionRequest = z.union([
	z.object({ userId: z.string().min(1).max(200) }).strict(),
	z.object({ callId: z.string().min(1).max(200) }).strict(),
]);
export type DeletionRequest = z.infer<typeof DeletionRequest>;

/** What deleting a user's or a call's data removed, per table. */
export const DeletionReport = z.object({
	appId: z.string(),
	what: z.enum(['user', 'call']),
	calls: z.number(),
	/** Rows deleted per table. */
	rows: z.record(z.string(), z.number()),
	/** Rollups recomputed without the deleted rows. */
	rebuilt: z.array(z.string()),
});
export type DeletionReport = z.infer<typeof DeletionReport>;

export const AppTelemetryResponse = TelemetryResponse.extend({
	/** Batches of calls outside the app's monitored share: not stored; the SDK stops sending for them. */
	notSampled: z.number().int(),
});
export type AppTelemetryResponse = z.infer<typeof AppTelemetryResponse>;

const ruleText = /^\s*([a-z_]+)\s*:\s*(\S+?)\s+over\s+(\S+)\s*$/;

/** "mos: p(5)>3.5 over 5m" as the parts of a rule (checked by AlertRuleCreate), or undefined. */
export function parseAlertRuleText(text: string): { metric: string; threshold: string; window: string } | undefined {
	const match = ruleText.exec(text);
	return match ? { metric: match[1]!, threshold: match[2]!, window: match[3]! } : undefined;
}

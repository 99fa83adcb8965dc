import type { AppTelemetryBatch } from '../../protocol/apps.ts';
import { callSampledIn } from '../../protocol/sdk.ts';
import { coarseUserAgent } from '../../protocol/redaction.ts';
import { participantSource, type TelemetryBatch } from '../../protocol/telemetry.ts';
import { timeRefusal, type NormalizeOptions } from '../normalize/Normalizer.ts';
import type { AppRow } from '../store/tables.ts';
import { edgeHashed, storedCallKey, storedUserId } from './AppRegistry.ts';

/** Stats types only callswarm's own processes report: a browser of an app never sends them. */
const serverOnlyTypes = new Set(['sfu-worker', 'generator-process']);

/** Labels with a column of their own in call_participants; the rest stay in `labels`. */
const versionLabels = ['version', 'appVersion', 'app_version'];

/**
 * Who sent a page's batch, as stored: everything its call's registry row and its participant
 * row need except what only the collector's call tracker knows (whether the call is new, when
 * the participant was first seen).
 */
export interface CallPart {
	appId: string;
	/** The call's scenario name in the run registry: the app's name. */
	scenario: string;
	callKey: string;
	peerId: string;
	userId: string;
	firstTs: number;
	lastTs: number;
	userAgent: string;
	appVersion: string;
	region: string;
	/** The batch's other labels, as JSON. */
	labels: string;
	retentionDays: number;
}

/** A page's batch translated into load-test terms: its call is the run, and nothing in it is a raw id. */
export interface AppBatch {
	batch: TelemetryBatch;
	options: NormalizeOptions;
	call: CallPart;
}

/**
 * Translates a page's batch, or answers undefined when its call is outside the app's monitored
 * share. A function of the app's row alone, so that an ingest worker does it as well as the
 * collector's own thread.
 */
export function translateAppBatch(app: AppRow, batch: AppTelemetryBatch, requestUserAgent: string | undefined, now: number): AppBatch | undefined {
	if (!callSampledIn(edgeHashed(app.app_id, batch.callId), app.sample_share)) return undefined;
	const callKey = storedCallKey(app, batch.callId);
	const userId = storedUserId(app, batch.userId);
	const peerId = `${userId.slice(0, 12)}-${batch.sessionId}`;
	// Times the normaliser refuses (past the retention, a clock far ahead) would hold the call open or its rows too long.
	const times = [...batch.snapshots.map((s) => s.ts), ...batch.events.map((e) => e.ts)].filter((ts) => timeRefusal(ts, now, app.retention_days) === undefined);
	const userAgent = coarseUserAgent(batch.userAgent ?? requestUserAgent);
	const labels = { ...batch.labels };
	const appVersion = versionLabels.map((name) => labels[name]).find((v) => v !== undefined) ?? '';
	const region = labels.region ?? '';
	for (const name of [...versionLabels, 'region']) delete labels[name];
	const withoutServerStats = (s: TelemetryBatch['snapshots'][number]) => ({ ...s, stats: s.stats.filter((stat) => !serverOnlyTypes.has(String(stat.type))) });
	return {
		batch: {
			batchId: `${app.app_id}:${batch.batchId}`,
			runId: callKey,
			source: participantSource('app', 'call', peerId, userAgent),
			snapshots: batch.snapshots.map(withoutServerStats),
			events: batch.events,
			baseline: batch.baseline.map(withoutServerStats),
		},
		options: { appId: app.app_id, userId, retentionDays: app.retention_days, rawRetentionDays: app.raw_retention_days },
		call: {
			appId: app.app_id,
			scenario: app.name || app.app_id,
			callKey,
			peerId,
			userId,
			firstTs: times.length ? Math.min(...times) : now,
			lastTs: times.length ? Math.max(...times) : now,
			userAgent,
			appVersion,
			region,
			labels: JSON.stringify(labels),
			retentionDays: app.retention_days,
		},
	};
}

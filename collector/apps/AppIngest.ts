import type { AppTelemetryBatch, AppTelemetryResponse } from '../../protocol/apps.ts';
import { callSampledIn } from '../../protocol/sdk.ts';
import { coarseUserAgent } from '../../protocol/redaction.ts';
import { participantSource, type TelemetryBatch } from '../../protocol/telemetry.ts';
import { runRow, type Ingest, type OwnedBatch } from '../ingest/Ingest.ts';
import type { AppRow } from '../store/tables.ts';
import { edgeHashed, type AppRegistry } from './AppRegistry.ts';
import type { CallTracker } from './CallTracker.ts';

/** Stats types only callswarm's own processes report: a browser of an app never sends them. */
const serverOnlyTypes = new Set(['sfu-worker', 'generator-process']);

/** Labels with a column of their own in call_participants; the rest stay in `labels`. */
const versionLabels = ['version', 'appVersion', 'app_version'];

/**
 * Production telemetry into the same tables as load tests: a call is a run (kind "call") whose
 * key is the app and an HMAC of the call id; a participant's peer id is made of an HMAC of
 * its user id and its session. Raw call and user ids are never stored.
 */
export class AppIngest {
	constructor(
		private readonly ingest: Ingest,
		private readonly registry: AppRegistry,
		private readonly calls: CallTracker,
	) {}

	async accept(app: AppRow, batches: AppTelemetryBatch[], requestUserAgent: string | undefined): Promise<AppTelemetryResponse> {
		const now = Date.now();
		const owned: OwnedBatch[] = [];
		const freshCalls: string[] = [];
		let notSampled = 0;
		for (const batch of batches) {
			if (!callSampledIn(edgeHashed(app.app_id, batch.callId), app.sample_share)) {
				notSampled++;
				continue;
			}
			owned.push(this.#own(app, batch, requestUserAgent, now, freshCalls));
		}
		if (owned.length === 0) return { accepted: 0, duplicates: 0, samples: 0, events: 0, rejected: [], notSampled };
		try {
			return { ...(await this.ingest.acceptOwned(owned)), notSampled };
		} catch (error) {
			// Not stored: the call's registry row is written with its next data instead.
			for (const callKey of freshCalls) this.calls.forget(callKey);
			throw error;
		}
	}

	#own(app: AppRow, batch: AppTelemetryBatch, requestUserAgent: string | undefined, now: number, freshCalls: string[]): OwnedBatch {
		const callKey = this.registry.callKey(app, batch.callId);
		const userId = this.registry.userHash(app, batch.userId);
		const peerId = `${userId.slice(0, 12)}-${batch.sessionId}`;
		const times = [...batch.snapshots.map((s) => s.ts), ...batch.events.map((e) => e.ts)];
		const firstTs = times.length ? Math.min(...times) : now;
		const lastTs = times.length ? Math.max(...times) : now;
		const tracked = this.calls.touch(app.app_id, callKey, peerId, firstTs, now);
		if (tracked.fresh) freshCalls.push(callKey);
		const userAgent = coarseUserAgent(batch.userAgent ?? requestUserAgent);
		const telemetry: TelemetryBatch = {
			batchId: `${app.app_id}:${batch.batchId}`,
			runId: callKey,
			source: participantSource('app', 'call', peerId, userAgent),
			snapshots: batch.snapshots.map((s) => ({ ...s, stats: s.stats.filter((stat) => !serverOnlyTypes.has(String(stat.type))) })),
			events: batch.events,
			baseline: batch.baseline.map((s) => ({ ...s, stats: s.stats.filter((stat) => !serverOnlyTypes.has(String(stat.type))) })),
		};
		const labels = { ...batch.labels };
		const version = versionLabels.map((name) => labels[name]).find((v) => v !== undefined) ?? '';
		const region = labels.region ?? '';
		for (const name of [...versionLabels, 'region']) delete labels[name];
		return {
			batch: telemetry,
			options: { appId: app.app_id, userId, retentionDays: app.retention_days, rawRetentionDays: app.raw_retention_days },
			run: tracked.fresh
				? runRow(callKey, { scenario: app.name || app.app_id, status: 'running', startedAt: tracked.startedAt }, now, { kind: 'call', appId: app.app_id })
				: undefined,
			rows: {
				call_participants: [
					{
						app_id: app.app_id,
						run_id: callKey,
						peer_id: peerId,
						user_id: userId,
						first_seen: tracked.peerFirstSeen,
						last_seen: Math.max(lastTs, tracked.peerFirstSeen),
						user_agent: userAgent,
						app_version: version,
						region,
						labels: JSON.stringify(labels),
						retention_days: app.retention_days,
					},
				],
			},
		};
	}
}

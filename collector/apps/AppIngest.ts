import type { AppTelemetryBatch, AppTelemetryResponse } from '../../protocol/apps.ts';
import type { WorkedBody } from '../ingest/BatchWorkers.ts';
import { runRow, type Ingest, type OwnedBatch } from '../ingest/Ingest.ts';
import type { PreparedBatch } from '../ingest/BatchPreparer.ts';
import type { AppRow } from '../store/tables.ts';
import { translateAppBatch, type CallPart } from './AppBatch.ts';
import type { CallTracker } from './CallTracker.ts';

/** A page's batch on its way to the journal: its call, and how it becomes a prepared batch once its call's rows are known. */
interface CallBatch {
	call: CallPart;
	prepare: (own: Pick<OwnedBatch, 'run' | 'rows'>) => PreparedBatch;
}

/**
 * Production telemetry into the same tables as load tests: a call is a run (kind "call") whose
 * key is the app and an HMAC of the call id; a participant's peer id is made of an HMAC of
 * its user id and its session. Raw call and user ids are never stored.
 */
export class AppIngest {
	constructor(
		private readonly ingest: Ingest,
		private readonly calls: CallTracker,
	) {}

	/** A page's request, parsed and validated on this thread (a collector without ingest workers). */
	accept(app: AppRow, batches: AppTelemetryBatch[], requestUserAgent: string | undefined): Promise<AppTelemetryResponse> {
		const now = Date.now();
		const taken: CallBatch[] = [];
		let notSampled = 0;
		for (const batch of batches) {
			const translated = translateAppBatch(app, batch, requestUserAgent, now);
			if (!translated) {
				notSampled++;
				continue;
			}
			const { batch: telemetry, options, call } = translated;
			taken.push({ call, prepare: (own) => this.ingest.prepare({ batch: telemetry, options, ...own }) });
		}
		return this.#store(taken, notSampled, now);
	}

	/** A page's request as an ingest worker translated and prepared it: only its calls' rows are made here. */
	acceptWorked({ prepared, remembered, notSampled }: WorkedBody): Promise<AppTelemetryResponse> {
		const taken: CallBatch[] = [];
		for (const worked of prepared) taken.push({ call: callOf(worked), prepare: (own) => this.ingest.attach(worked, own) });
		for (const { batch, options, ...rest } of remembered) {
			taken.push({ call: callOf(rest), prepare: (own) => this.ingest.prepare({ batch, options, ...own }) });
		}
		return this.#store(taken, notSampled, Date.now());
	}

	async #store(batches: CallBatch[], notSampled: number, now: number): Promise<AppTelemetryResponse> {
		if (batches.length === 0) return { accepted: 0, duplicates: 0, samples: 0, events: 0, rejected: [], notSampled };
		const freshCalls: string[] = [];
		const prepared = batches.map(({ call, prepare }) => prepare(this.#callRows(call, now, freshCalls)));
		try {
			return { ...(await this.ingest.acceptPrepared(prepared)), notSampled };
		} catch (error) {
			// Not stored: the call's registry row is written with its next data instead.
			for (const callKey of freshCalls) this.calls.forget(callKey);
			throw error;
		}
	}

	/** The rows only the call tracker can make: the call's registry row when it is new, and the participant's. */
	#callRows(call: CallPart, now: number, freshCalls: string[]): Pick<OwnedBatch, 'run' | 'rows'> {
		const tracked = this.calls.touch(call.appId, call.callKey, call.peerId, call.firstTs, now);
		if (tracked.fresh) freshCalls.push(call.callKey);
		return {
			run: tracked.fresh ? runRow(call.callKey, { scenario: call.scenario, status: 'running', startedAt: tracked.startedAt }, now, { kind: 'call', appId: call.appId }) : undefined,
			rows: {
				call_participants: [
					{
						app_id: call.appId,
						run_id: call.callKey,
						peer_id: call.peerId,
						user_id: call.userId,
						first_seen: tracked.peerFirstSeen,
						last_seen: Math.max(call.lastTs, tracked.peerFirstSeen),
						user_agent: call.userAgent,
						app_version: call.appVersion,
						region: call.region,
						labels: call.labels,
						retention_days: call.retentionDays,
					},
				],
			},
		};
	}
}

function callOf(batch: { call?: CallPart }): CallPart {
	if (!batch.call) throw new Error('an ingest worker answered a page’s batch without its call');
	return batch.call;
}

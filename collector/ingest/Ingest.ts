import type { RunUpsert } from '../../protocol/api.ts';
import type { TelemetryBatch, TelemetryResponse } from '../../protocol/telemetry.ts';
import type { Normalizer } from '../normalize/Normalizer.ts';
import type { ViewCache } from '../queries/ViewCache.ts';
import type { RunRow } from '../store/tables.ts';
import type { RecentIds } from './RecentIds.ts';
import type { WriteQueue } from './WriteQueue.ts';

/**
 * Accepts validated batches: drops repeats of a batch id, normalises the rest and queues the
 * rows. A run first seen in telemetry gets a placeholder registry row that any explicit
 * registration (PUT /v1/runs/:runId) overrides.
 */
export class Ingest {
	readonly #knownRuns = new Set<string>();

	constructor(
		readonly queue: WriteQueue,
		private readonly normalizer: Normalizer,
		private readonly seen: RecentIds,
		private readonly keepRawReports: boolean,
		private readonly views: ViewCache,
	) {}

	rememberRuns(runIds: Iterable<string>): void {
		for (const id of runIds) this.#knownRuns.add(id);
	}

	rememberBatches(batchIds: Iterable<string>): void {
		for (const id of batchIds) this.seen.add(id);
	}

	accept(batches: TelemetryBatch[]): TelemetryResponse {
		const response: TelemetryResponse = { accepted: 0, duplicates: 0, samples: 0, events: 0, rejected: [] };
		for (const batch of batches) {
			if (this.seen.has(batch.batchId)) {
				response.duplicates++;
				continue;
			}
			this.seen.add(batch.batchId);
			this.views.invalidate(batch.runId);
			const rows = this.normalizer.normalize(batch, { keepRawReports: this.keepRawReports });
			for (const r of rows.rejected) response.rejected.push({ batchId: batch.batchId, ...r });
			this.queue.add('samples', rows.samples);
			this.queue.add('events', rows.events);
			this.queue.add('sfu_samples', rows.sfu);
			this.queue.add('raw_reports', rows.raw);
			this.queue.add('batches', [
				{
					run_id: batch.runId,
					batch_id: batch.batchId,
					ts: Date.now(),
					samples: rows.samples.length + rows.sfu.length,
					events: rows.events.length,
				},
			]);
			if (!this.#knownRuns.has(batch.runId)) {
				this.#knownRuns.add(batch.runId);
				const firstTs = Math.min(...batch.snapshots.map((s) => s.ts), ...batch.events.map((e) => e.ts), Date.now());
				// updated_at 0: an explicit registration, whenever it lands, replaces this row.
				this.queue.add('runs', [runRow(batch.runId, { startedAt: firstTs }, 0)]);
			}
			response.accepted++;
			response.samples += rows.samples.length + rows.sfu.length;
			response.events += rows.events.length;
		}
		return response;
	}

	async registerRun(runId: string, run: RunUpsert): Promise<void> {
		this.#knownRuns.add(runId);
		this.queue.add('runs', [runRow(runId, run, Date.now())]);
		await this.queue.flush();
		this.views.invalidate(runId);
	}
}

function runRow(runId: string, run: RunUpsert, updatedAt: number): RunRow {
	return {
		run_id: runId,
		scenario: run.scenario ?? '',
		status: run.status ?? 'running',
		started_at: run.startedAt,
		ended_at: run.endedAt ?? null,
		planned_participants: run.plannedParticipants ?? 0,
		config: JSON.stringify(run.config ?? {}),
		verdict: JSON.stringify(run.verdict ?? []),
		updated_at: updatedAt,
	};
}

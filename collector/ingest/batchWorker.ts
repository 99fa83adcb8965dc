/**
 * A worker thread of the collector's ingest: parses a telemetry request body, validates it
 * and normalises and encodes every batch that carries its baseline (callswarm's bots always
 * do, and so does the monitoring SDK), so that the collector's own thread only dedupes and
 * journals. A page's batches are translated first (its call and user ids hashed with the
 * app's salt); their call's rows need the collector's call tracker, so they are added there.
 * Batches without a baseline need the counters the collector remembers: they go back as
 * validated batches, to be normalised there.
 */
import { parentPort, workerData } from 'node:worker_threads';
import secureJson from 'secure-json-parse';
import { AppTelemetryBatch, AppTelemetryRequest } from '../../protocol/apps.ts';
import { TelemetryBatch, TelemetryRequest } from '../../protocol/telemetry.ts';
import { translateAppBatch, type AppBatch } from '../apps/AppBatch.ts';
import { HttpError } from '../http.ts';
import { Normalizer } from '../normalize/Normalizer.ts';
import { parseBatches } from '../plugins/telemetry.ts';
import { BatchPreparer } from './BatchPreparer.ts';
import { ownsItsMemory, type AppJob, type BatchWorkerData, type BatchWorkerJob, type BatchWorkerResult, type RememberedBatch, type WorkedBody } from './BatchWorkers.ts';

const { defaults, keepRawReports } = workerData as BatchWorkerData;
const preparer = new BatchPreparer(new Normalizer(defaults), keepRawReports);

/** The request's batches as the collector stores them: a page's translated, the load generator's as sent. */
function batchesOf(value: unknown, app: AppJob | undefined, clockShiftMs: number): { batches: RememberedBatch[]; notSampled: number } {
	if (!app) return { batches: parseBatches(value, TelemetryBatch, TelemetryRequest, clockShiftMs).map((batch) => ({ batch })), notSampled: 0 };
	const now = Date.now();
	const batches: AppBatch[] = [];
	let notSampled = 0;
	for (const batch of parseBatches(value, AppTelemetryBatch, AppTelemetryRequest, clockShiftMs)) {
		const translated = translateAppBatch(app.row, batch, app.userAgent, now);
		if (translated) batches.push(translated);
		else notSampled++;
	}
	return { batches, notSampled };
}

parentPort!.on('message', ({ id, body, app, clockShiftMs = 0 }: BatchWorkerJob) => {
	let result: BatchWorkerResult;
	try {
		const text = Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8');
		if (text.trim() === '') throw new HttpError(400, 'bad_json', "Body cannot be empty when content-type is set to 'application/json'");
		let value: unknown;
		try {
			// As the collector's own JSON parser: such keys are dropped, the rest of the request is kept.
			value = secureJson.parse(text, undefined, { protoAction: 'remove', constructorAction: 'remove' });
		} catch {
			throw new HttpError(400, 'bad_json', 'Body is not valid JSON');
		}
		const { batches, notSampled } = batchesOf(value, app, clockShiftMs);
		const worked: WorkedBody = { prepared: [], remembered: [], notSampled };
		for (const { batch, options, call } of batches) {
			if (batch.baseline.length === 0) {
				worked.remembered.push({ batch, options, call });
				continue;
			}
			const { commit: _commit, ...plain } = preparer.prepare({ batch, options });
			worked.prepared.push({ ...plain, call });
		}
		result = { id, ok: true, ...worked };
	} catch (error) {
		result =
			error instanceof HttpError
				? { id, ok: false, statusCode: error.statusCode, code: error.code, message: error.message, issues: error.issues }
				: { id, ok: false, statusCode: 500, code: 'internal', message: error instanceof Error ? error.message : String(error) };
	}
	// The encoded rows move to the collector's thread rather than being copied (this thread never reads them again).
	const transfer = result.ok ? result.prepared.flatMap((p) => Object.values(p.tables).flatMap((t) => (ownsItsMemory(t.data) ? [t.data.buffer] : []))) : [];
	parentPort!.postMessage(result, transfer);
});

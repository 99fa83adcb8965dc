/**
 * A worker thread of the collector's ingest: parses a telemetry request body, validates it
 * and normalises and encodes every batch that carries its baseline (callswarm's bots always
 * do), so that the collector's own thread only dedupes and journals.
 * Batches without a baseline need the counters the collector remembers: they go back as
 * validated batches, to be normalised there.
 */
import { parentPort, workerData } from 'node:worker_threads';
import secureJson from 'secure-json-parse';
import { TelemetryBatch, TelemetryRequest } from '../../protocol/telemetry.ts';
import { HttpError } from '../http.ts';
import { Normalizer } from '../normalize/Normalizer.ts';
import { parseBatches } from '../plugins/telemetry.ts';
import { BatchPreparer, type PreparedBatch } from './BatchPreparer.ts';
import { ownsItsMemory, type BatchWorkerData, type BatchWorkerJob, type BatchWorkerResult } from './BatchWorkers.ts';

const { defaults, keepRawReports } = workerData as BatchWorkerData;
const preparer = new BatchPreparer(new Normalizer(defaults), keepRawReports);

parentPort!.on('message', ({ id, body }: BatchWorkerJob) => {
	let result: BatchWorkerResult;
	try {
		const text = Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8');
		if (text.trim() === '') throw new HttpError(400, 'bad_json', "Body cannot be empty when content-type is set to 'application/json'");
		let value: unknown;
		try {
			// As the collector's own JSON parser: such keys are dropped, the rest of the request is kept.
			value = secureJson.parse(text, undefined, { protoAction: 'remove', constructorAction: 'remove' });
		} catch {
			throw new HttpError(400, 'bad_json', "Body is not valid JSON but content-type is set to 'application/json'");
		}
		const prepared: PreparedBatch[] = [];
		const remembered: TelemetryBatch[] = [];
		for (const batch of parseBatches(value, TelemetryBatch, TelemetryRequest)) {
			if (batch.baseline.length === 0) {
				remembered.push(batch);
				continue;
			}
			const { commit: _commit, ...plain } = preparer.prepare({ batch });
			prepared.push(plain);
		}
		result = { id, ok: true, prepared, remembered };
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

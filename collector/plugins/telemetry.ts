import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { z } from 'zod';
import { senderClockShift, shiftBatchTimes, TelemetryBatch, TelemetryQuery, TelemetryRequest } from '../../protocol/telemetry.ts';
import { collectorEndpoints } from '../../protocol/endpoints.ts';
import { HttpError, parseRequest } from '../http.ts';
import type { BatchWorkers } from '../ingest/BatchWorkers.ts';
import type { Ingest } from '../ingest/Ingest.ts';
import { isDiskFull } from '../ingest/Journal.ts';

/**
 * POST /v1/telemetry: one batch, or `{ batches: [...] }`. 202 once the rows are on disk (the
 * journal); 400 naming the field when the envelope is malformed (nothing of that request is
 * stored); 413 above the body limit; 429 with Retry-After while the store is behind; 507 with
 * Retry-After while the disk is full (nothing of that request was kept: send it again).
 */
export const telemetryPlugin: FastifyPluginAsync<{ ingest: Ingest; workers?: BatchWorkers }> = async (app, { ingest, workers }) => {
	if (!workers) {
		app.post(collectorEndpoints.telemetry.path, async (request, reply) => {
			const clockShiftMs = clockShiftOf(request);
			const response = await storeTelemetry(request, ingest, () => ingest.accept(parseBatches(request.body, TelemetryBatch, TelemetryRequest, clockShiftMs)));
			return reply.code(202).send(withClockShift(response, clockShiftMs));
		});
		return;
	}
	// The body goes to a worker thread as bytes: parsing it there is most of what ingest costs.
	app.removeContentTypeParser('application/json');
	app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));
	app.post(collectorEndpoints.telemetry.path, async (request, reply) => {
		const clockShiftMs = clockShiftOf(request);
		const response = await storeTelemetry(request, ingest, async () => {
			const { prepared, remembered } = await workers.run(request.body as Buffer, { clockShiftMs });
			return ingest.acceptPrepared([...prepared, ...remembered.map(({ batch }) => ingest.prepare({ batch }))]);
		});
		return reply.code(202).send(withClockShift(response, clockShiftMs));
	});
};

/**
 * How far the request's times are to be moved: its sender's clock against the collector's, as
 * the request arrived (400 naming `sentAt` when it is not a time).
 */
export function clockShiftOf(request: FastifyRequest): number {
	const receivedAt = Date.now();
	return senderClockShift(parseRequest(TelemetryQuery, request.query, 'query').sentAt, receivedAt);
}

/** A telemetry reply, saying by how much its times were moved when they were. */
export function withClockShift<R extends object>(response: R, clockShiftMs: number): R & { clockShiftMs?: number } {
	return clockShiftMs === 0 ? response : { ...response, clockShiftMs };
}

/** Whatever a telemetry batch is (the load generator's, a page's), the times it carries. */
type TimedBatch = Parameters<typeof shiftBatchTimes>[0];

/**
 * A request body of one batch, or `{ batches: [...] }`, its times moved by `clockShiftMs`
 * (senderClockShift): 400 naming the field when it is neither.
 */
export function parseBatches<B extends z.ZodType<TimedBatch>, R extends z.ZodType<{ batches: Array<z.output<B>> }>>(
	body: unknown,
	batch: B,
	request: R,
	clockShiftMs = 0,
): Array<z.output<B>> {
	const batches = body && typeof body === 'object' && 'batches' in body ? parseRequest(request, body, 'telemetry').batches : [parseRequest(batch, body, 'telemetry batch')];
	for (const parsed of batches) shiftBatchTimes(parsed, clockShiftMs);
	return batches;
}

/**
 * Runs an accept with the answers every telemetry route gives: 429 while the store is behind,
 * 507 when the disk is full, 503 when the journal could not be written (nothing kept: resend).
 */
export async function storeTelemetry<T>(request: FastifyRequest, ingest: Ingest, accept: () => Promise<T>): Promise<T> {
	if (!ingest.writer.hasRoom()) {
		throw new HttpError(429, 'busy', 'the store is behind, retry later', undefined, { 'retry-after': '1' });
	}
	try {
		return await accept();
	} catch (error) {
		if (error instanceof HttpError) throw error;
		if (isDiskFull(error)) {
			throw new HttpError(507, 'disk_full', 'the collector has no disk space for new telemetry; nothing of this request was kept, retry later', undefined, {
				'retry-after': '5',
			});
		}
		request.log.error({ err: error }, 'telemetry could not be written to the journal');
		throw new HttpError(503, 'unavailable', 'the collector could not write this telemetry; nothing of it was kept, retry later', undefined, {
			'retry-after': '2',
		});
	}
}

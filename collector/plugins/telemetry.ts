import type { FastifyPluginAsync } from 'fastify';
import { TelemetryBatch, TelemetryRequest, type TelemetryResponse } from '../../protocol/telemetry.ts';
import { HttpError, parseRequest } from '../http.ts';
import type { Ingest } from '../ingest/Ingest.ts';

/**
 * POST /v1/telemetry: one batch, or `{ batches: [...] }`. 202 once queued; 400 naming the
 * field when the envelope is malformed (nothing of that request is stored); 413 above the body
 * limit; 429 with Retry-After while the write queue is full.
 */
export const telemetryPlugin: FastifyPluginAsync<{ ingest: Ingest }> = async (app, { ingest }) => {
	app.post('/v1/telemetry', async (request, reply) => {
		if (!ingest.queue.hasRoom()) {
			throw new HttpError(429, 'busy', 'the write queue is full, retry later', undefined, { 'retry-after': '1' });
		}
		const body = request.body;
		const batches =
			body && typeof body === 'object' && 'batches' in body
				? parseRequest(TelemetryRequest, body, 'telemetry').batches
				: [parseRequest(TelemetryBatch, body, 'telemetry batch')];
		const response: TelemetryResponse = ingest.accept(batches);
		return reply.code(202).send(response);
	});
};

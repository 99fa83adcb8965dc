import type { FastifyPluginAsync } from 'fastify';
import { TelemetryBatch, TelemetryRequest, type TelemetryResponse } from '../../protocol/telemetry.ts';
import { collectorEndpoints } from '../../protocol/endpoints.ts';
import { HttpError, parseRequest } from '../http.ts';
import type { Ingest } from '../ingest/Ingest.ts';
import { isDiskFull } from '../ingest/Journal.ts';

/**
 * POST /v1/telemetry: one batch, or `{ batches: [...] }`. 202 once the rows are on disk (the
 * journal); 400 naming the field when the envelope is malformed (nothing of that request is
 * stored); 413 above the body limit; 429 with Retry-After while the store is behind; 507 with
 * Retry-After while the disk is full (nothing of that request was kept: send it again).
 */
export const telemetryPlugin: FastifyPluginAsync<{ ingest: Ingest }> = async (app, { ingest }) => {
	app.post(collectorEndpoints.telemetry.path, async (request, reply) => {
		if (!ingest.writer.hasRoom()) {
			throw new HttpError(429, 'busy', 'the store is behind, retry later', undefined, { 'retry-after': '1' });
		}
		const body = request.body;
		const batches =
			body && typeof body === 'object' && 'batches' in body
				? parseRequest(TelemetryRequest, body, 'telemetry').batches
				: [parseRequest(TelemetryBatch, body, 'telemetry batch')];
		let response: TelemetryResponse;
		try {
			response = await ingest.accept(batches);
		} catch (error) {
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
		return reply.code(202).send(response);
	});
};

import cors from '@fastify/cors';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { AppTelemetryBatch, AppTelemetryRequest } from '../../protocol/apps.ts';
import { collectorEndpoints as e } from '../../protocol/endpoints.ts';
import { ingestKeyHeader } from '../../protocol/sdk.ts';
import type { AppIngest } from '../apps/AppIngest.ts';
import type { AppRegistry } from '../apps/AppRegistry.ts';
import { HttpError, parseRequest } from '../http.ts';
import type { BatchWorkers } from '../ingest/BatchWorkers.ts';
import type { Ingest } from '../ingest/Ingest.ts';
import { clockShiftOf, parseBatches, storeTelemetry, withClockShift } from './telemetry.ts';

/** The path ingest keys and CORS apply to; the app id is its second part. */
const telemetryPath = /^\/v1\/apps\/([^/?]+)\/telemetry(?:\?|$)/;

/** Pages post a few snapshots at a time: a smaller limit than the load generator's. */
const bodyLimit = 2 * 1024 * 1024;

/**
 * POST /v1/apps/:appId/telemetry: what the monitoring SDK posts from real users' pages. It
 * takes the app's ingest key (header, or `?key=` for sendBeacon, which cannot set headers),
 * never the run token, and answers cross-origin requests only from the app's own origins. A
 * `text/plain` body is JSON too: sendBeacon sends it without a preflight. `?sentAt=` corrects a
 * device whose clock is far off (TelemetryQuery). With ingest workers,
 * the body goes to one as bytes once its key is checked, as the load generator's do.
 */
export const appTelemetryPlugin: FastifyPluginAsync<{ ingest: Ingest; apps: AppIngest; registry: AppRegistry; workers?: BatchWorkers }> = async (
	app,
	{ ingest, apps, registry, workers },
) => {
	await app.register(cors, {
		hook: 'onRequest',
		delegator: (request: FastifyRequest, callback) => {
			const appId = telemetryPath.exec(request.url)?.[1];
			const origin = request.headers.origin;
			if (appId === undefined || origin === undefined) return callback(null, { origin: false });
			if (!registry.allows(decodeURIComponent(appId), origin)) {
				return callback(new HttpError(403, 'forbidden', `pages of ${origin} may not post telemetry for app ${appId}: add the origin to the app's origins`), {});
			}
			callback(null, {
				origin,
				methods: ['POST'],
				allowedHeaders: ['content-type', 'content-encoding', ingestKeyHeader],
				maxAge: 600,
			});
		},
	});
	app.removeContentTypeParser('text/plain');
	if (workers) {
		app.removeContentTypeParser('application/json');
		app.addContentTypeParser(['application/json', 'text/plain'], { parseAs: 'buffer' }, (_request, body, done) => done(null, body));
	} else {
		app.addContentTypeParser('text/plain', { parseAs: 'string' }, (_request, body, done) => {
			try {
				done(null, JSON.parse(body as string));
			} catch {
				done(new HttpError(400, 'bad_json', 'the body is not JSON'));
			}
		});
	}

	app.post(e.appTelemetry.path, { bodyLimit }, async (request, reply) => {
		const { appId } = parseRequest(e.appTelemetry.params, request.params, 'path');
		const query = request.query as Record<string, unknown>;
		const header = request.headers[ingestKeyHeader];
		const key = (typeof header === 'string' ? header : undefined) ?? (typeof query.key === 'string' ? query.key : '');
		const owner = registry.verify(appId, key);
		if (!owner) throw new HttpError(401, 'unauthorized', `send a valid, unrevoked ingest key of app ${appId} (header ${ingestKeyHeader} or ?key=)`);
		const userAgent = request.headers['user-agent'];
		const clockShiftMs = clockShiftOf(request);
		const response = await storeTelemetry(request, ingest, async () => {
			if (workers) return apps.acceptWorked(await workers.run(request.body as Buffer, { app: { row: owner, userAgent }, clockShiftMs }));
			return apps.accept(owner, parseBatches(request.body, AppTelemetryBatch, AppTelemetryRequest, clockShiftMs), userAgent);
		});
		return reply.code(202).send(withClockShift(response, clockShiftMs));
	});
};

/** Whether a request is app telemetry (or its preflight): it carries an ingest key, not the run token. */
export function isAppTelemetry(request: FastifyRequest): boolean {
	return (request.method === 'POST' || request.method === 'OPTIONS') && telemetryPath.test(request.url);
}

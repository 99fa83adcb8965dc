import type { FastifyPluginAsync } from 'fastify';
import {
	BucketQuery,
	EvaluateRequest,
	type EvaluateResponse,
	EventsQuery,
	PeersQuery,
	RunListQuery,
	type RunList,
	RunParams,
	RunUpsert,
	type RunView,
	SummaryQuery,
	TimeseriesQuery,
} from '../../protocol/api.ts';
import { HttpError, parseRequest } from '../http.ts';
import type { Ingest } from '../ingest/Ingest.ts';
import type { Queries } from '../queries/index.ts';
import type { ViewCache } from '../queries/ViewCache.ts';

/** The run registry and the query API under /v1/runs. */
export const runsPlugin: FastifyPluginAsync<{ ingest: Ingest; queries: Queries; views: ViewCache }> = async (
	app,
	{ ingest, queries, views },
) => {
	const runIdOf = (params: unknown): string => parseRequest(RunParams, params, 'path').runId;
	const found = <T>(runId: string, value: T | undefined): T => {
		if (value === undefined) throw new HttpError(404, 'not_found', `no run ${runId}`);
		return value;
	};

	/** The answer from the cache when the run is finished ("Cache-Control: no-cache" skips it). */
	async function cached<T>(
		runId: string,
		key: string,
		noCache: boolean,
		compute: () => Promise<T>,
		finished: (value: T) => Promise<boolean> = async () => (await queries.registry.get(runId))?.status !== 'running',
	): Promise<T> {
		const hit = noCache ? undefined : views.get<T>(runId, key);
		if (hit !== undefined) return hit;
		const value = await compute();
		if (value !== undefined && (await finished(value))) views.set(runId, key, value);
		return value;
	}
	const viewFinished = async (view: RunView | undefined) => view?.run.status !== 'running';
	const noCache = (headers: Record<string, unknown>) => String(headers['cache-control'] ?? '').includes('no-cache');

	app.put('/v1/runs/:runId', async (request, reply) => {
		const runId = runIdOf(request.params);
		const run = parseRequest(RunUpsert, request.body, 'run');
		await ingest.registerRun(runId, run);
		const info = await queries.registry.get(runId);
		// A finished run's view is computed now, so the first dashboard visit is instant.
		if (info && info.status !== 'running') {
			setImmediate(() => {
				void cached(runId, 'view:', true, () => queries.view(runId), viewFinished).catch((error: unknown) =>
					app.log.warn({ err: error, runId }, 'could not precompute the run view'),
				);
			});
		}
		return reply.code(200).send(info);
	});

	app.get('/v1/runs', async (request) => {
		const { limit } = parseRequest(RunListQuery, request.query, 'query');
		const list: RunList = { runs: await queries.registry.list(limit) };
		return list;
	});

	app.get('/v1/runs/:runId', async (request) => {
		const runId = runIdOf(request.params);
		return found(runId, await queries.registry.get(runId));
	});

	app.get('/v1/runs/:runId/view', async (request) => {
		const runId = runIdOf(request.params);
		const { bucket } = parseRequest(BucketQuery, request.query, 'query');
		return found(runId, await cached(runId, `view:${bucket ?? ''}`, noCache(request.headers), () => queries.view(runId, bucket), viewFinished));
	});

	app.post('/v1/runs/:runId/evaluate', async (request) => {
		const runId = runIdOf(request.params);
		const { thresholds } = parseRequest(EvaluateRequest, request.body, 'thresholds');
		const response: EvaluateResponse = { results: await queries.thresholds.evaluate(runId, thresholds) };
		return response;
	});

	app.get('/v1/runs/:runId/summary', async (request) => {
		const runId = runIdOf(request.params);
		const { exact } = parseRequest(SummaryQuery, request.query, 'query');
		return cached(runId, `summary:${exact}`, noCache(request.headers), async () => {
			const { participants } = await queries.series.people(runId, await queries.resolutions.of(runId));
			return queries.summaries.summary(runId, exact === '1', participants);
		});
	});

	app.get('/v1/runs/:runId/timeseries', async (request) => {
		const runId = runIdOf(request.params);
		const query = parseRequest(TimeseriesQuery, request.query, 'query');
		return queries.series.timeseries(runId, query, await queries.resolutions.of(runId, query.bucket));
	});

	app.get('/v1/runs/:runId/participants', async (request) => {
		const runId = runIdOf(request.params);
		const { bucket } = parseRequest(BucketQuery, request.query, 'query');
		return (await queries.series.people(runId, await queries.resolutions.of(runId, bucket))).participants;
	});

	app.get('/v1/runs/:runId/quality', async (request) => {
		const runId = runIdOf(request.params);
		const { bucket } = parseRequest(BucketQuery, request.query, 'query');
		return (await queries.series.people(runId, await queries.resolutions.of(runId, bucket))).quality;
	});

	app.get('/v1/runs/:runId/sfu', async (request) => {
		const runId = runIdOf(request.params);
		const { bucket } = parseRequest(BucketQuery, request.query, 'query');
		return queries.series.sfuLoad(runId, (await queries.resolutions.of(runId, bucket)).bucket);
	});

	app.get('/v1/runs/:runId/generator', async (request) => {
		const runId = runIdOf(request.params);
		const { bucket } = parseRequest(BucketQuery, request.query, 'query');
		return queries.series.generatorHealth(runId, (await queries.resolutions.of(runId, bucket)).bucket);
	});

	app.get('/v1/runs/:runId/first-media', async (request) => queries.summaries.firstMedia(runIdOf(request.params)));

	app.get('/v1/runs/:runId/rooms', async (request) => queries.drill.rooms(runIdOf(request.params)));

	app.get('/v1/runs/:runId/peers', async (request) => {
		const { room } = parseRequest(PeersQuery, request.query, 'query');
		return queries.drill.peers(runIdOf(request.params), room);
	});

	app.get('/v1/runs/:runId/events', async (request) => {
		return queries.drill.events(runIdOf(request.params), parseRequest(EventsQuery, request.query, 'query'));
	});
};

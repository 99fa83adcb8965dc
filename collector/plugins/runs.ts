import type { FastifyPluginAsync } from 'fastify';
import type { EvaluateResponse, RunList, RunView } from '../../protocol/api.ts';
import { collectorEndpoints as e } from '../../protocol/endpoints.ts';
import { HttpError, parseRequest } from '../http.ts';
import type { Ingest } from '../ingest/Ingest.ts';
import type { Queries } from '../queries/index.ts';
import type { ViewCache } from '../queries/ViewCache.ts';
import type { RunCoordinator } from '../runs/RunCoordinator.ts';

/** The run registry and the query API under /v1/runs. */
export const runsPlugin: FastifyPluginAsync<{ ingest: Ingest; queries: Queries; views: ViewCache }> = async (
	app,
	{ ingest, queries, views },
) => {
	const runIdOf = (params: unknown): string => parseRequest(e.run.params, params, 'path').runId;
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
		return views.remember(runId, key, compute, async (value) => value !== undefined && (await finished(value)));
	}
	const viewFinished = async (view: RunView | undefined) => view?.run.status !== 'running';
	const noCache = (headers: Record<string, unknown>) => String(headers['cache-control'] ?? '').includes('no-cache');

	app.put(e.registerRun.path, async (request, reply) => {
		const runId = runIdOf(request.params);
		const run = parseRequest(e.registerRun.body, request.body, 'run');
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

	app.get(e.time.path, async () => ({ now: Date.now() }));

	app.get(e.runs.path, async (request) => {
		const { limit, kind, app: appId } = parseRequest(e.runs.query, request.query, 'query');
		const list: RunList = { runs: await queries.registry.list(limit, undefined, { kind, app: appId }) };
		return list;
	});

	app.get(e.run.path, async (request) => {
		const runId = runIdOf(request.params);
		return found(runId, await queries.registry.get(runId));
	});

	app.get(e.view.path, async (request) => {
		const runId = runIdOf(request.params);
		const { bucket } = parseRequest(e.view.query, request.query, 'query');
		return found(runId, await cached(runId, `view:${bucket ?? ''}`, noCache(request.headers), () => queries.view(runId, bucket), viewFinished));
	});

	app.post(e.evaluate.path, async (request) => {
		const runId = runIdOf(request.params);
		const { thresholds } = parseRequest(e.evaluate.body, request.body, 'thresholds');
		const response: EvaluateResponse = { results: await queries.thresholds.evaluate(runId, thresholds) };
		return response;
	});

	app.get(e.summary.path, async (request) => {
		const runId = runIdOf(request.params);
		const { exact } = parseRequest(e.summary.query, request.query, 'query');
		return cached(runId, `summary:${exact}`, noCache(request.headers), async () => {
			const { participants } = await queries.series.people(runId, await queries.resolutions.of(runId));
			return queries.summaries.summary(runId, exact === '1', participants);
		});
	});

	app.get(e.timeseries.path, async (request) => {
		const runId = runIdOf(request.params);
		const query = parseRequest(e.timeseries.query, request.query, 'query');
		return queries.series.timeseries(runId, query, await queries.resolutions.of(runId, query.bucket));
	});

	app.get(e.participants.path, async (request) => {
		const runId = runIdOf(request.params);
		const { bucket } = parseRequest(e.view.query, request.query, 'query');
		return (await queries.series.people(runId, await queries.resolutions.of(runId, bucket))).participants;
	});

	app.get(e.quality.path, async (request) => {
		const runId = runIdOf(request.params);
		const { bucket } = parseRequest(e.view.query, request.query, 'query');
		return (await queries.series.people(runId, await queries.resolutions.of(runId, bucket))).quality;
	});

	app.get(e.sfu.path, async (request) => {
		const runId = runIdOf(request.params);
		const { bucket } = parseRequest(e.view.query, request.query, 'query');
		return queries.series.sfuLoad(runId, (await queries.resolutions.of(runId, bucket)).bucket);
	});

	app.get(e.generator.path, async (request) => {
		const runId = runIdOf(request.params);
		const { bucket } = parseRequest(e.view.query, request.query, 'query');
		return queries.series.generatorHealth(runId, (await queries.resolutions.of(runId, bucket)).bucket);
	});

	app.get(e.firstMedia.path, async (request) => queries.summaries.firstMedia(runIdOf(request.params)));

	app.get(e.rooms.path, async (request) => queries.drill.rooms(runIdOf(request.params)));

	app.get(e.peers.path, async (request) => {
		const { room } = parseRequest(e.peers.query, request.query, 'query');
		return queries.drill.peers(runIdOf(request.params), room);
	});

	app.get(e.delayMatrix.path, async (request) => {
		const { room } = parseRequest(e.delayMatrix.query, request.query, 'query');
		return queries.drill.delayMatrix(runIdOf(request.params), room);
	});

	app.get(e.events.path, async (request) => {
		return queries.drill.events(runIdOf(request.params), parseRequest(e.events.query, request.query, 'query'));
	});
};

/** Multi-machine runs: shard reports and heartbeats, aborts that stop every shard, the one verdict. */
export const shardsPlugin: FastifyPluginAsync<{ coordinator: RunCoordinator }> = async (app, { coordinator }) => {
	app.put(e.reportShard.path, async (request) => {
		const { runId, index } = parseRequest(e.reportShard.params, request.params, 'path');
		return coordinator.report(runId, index, parseRequest(e.reportShard.body, request.body, 'shard report'));
	});

	app.post(e.abortRun.path, async (request) => {
		const { runId } = parseRequest(e.abortRun.params, request.params, 'path');
		return coordinator.abort(runId, parseRequest(e.abortRun.body, request.body, 'abort'));
	});

	app.get(e.coordination.path, async (request) => coordinator.coordination(parseRequest(e.coordination.params, request.params, 'path').runId));
};

import type { FastifyPluginAsync } from 'fastify';
import {
	BucketQuery,
	EventsQuery,
	PeersQuery,
	RunListQuery,
	RunParams,
	RunUpsert,
	SummaryQuery,
	TimeseriesQuery,
} from '../../protocol/api.ts';
import { HttpError, parseRequest } from '../http.ts';
import type { Ingest } from '../ingest/Ingest.ts';
import type { RunQueries } from '../queries/RunQueries.ts';

/** The run registry and the query API under /v1/runs. */
export const runsPlugin: FastifyPluginAsync<{ ingest: Ingest; queries: RunQueries }> = async (app, { ingest, queries }) => {
	const runIdOf = (params: unknown): string => parseRequest(RunParams, params, 'path').runId;

	app.put('/v1/runs/:runId', async (request, reply) => {
		const runId = runIdOf(request.params);
		const run = parseRequest(RunUpsert, request.body, 'run');
		await ingest.registerRun(runId, run);
		return reply.code(200).send(await queries.run(runId));
	});

	app.get('/v1/runs', async (request) => {
		const { limit } = parseRequest(RunListQuery, request.query, 'query');
		return { runs: await queries.listRuns(limit) };
	});

	app.get('/v1/runs/:runId', async (request) => {
		const runId = runIdOf(request.params);
		const run = await queries.run(runId);
		if (!run) throw new HttpError(404, 'not_found', `no run ${runId}`);
		return run;
	});

	app.get('/v1/runs/:runId/summary', async (request) => {
		const { exact } = parseRequest(SummaryQuery, request.query, 'query');
		return queries.summary(runIdOf(request.params), exact === '1');
	});

	app.get('/v1/runs/:runId/timeseries', async (request) => {
		return queries.timeseries(runIdOf(request.params), parseRequest(TimeseriesQuery, request.query, 'query'));
	});

	app.get('/v1/runs/:runId/participants', async (request) => {
		const runId = runIdOf(request.params);
		const { bucket } = parseRequest(BucketQuery, request.query, 'query');
		return queries.participants(runId, await queries.bucketFor(runId, bucket));
	});

	app.get('/v1/runs/:runId/quality', async (request) => {
		const runId = runIdOf(request.params);
		const { bucket } = parseRequest(BucketQuery, request.query, 'query');
		return queries.qualityBands(runId, await queries.bucketFor(runId, bucket));
	});

	app.get('/v1/runs/:runId/sfu', async (request) => {
		const runId = runIdOf(request.params);
		const { bucket } = parseRequest(BucketQuery, request.query, 'query');
		return queries.sfuLoad(runId, await queries.bucketFor(runId, bucket));
	});

	app.get('/v1/runs/:runId/first-media', async (request) => queries.firstMedia(runIdOf(request.params)));

	app.get('/v1/runs/:runId/rooms', async (request) => queries.rooms(runIdOf(request.params)));

	app.get('/v1/runs/:runId/peers', async (request) => {
		const { room } = parseRequest(PeersQuery, request.query, 'query');
		return queries.peers(runIdOf(request.params), room);
	});

	app.get('/v1/runs/:runId/events', async (request) => {
		return queries.events(runIdOf(request.params), parseRequest(EventsQuery, request.query, 'query'));
	});
};

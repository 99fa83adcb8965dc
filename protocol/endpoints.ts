/**
 * The collector's HTTP API as one table: method, path, the schemas of what goes in and of the
 * reply. The collector's plugins register these routes, and the load generator's client and
 * the dashboard call them, from this table.
 */
import { z } from 'zod';
import {
	BucketQuery,
	DelayMatrix,
	EvaluateRequest,
	EvaluateResponse,
	EventList,
	EventsQuery,
	FirstMediaDistribution,
	GeneratorHealth,
	ParticipantsSeries,
	PeerList,
	PeersQuery,
	QualityBands,
	RoomList,
	RunInfo,
	RunList,
	RunListQuery,
	RunParams,
	RunSummary,
	RunUpsert,
	RunView,
	SfuLoad,
	SummaryQuery,
	Timeseries,
	TimeseriesQuery,
} from './api.ts';
import {
	AlertList,
	AlertRule,
	AlertRuleCreate,
	AppCreate,
	AppInfo,
	AppKeyInfo,
	AppKeyList,
	AppList,
	AppParams,
	AppTelemetryResponse,
	AppUpdate,
	AppView,
	AppViewQuery,
	AlertParams,
	DeletionReport,
	DeletionRequest,
	KeyParams,
	AlertTestReport,
} from './apps.ts';
import { appTelemetryPath } from './sdk.ts';
import { AbortRequest, RunCoordination, ShardParams, ShardReport } from './shards.ts';
import { TelemetryQuery, TelemetryResponse } from './telemetry.ts';

export interface Endpoint {
	method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
	/** Fastify notation: `:runId` is a path parameter. */
	path: string;
	params?: z.ZodType;
	query?: z.ZodType;
	body?: z.ZodType;
	response: z.ZodType;
}

export const collectorEndpoints = {
	telemetry: { method: 'POST', path: '/v1/telemetry', query: TelemetryQuery, response: TelemetryResponse },
	/** The collector's clock: senders on other machines measure their offset to it (end-to-end delay across shards). */
	time: { method: 'GET', path: '/v1/time', response: z.object({ now: z.number() }) },
	registerRun: { method: 'PUT', path: '/v1/runs/:runId', params: RunParams, body: RunUpsert, response: RunInfo },
	runs: { method: 'GET', path: '/v1/runs', query: RunListQuery, response: RunList },
	run: { method: 'GET', path: '/v1/runs/:runId', params: RunParams, response: RunInfo },
	view: { method: 'GET', path: '/v1/runs/:runId/view', params: RunParams, query: BucketQuery, response: RunView },
	evaluate: { method: 'POST', path: '/v1/runs/:runId/evaluate', params: RunParams, body: EvaluateRequest, response: EvaluateResponse },
	summary: { method: 'GET', path: '/v1/runs/:runId/summary', params: RunParams, query: SummaryQuery, response: RunSummary },
	timeseries: { method: 'GET', path: '/v1/runs/:runId/timeseries', params: RunParams, query: TimeseriesQuery, response: Timeseries },
	participants: { method: 'GET', path: '/v1/runs/:runId/participants', params: RunParams, query: BucketQuery, response: ParticipantsSeries },
	quality: { method: 'GET', path: '/v1/runs/:runId/quality', params: RunParams, query: BucketQuery, response: QualityBands },
	sfu: { method: 'GET', path: '/v1/runs/:runId/sfu', params: RunParams, query: BucketQuery, response: SfuLoad },
	generator: { method: 'GET', path: '/v1/runs/:runId/generator', params: RunParams, query: BucketQuery, response: GeneratorHealth },
	firstMedia: { method: 'GET', path: '/v1/runs/:runId/first-media', params: RunParams, response: FirstMediaDistribution },
	rooms: { method: 'GET', path: '/v1/runs/:runId/rooms', params: RunParams, response: RoomList },
	peers: { method: 'GET', path: '/v1/runs/:runId/peers', params: RunParams, query: PeersQuery, response: PeerList },
	delayMatrix: { method: 'GET', path: '/v1/runs/:runId/e2e', params: RunParams, query: PeersQuery, response: DelayMatrix },
	events: { method: 'GET', path: '/v1/runs/:runId/events', params: RunParams, query: EventsQuery, response: EventList },
	// Multi-machine runs: shards report, abort together, and get one verdict.
	reportShard: { method: 'PUT', path: '/v1/runs/:runId/shards/:index', params: ShardParams, body: ShardReport, response: RunCoordination },
	abortRun: { method: 'POST', path: '/v1/runs/:runId/abort', params: RunParams, body: AbortRequest, response: RunCoordination },
	coordination: { method: 'GET', path: '/v1/runs/:runId/coordination', params: RunParams, response: RunCoordination },
	// Production monitoring: apps, their ingest keys, telemetry from their pages, the app view, alerts, deletion.
	createApp: { method: 'POST', path: '/v1/apps', body: AppCreate, response: AppInfo },
	apps: { method: 'GET', path: '/v1/apps', response: AppList },
	app: { method: 'GET', path: '/v1/apps/:appId', params: AppParams, response: AppInfo },
	updateApp: { method: 'PATCH', path: '/v1/apps/:appId', params: AppParams, body: AppUpdate, response: AppInfo },
	createKey: { method: 'POST', path: '/v1/apps/:appId/keys', params: AppParams, response: AppKeyInfo },
	keys: { method: 'GET', path: '/v1/apps/:appId/keys', params: AppParams, response: AppKeyList },
	revokeKey: { method: 'DELETE', path: '/v1/apps/:appId/keys/:keyId', params: KeyParams, response: AppKeyInfo },
	/** An ingest key (header `x-callswarm-key` or `?key=`), not the run token; CORS for the app's origins. */
	appTelemetry: { method: 'POST', path: appTelemetryPath, params: AppParams, query: TelemetryQuery, response: AppTelemetryResponse },
	appView: { method: 'GET', path: '/v1/apps/:appId/view', params: AppParams, query: AppViewQuery, response: AppView },
	createAlert: { method: 'POST', path: '/v1/apps/:appId/alerts', params: AppParams, body: AlertRuleCreate, response: AlertRule },
	alerts: { method: 'GET', path: '/v1/apps/:appId/alerts', params: AppParams, response: AlertList },
	deleteAlert: { method: 'DELETE', path: '/v1/apps/:appId/alerts/:ruleId', params: AlertParams, response: AlertRule },
	testAlert: { method: 'POST', path: '/v1/apps/:appId/alerts/:ruleId/test', params: AlertParams, response: AlertTestReport },
	deleteData: { method: 'POST', path: '/v1/apps/:appId/deletions', params: AppParams, body: DeletionRequest, response: DeletionReport },
} as const satisfies Record<string, Endpoint>;

export type CollectorEndpoint = keyof typeof collectorEndpoints;
export type EndpointReply<E extends CollectorEndpoint> = z.output<(typeof collectorEndpoints)[E]['response']>;

/** The URL path of an endpoint: parameters filled in (encoded), the query string appended. */
export function endpointPath(
	endpoint: CollectorEndpoint,
	params: Record<string, string> = {},
	query: Record<string, string | number | undefined> = {},
): string {
	const path = collectorEndpoints[endpoint].path.replace(/:(\w+)/g, (_, name: string) => {
		const value = params[name];
		if (value === undefined) throw new Error(`${endpoint}: no value for :${name}`);
		return encodeURIComponent(value);
	});
	const search = new URLSearchParams(
		Object.entries(query)
			.filter((e): e is [string, string | number] => e[1] !== undefined)
			.map(([k, v]) => [k, String(v)]),
	).toString();
	return search ? `${path}?${search}` : path;
}

import type { RunInfo, RunUpsert, ThresholdResult } from '../protocol/api.ts';
import type { AlertRuleCreate, AppCreate, AppInfo, AppKeyInfo, AppUpdate, DeletionReport, DeletionRequest } from '../protocol/apps.ts';
import { collectorEndpoints, endpointPath, type CollectorEndpoint, type EndpointReply } from '../protocol/endpoints.ts';
import { describeZodError } from '../protocol/issues.ts';
import type { AbortRequest, RunCoordination, ShardReport } from '../protocol/shards.ts';
import type { TelemetryBatchInput } from '../protocol/telemetry.ts';
import type { ThresholdExpressions } from '../protocol/thresholds.ts';

export class CollectorError extends Error {
	override name = 'CollectorError';
	constructor(
		message: string,
		readonly status: number,
		readonly retryAfterMs?: number,
	) {
		super(message);
	}
}

/** The collector's HTTP API (protocol/endpoints.ts) as the load generator and the CLI use it; replies are validated. */
export class CollectorClient {
	constructor(
		readonly baseUrl: string,
		private readonly token?: string,
	) {}

	async #call<E extends CollectorEndpoint>(
		endpoint: E,
		params: Record<string, string> = {},
		query: Record<string, string | number | undefined> = {},
		body?: unknown,
	): Promise<EndpointReply<E>> {
		const { method, response: schema } = collectorEndpoints[endpoint];
		const path = endpointPath(endpoint, params, query);
		let response: Response;
		try {
			response = await fetch(`${this.baseUrl}${path}`, {
				method,
				headers: {
					...(body === undefined ? {} : { 'content-type': 'application/json' }),
					...(this.token ? { authorization: `Bearer ${this.token}` } : {}),
				},
				body: body === undefined ? undefined : JSON.stringify(body),
				signal: AbortSignal.timeout(60_000),
			});
		} catch (error) {
			throw new CollectorError(`collector at ${this.baseUrl} unreachable: ${(error as Error).message}`, 0);
		}
		const text = await response.text();
		if (!response.ok) {
			const retryAfter = Number(response.headers.get('retry-after'));
			throw new CollectorError(
				`${method} ${path}: ${response.status} ${text.slice(0, 300)}`,
				response.status,
				Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter * 1000 : undefined,
			);
		}
		const parsed = schema.safeParse(text ? JSON.parse(text) : {});
		if (!parsed.success) throw new CollectorError(`${method} ${path}: unexpected reply: ${describeZodError(parsed.error)}`, response.status);
		return parsed.data as EndpointReply<E>;
	}

	/** This machine's clock minus the collector's, from the quickest of a few round trips (NTP's way). */
	async clockOffset(samples = 5): Promise<{ offsetMs: number; roundTripMs: number }> {
		let best: { offsetMs: number; roundTripMs: number } | undefined;
		for (let i = 0; i < samples; i++) {
			const sent = Date.now();
			const { now } = await this.#call('time');
			const received = Date.now();
			const sample = { offsetMs: (sent + received) / 2 - now, roundTripMs: received - sent };
			if (!best || sample.roundTripMs < best.roundTripMs) best = sample;
		}
		return best!;
	}

	registerRun(runId: string, run: RunUpsert): Promise<RunInfo> {
		return this.#call('registerRun', { runId }, {}, run);
	}

	postTelemetry(batches: TelemetryBatchInput[]): Promise<EndpointReply<'telemetry'>> {
		// Stamped on every attempt: the collector corrects the times of a machine whose clock is far off its own.
		return this.#call('telemetry', {}, { sentAt: Date.now() }, { batches });
	}

	async evaluate(runId: string, thresholds: ThresholdExpressions): Promise<ThresholdResult[]> {
		return (await this.#call('evaluate', { runId }, {}, { thresholds })).results;
	}

	summary(runId: string, exact = false): Promise<EndpointReply<'summary'>> {
		return this.#call('summary', { runId }, exact ? { exact: 1 } : {});
	}

	timeseries(runId: string, metrics: string[], bucket?: number): Promise<EndpointReply<'timeseries'>> {
		return this.#call('timeseries', { runId }, { metrics: metrics.join(','), bucket });
	}

	generator(runId: string): Promise<EndpointReply<'generator'>> {
		return this.#call('generator', { runId });
	}

	view(runId: string): Promise<EndpointReply<'view'>> {
		return this.#call('view', { runId });
	}

	rooms(runId: string): Promise<EndpointReply<'rooms'>> {
		return this.#call('rooms', { runId });
	}

	peers(runId: string): Promise<EndpointReply<'peers'>> {
		return this.#call('peers', { runId });
	}

	delayMatrix(runId: string, room?: string): Promise<EndpointReply<'delayMatrix'>> {
		return this.#call('delayMatrix', { runId }, { room });
	}

	async runs(limit = 50): Promise<RunInfo[]> {
		return (await this.#call('runs', {}, { limit })).runs;
	}

	run(runId: string): Promise<RunInfo> {
		return this.#call('run', { runId });
	}

	// ---- multi-machine runs ----

	reportShard(runId: string, index: number, report: ShardReport): Promise<RunCoordination> {
		return this.#call('reportShard', { runId, index: String(index) }, {}, report);
	}

	abortRun(runId: string, request: AbortRequest): Promise<RunCoordination> {
		return this.#call('abortRun', { runId }, {}, request);
	}

	coordination(runId: string): Promise<RunCoordination> {
		return this.#call('coordination', { runId });
	}

	// ---- production apps ----

	async apps(): Promise<AppInfo[]> {
		return (await this.#call('apps')).apps;
	}

	createApp(app: AppCreate): Promise<AppInfo> {
		return this.#call('createApp', {}, {}, app);
	}

	updateApp(appId: string, patch: AppUpdate): Promise<AppInfo> {
		return this.#call('updateApp', { appId }, {}, patch);
	}

	async keys(appId: string): Promise<AppKeyInfo[]> {
		return (await this.#call('keys', { appId })).keys;
	}

	createKey(appId: string): Promise<AppKeyInfo> {
		return this.#call('createKey', { appId });
	}

	revokeKey(appId: string, keyId: string): Promise<AppKeyInfo> {
		return this.#call('revokeKey', { appId, keyId });
	}

	appView(appId: string, range: '1h' | '1d' | '7d' = '1h'): Promise<EndpointReply<'appView'>> {
		return this.#call('appView', { appId }, { range });
	}

	alerts(appId: string): Promise<EndpointReply<'alerts'>> {
		return this.#call('alerts', { appId });
	}

	createAlert(appId: string, rule: AlertRuleCreate): Promise<EndpointReply<'createAlert'>> {
		return this.#call('createAlert', { appId }, {}, rule);
	}

	deleteAlert(appId: string, ruleId: string): Promise<EndpointReply<'deleteAlert'>> {
		return this.#call('deleteAlert', { appId, ruleId });
	}

	testAlert(appId: string, ruleId: string): Promise<EndpointReply<'testAlert'>> {
		return this.#call('testAlert', { appId, ruleId });
	}

	deleteData(appId: string, request: DeletionRequest): Promise<DeletionReport> {
		return this.#call('deleteData', { appId }, {}, request);
	}
}

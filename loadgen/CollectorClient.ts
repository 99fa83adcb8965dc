import type { z } from 'zod';
import {
	EvaluateResponse,
	PeerList,
	RoomList,
	RunInfo,
	RunList,
	RunSummary,
	RunView,
	Timeseries,
	type RunUpsert,
	type ThresholdResult,
} from '../protocol/api.ts';
import { describeZodError } from '../protocol/issues.ts';
import type { MetricName } from '../protocol/metrics.ts';
import { TelemetryResponse, type TelemetryBatchInput } from '../protocol/telemetry.ts';

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

/** The collector's HTTP API as the load generator uses it; replies are validated. */
export class CollectorClient {
	constructor(
		readonly baseUrl: string,
		private readonly token?: string,
	) {}

	async #call<S extends z.ZodType>(method: string, path: string, schema: S, body?: unknown): Promise<z.output<S>> {
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
		return parsed.data;
	}

	registerRun(runId: string, run: RunUpsert): Promise<RunInfo> {
		return this.#call('PUT', `/v1/runs/${encodeURIComponent(runId)}`, RunInfo, run);
	}

	postTelemetry(batches: TelemetryBatchInput[]): Promise<TelemetryResponse> {
		return this.#call('POST', '/v1/telemetry', TelemetryResponse, { batches });
	}

	async evaluate(runId: string, thresholds: Partial<Record<MetricName, string[]>>): Promise<ThresholdResult[]> {
		const reply = await this.#call('POST', `/v1/runs/${encodeURIComponent(runId)}/evaluate`, EvaluateResponse, { thresholds });
		return reply.results;
	}

	summary(runId: string, exact = false): Promise<RunSummary> {
		return this.#call('GET', `/v1/runs/${encodeURIComponent(runId)}/summary${exact ? '?exact=1' : ''}`, RunSummary);
	}

	timeseries(runId: string, metrics: string[], bucket?: number): Promise<Timeseries> {
		const query = new URLSearchParams({ metrics: metrics.join(','), ...(bucket ? { bucket: String(bucket) } : {}) });
		return this.#call('GET', `/v1/runs/${encodeURIComponent(runId)}/timeseries?${query}`, Timeseries);
	}

	view(runId: string): Promise<RunView> {
		return this.#call('GET', `/v1/runs/${encodeURIComponent(runId)}/view`, RunView);
	}

	rooms(runId: string): Promise<RoomList> {
		return this.#call('GET', `/v1/runs/${encodeURIComponent(runId)}/rooms`, RoomList);
	}

	peers(runId: string): Promise<PeerList> {
		return this.#call('GET', `/v1/runs/${encodeURIComponent(runId)}/peers`, PeerList);
	}

	async runs(limit = 50): Promise<RunInfo[]> {
		return (await this.#call('GET', `/v1/runs?limit=${limit}`, RunList)).runs;
	}

	run(runId: string): Promise<RunInfo> {
		return this.#call('GET', `/v1/runs/${encodeURIComponent(runId)}`, RunInfo);
	}
}

import { timingSafeEqual } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import compress from '@fastify/compress';
import fastifyStatic from '@fastify/static';
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import { sdkScript } from '../capture/bundle.ts';
import { InputError, parseInput } from '../protocol/issues.ts';
import { AlertEngine } from './alerts/AlertEngine.ts';
import { AppIngest } from './apps/AppIngest.ts';
import { AppRegistry } from './apps/AppRegistry.ts';
import { CallTracker } from './apps/CallTracker.ts';
import { HttpError, installErrorHandler } from './http.ts';
import { BatchWorkers } from './ingest/BatchWorkers.ts';
import { Ingest } from './ingest/Ingest.ts';
import { Journal } from './ingest/Journal.ts';
import { RecentIds } from './ingest/RecentIds.ts';
import { StoreWriter } from './ingest/StoreWriter.ts';
import { Normalizer } from './normalize/Normalizer.ts';
import { CollectorOptions, isLoopback, type CollectorOptionsInput } from './options.ts';
import { appTelemetryPlugin, isAppTelemetry } from './plugins/appTelemetry.ts';
import { appsPlugin } from './plugins/apps.ts';
import { runsPlugin, shardsPlugin } from './plugins/runs.ts';
import { telemetryPlugin } from './plugins/telemetry.ts';
import { Deletion } from './privacy/Deletion.ts';
import { AppViews } from './queries/AppViews.ts';
import { Queries } from './queries/index.ts';
import { RunCoordinator } from './runs/RunCoordinator.ts';
import { Sql } from './queries/sql.ts';
import { ViewCache } from './queries/ViewCache.ts';
import { ClickHouseStore } from './store/ClickHouseStore.ts';

/** Production monitoring: apps, their calls, their views and alerts. */
export interface Production {
	registry: AppRegistry;
	calls: CallTracker;
	ingest: AppIngest;
	views: AppViews;
	alerts: AlertEngine;
	deletion: Deletion;
}

/** The telemetry collector: ingest, the run registry and query API, production apps, and the dashboard. */
export class Collector {
	#sweepTimer: NodeJS.Timeout | undefined;
	production!: Production;
	coordinator!: RunCoordinator;

	private constructor(
		readonly options: CollectorOptions,
		readonly app: FastifyInstance,
		readonly store: ClickHouseStore,
		readonly journal: Journal,
		readonly writer: StoreWriter,
		readonly ingest: Ingest,
		readonly queries: Queries,
		readonly views: ViewCache,
		/** Threads that parse and normalise telemetry (none: this thread does). */
		readonly ingestWorkers: BatchWorkers | undefined,
	) {}

	static async start(input: CollectorOptionsInput = {}): Promise<Collector> {
		const options = parseInput(CollectorOptions, input, 'collector options');
		if (!isLoopback(options.listenIp) && !options.token) {
			throw new InputError(
				`the collector listens on ${options.listenIp}, beyond loopback: set a token (--token or CALLSWARM_COLLECTOR_TOKEN)`,
			);
		}
		if (!isLoopback(options.listenIp) && !options.tls && !options.allowPlainHttp) {
			throw new InputError(
				`the collector listens on ${options.listenIp}, beyond loopback, over plain HTTP: serve HTTPS (--tls-cert and --tls-key), or, behind a TLS-terminating proxy, pass --allow-plain-http`,
			);
		}
		const https = options.tls ? { cert: readTlsFile(options.tls.cert, 'certificate'), key: readTlsFile(options.tls.key, 'key') } : undefined;
		const store = await ClickHouseStore.open({
			...options.store,
			dataDir: options.store.dataDir ?? path.join(options.dataDir, 'clickhouse'),
		});
		let journal: Journal;
		let writer: StoreWriter;
		let recoveredIds: string[];
		try {
			const opened = await Journal.open(path.resolve(options.journalDir ?? path.join(options.dataDir, 'journal')), { sync: options.journalSync });
			journal = opened.journal;
			recoveredIds = opened.recovered.flatMap((s) => s.entries?.flatMap((e) => e.batchIds) ?? []);
			writer = new StoreWriter(store, journal, options, opened.recovered);
		} catch (error) {
			await store.close();
			throw error;
		}
		const views = new ViewCache();
		const normalizer = new Normalizer({ retentionDays: options.store.sampleTtlDays, rawRetentionDays: options.store.rawReportTtlDays });
		const ingest = new Ingest(journal, writer, normalizer, new RecentIds(500_000), options.keepRawReports);
		const workers =
			options.ingestWorkers > 0
				? new BatchWorkers(options.ingestWorkers, {
						defaults: { retentionDays: options.store.sampleTtlDays, rawRetentionDays: options.store.rawReportTtlDays },
						keepRawReports: options.keepRawReports,
					})
				: undefined;
		ingest.on('runchanged', (runId) => views.invalidate(runId));
		// Accepted rows reach the store a moment later: an answer computed in between lacks them.
		writer.on('flushed', ({ runIds }) => (runIds ? runIds.forEach((runId) => views.invalidate(runId)) : views.clear()));
		const queries = new Queries(store);
		const app = Fastify({
			...(https ? { https } : {}),
			logger: options.logLevel === 'silent' ? false : { level: options.logLevel },
			bodyLimit: options.bodyLimitBytes,
			// Such keys are dropped from bodies, not refused: the rest of a request (other bots' batches) is kept.
			onProtoPoisoning: 'remove',
			onConstructorPoisoning: 'remove',
		});
		const collector = new Collector(options, app, store, journal, writer, ingest, queries, views, workers);
		workers?.on('workerexit', ({ error }) => app.log.error({ err: error }, 'an ingest worker died: its requests were not kept (their senders retry); a new one started'));
		writer.on('degraded', (error) => app.log.error({ err: error }, 'ClickHouse unavailable: telemetry waits in the journal on disk'));
		writer.on('recovered', (info) => app.log.warn(info, 'ClickHouse is back: the journal is stored'));
		writer.on('quarantined', ({ segment, table, error }) =>
			app.log.error({ segment, table, err: error }, 'a journal segment refused by ClickHouse was set aside'),
		);
		ingest.on('batchfailed', ({ batchId, error }) => app.log.error({ batchId, err: error }, 'a telemetry batch could not be normalised'));
		try {
			ingest.rememberBatches(recoveredIds);
			await collector.#loadState();
			await collector.#startProduction();
			collector.coordinator = await RunCoordinator.start(store, ingest, queries.thresholds);
			await collector.#routes();
			await app.listen({ host: options.listenIp, port: options.port });
		} catch (error) {
			await collector.close();
			throw error;
		}
		return collector;
	}

	get url(): string {
		const address = this.app.server.address() as AddressInfo;
		const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
		return `${this.options.tls ? 'https' : 'http'}://${host === '0.0.0.0' || host === '[::]' ? '127.0.0.1' : host}:${address.port}`;
	}

	/** Apps and their keys from the store, calls running when the collector stopped, alert rules. */
	async #startProduction(): Promise<void> {
		const registry = await AppRegistry.load(this.store);
		const calls = new CallTracker((appId) => (registry.get(appId)?.call_idle_minutes ?? 5) * 60_000);
		const db = `\`${this.store.database}\``;
		const running = await this.store.query<{ run_id: string; app_id: string; started: number; last: number; peers: number }>(
			`SELECT r.run_id AS run_id, r.app_id AS app_id, toUnixTimestamp64Milli(r.started_at) AS started,
				toUnixTimestamp64Milli(ifNull(p.last, r.started_at)) AS last, ifNull(p.peers, 0) AS peers
			FROM (SELECT run_id, app_id, started_at FROM ${db}.runs FINAL WHERE kind = 'call' AND status = 'running') AS r
			LEFT JOIN (SELECT run_id, max(last_seen) AS last, uniqExact(peer_id) AS peers FROM ${db}.call_participants GROUP BY run_id) AS p ON p.run_id = r.run_id
			SETTINGS join_use_nulls = 1`,
		);
		for (const call of running) calls.restore(call.app_id, call.run_id, Number(call.started), Number(call.last), Number(call.peers));
		const sql = new Sql(this.store);
		const views = new AppViews(sql);
		const alerts = await AlertEngine.start(this.store, sql, this.queries.thresholds, { intervalMs: this.options.alertIntervalMs });
		alerts.on('notified', (event) => this.app.log.info({ app: event.app_id, rule: event.rule_id, state: event.state }, 'alert'));
		const deletion = new Deletion(this.store, this.ingest, registry, calls, {
			invalidate: (appId, callKeys) => {
				views.invalidate(appId);
				for (const key of callKeys) this.views.invalidate(key);
			},
		});
		calls.on('ended', (call) => {
			const app = registry.get(call.appId);
			void this.ingest
				.registerRun(call.callKey, { scenario: app?.name || call.appId, status: 'finished', startedAt: call.startedAt, endedAt: call.endedAt }, { kind: 'call', appId: call.appId })
				.catch((error: unknown) => this.app.log.warn({ err: error, call: call.callKey }, 'could not record the end of a call'));
		});
		this.#sweepTimer = setInterval(() => calls.sweep(), this.options.callSweepIntervalMs);
		this.#sweepTimer.unref();
		this.production = { registry, calls, ingest: new AppIngest(this.ingest, calls), views, alerts, deletion };
	}

	/** Stores everything accepted so far (or, with the store down, leaves it safe in the journal). */
	flush(): Promise<void> {
		return this.writer.flush();
	}

	/** Batch ids and runs already stored, so retries across a restart are still recognised. */
	async #loadState(): Promise<void> {
		const db = `\`${this.store.database}\``;
		const runs = await this.store.query<{ run_id: string }>(`SELECT DISTINCT run_id FROM ${db}.runs`);
		this.ingest.rememberRuns(runs.map((r) => r.run_id));
		const batches = await this.store.query<{ batch_id: string }>(
			`SELECT batch_id FROM ${db}.batches WHERE ts > now() - INTERVAL 1 DAY ORDER BY ts LIMIT 500000`,
		);
		this.ingest.rememberBatches(batches.map((b) => b.batch_id));
	}

	/**
	 * Writes need the run token. Reads are open to loopback clients; from anywhere else they need
	 * the read token or the run token. The dashboard's static files carry no data and stay open.
	 */
	#authorize(request: FastifyRequest): void {
		const { token, readToken } = this.options;
		if (!token) return;
		// Pages post their app's telemetry with its ingest key (checked by the route), never the run token.
		if (isAppTelemetry(request)) return;
		const write = request.method !== 'GET' && request.method !== 'HEAD';
		if (!write && (isLoopback(request.socket.remoteAddress) || !request.url.startsWith('/v1/'))) return;
		const given = request.headers.authorization ?? '';
		const accepted = write ? [token] : [token, readToken];
		if (accepted.some((t) => t !== undefined && sameSecret(given, `Bearer ${t}`))) return;
		throw new HttpError(
			401,
			'unauthorized',
			write ? 'send the run token: Authorization: Bearer <token>' : 'reads from beyond loopback need a token: Authorization: Bearer <read token>',
		);
	}

	async #routes(): Promise<void> {
		const { app, options } = this;
		installErrorHandler(app);
		// Gzip request bodies are inflated here; bodyLimit then applies to the inflated size.
		await app.register(compress, { global: true, requestEncodings: ['gzip', 'deflate'], threshold: 2048 });
		app.addHook('onRequest', async (request) => this.#authorize(request));
		app.get('/healthz', async (_request, reply) => {
			const healthy = !this.writer.degraded && !this.journal.diskFull;
			return reply.code(healthy ? 200 : 503).send({
				ok: healthy,
				store: this.store.kind,
				storeAvailable: !this.writer.degraded,
				diskFull: this.journal.diskFull,
				pendingRows: this.writer.pendingRows,
				journalSegments: this.journal.files,
				journalBytes: this.journal.bytes,
			});
		});
		await app.register(telemetryPlugin, { ingest: this.ingest, workers: this.ingestWorkers });
		await app.register(runsPlugin, { ingest: this.ingest, queries: this.queries, views: this.views });
		await app.register(shardsPlugin, { coordinator: this.coordinator });
		const production = this.production;
		await app.register(appTelemetryPlugin, { ingest: this.ingest, apps: production.ingest, registry: production.registry, workers: this.ingestWorkers });
		await app.register(appsPlugin, production);
		// The monitoring SDK, for pages of any origin (a module script cross-origin needs CORS).
		app.get('/sdk/callswarm.js', async (_request, reply) =>
			reply
				.headers({ 'content-type': 'text/javascript; charset=utf-8', 'access-control-allow-origin': '*', 'cache-control': 'public, max-age=300' })
				.send(await sdkScript()),
		);
		if (options.dashboardDir && existsSync(options.dashboardDir)) {
			await app.register(fastifyStatic, { root: path.resolve(options.dashboardDir), prefix: '/' });
		}
	}

	/** Stops taking requests, stores what it can; the rest stays in the journal for the next start. */
	async close(): Promise<void> {
		clearInterval(this.#sweepTimer);
		this.coordinator?.close();
		await this.production?.alerts.close();
		await this.app.close();
		await this.ingestWorkers?.close();
		await this.writer.close();
		await this.store.close();
	}
}

function readTlsFile(file: string, what: string): Buffer {
	try {
		return readFileSync(file);
	} catch (error) {
		throw new InputError(`cannot read the TLS ${what} ${file}: ${(error as Error).message}`);
	}
}

function sameSecret(given: string, expected: string): boolean {
	const a = Buffer.from(given);
	const b = Buffer.from(expected);
	return a.length === b.length && timingSafeEqual(a, b);
}

export function startCollector(options: CollectorOptionsInput = {}): Promise<Collector> {
	return Collector.start(options);
}

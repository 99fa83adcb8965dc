import { timingSafeEqual } from 'node:crypto';
import { existsSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import compress from '@fastify/compress';
import fastifyStatic from '@fastify/static';
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import { InputError, parseInput } from '../protocol/issues.ts';
import { HttpError, installErrorHandler } from './http.ts';
import { Ingest } from './ingest/Ingest.ts';
import { Journal } from './ingest/Journal.ts';
import { RecentIds } from './ingest/RecentIds.ts';
import { StoreWriter } from './ingest/StoreWriter.ts';
import { Normalizer } from './normalize/Normalizer.ts';
import { CollectorOptions, isLoopback, type CollectorOptionsInput } from './options.ts';
import { runsPlugin } from './plugins/runs.ts';
import { telemetryPlugin } from './plugins/telemetry.ts';
import { Queries } from './queries/index.ts';
import { ViewCache } from './queries/ViewCache.ts';
import { ClickHouseStore } from './store/ClickHouseStore.ts';

/** The telemetry collector: ingest, the run registry and query API, and the dashboard. */
export class Collector {
	private constructor(
		readonly options: CollectorOptions,
		readonly app: FastifyInstance,
		readonly store: ClickHouseStore,
		readonly journal: Journal,
		readonly writer: StoreWriter,
		readonly ingest: Ingest,
		readonly queries: Queries,
		readonly views: ViewCache,
	) {}

	static async start(input: CollectorOptionsInput = {}): Promise<Collector> {
		const options = parseInput(CollectorOptions, input, 'collector options');
		if (!isLoopback(options.listenIp) && !options.token) {
			throw new InputError(
				`the collector listens on ${options.listenIp}, beyond loopback: set a token (--token or CALLSWARM_COLLECTOR_TOKEN)`,
			);
		}
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
		ingest.on('runchanged', (runId) => views.invalidate(runId));
		const queries = new Queries(store);
		const app = Fastify({
			logger: options.logLevel === 'silent' ? false : { level: options.logLevel },
			bodyLimit: options.bodyLimitBytes,
			// Such keys are dropped from bodies, not refused: the rest of a request (other bots' batches) is kept.
			onProtoPoisoning: 'remove',
			onConstructorPoisoning: 'remove',
		});
		const collector = new Collector(options, app, store, journal, writer, ingest, queries, views);
		writer.on('degraded', (error) => app.log.error({ err: error }, 'ClickHouse unavailable: telemetry waits in the journal on disk'));
		writer.on('recovered', (info) => app.log.warn(info, 'ClickHouse is back: the journal is stored'));
		writer.on('quarantined', ({ segment, table, error }) =>
			app.log.error({ segment, table, err: error }, 'a journal segment refused by ClickHouse was set aside'),
		);
		ingest.on('batchfailed', ({ batchId, error }) => app.log.error({ batchId, err: error }, 'a telemetry batch could not be normalised'));
		try {
			ingest.rememberBatches(recoveredIds);
			await collector.#loadState();
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
		return `http://${host === '0.0.0.0' || host === '[::]' ? '127.0.0.1' : host}:${address.port}`;
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
		await app.register(telemetryPlugin, { ingest: this.ingest });
		await app.register(runsPlugin, { ingest: this.ingest, queries: this.queries, views: this.views });
		if (options.dashboardDir && existsSync(options.dashboardDir)) {
			await app.register(fastifyStatic, { root: path.resolve(options.dashboardDir), prefix: '/' });
		}
	}

	/** Stops taking requests, stores what it can; the rest stays in the journal for the next start. */
	async close(): Promise<void> {
		await this.app.close();
		await this.writer.close();
		await this.store.close();
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

import { timingSafeEqual } from 'node:crypto';
import { existsSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import compress from '@fastify/compress';
import fastifyStatic from '@fastify/static';
import Fastify, { type FastifyInstance } from 'fastify';
import { InputError, parseInput } from '../protocol/issues.ts';
import { HttpError, installErrorHandler } from './http.ts';
import { Ingest } from './ingest/Ingest.ts';
import { RecentIds } from './ingest/RecentIds.ts';
import { Spool } from './ingest/Spool.ts';
import { WriteQueue } from './ingest/WriteQueue.ts';
import { Normalizer } from './normalize/Normalizer.ts';
import { CollectorOptions, isLoopback, type CollectorOptionsInput } from './options.ts';
import { runsPlugin } from './plugins/runs.ts';
import { telemetryPlugin } from './plugins/telemetry.ts';
import { RunQueries } from './queries/RunQueries.ts';
import { ViewCache } from './queries/ViewCache.ts';
import { ClickHouseStore } from './store/ClickHouseStore.ts';

/** The telemetry collector: ingest, the run registry and query API, and the dashboard. */
export class Collector {
	private constructor(
		readonly options: CollectorOptions,
		readonly app: FastifyInstance,
		readonly store: ClickHouseStore,
		readonly queue: WriteQueue,
		readonly spool: Spool,
		readonly ingest: Ingest,
		readonly queries: RunQueries,
		readonly views: ViewCache,
	) {}

	static async start(input: CollectorOptionsInput = {}): Promise<Collector> {
		const options = parseInput(CollectorOptions, input, 'collector options');
		if (!isLoopback(options.listenIp) && !options.token) {
			throw new InputError(
				`the collector listens on ${options.listenIp}, beyond loopback: set a token (--token or CALLSWARM_COLLECTOR_TOKEN)`,
			);
		}
		const store = await ClickHouseStore.open(options.store);
		const spool = await Spool.open(path.resolve(options.spoolDir));
		const queue = new WriteQueue(store, spool, options);
		const views = new ViewCache();
		const ingest = new Ingest(queue, new Normalizer(), new RecentIds(500_000), options.keepRawReports, views);
		const queries = new RunQueries(store);
		const app = Fastify({
			logger: options.logLevel === 'silent' ? false : { level: options.logLevel },
			bodyLimit: options.bodyLimitBytes,
		});
		const collector = new Collector(options, app, store, queue, spool, ingest, queries, views);
		try {
			await collector.#loadState();
			await collector.#routes();
			await app.listen({ host: options.listenIp, port: options.port });
		} catch (error) {
			await collector.close();
			throw error;
		}
		queue.on('degraded', (error) => app.log.error({ err: error }, 'ClickHouse unavailable: spooling telemetry to disk'));
		queue.on('recovered', (info) => app.log.warn(info, 'ClickHouse is back: spool replayed'));
		queue.on('quarantined', ({ table, error }) => app.log.error({ table, err: error }, 'rows refused by ClickHouse were set aside'));
		return collector;
	}

	get url(): string {
		const address = this.app.server.address() as AddressInfo;
		const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
		return `http://${host === '0.0.0.0' || host === '[::]' ? '127.0.0.1' : host}:${address.port}`;
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

	async #routes(): Promise<void> {
		const { app, options } = this;
		installErrorHandler(app);
		// Gzip request bodies are inflated here; bodyLimit then applies to the inflated size.
		await app.register(compress, { global: true, requestEncodings: ['gzip', 'deflate'], threshold: 2048 });
		if (options.token) {
			const expected = Buffer.from(`Bearer ${options.token}`);
			app.addHook('onRequest', async (request) => {
				if (request.method === 'GET' || request.method === 'HEAD') return;
				const given = Buffer.from(request.headers.authorization ?? '');
				if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
					throw new HttpError(401, 'unauthorized', 'send the run token: Authorization: Bearer <token>');
				}
			});
		}
		app.get('/healthz', async (_request, reply) => {
			const healthy = !this.queue.degraded;
			return reply.code(healthy ? 200 : 503).send({
				ok: healthy,
				store: this.store.kind,
				pendingRows: this.queue.pendingRows,
				spoolFiles: this.spool.files,
				spoolBytes: this.spool.bytes,
			});
		});
		await app.register(telemetryPlugin, { ingest: this.ingest });
		await app.register(runsPlugin, { ingest: this.ingest, queries: this.queries, views: this.views });
		if (options.dashboardDir && existsSync(options.dashboardDir)) {
			await app.register(fastifyStatic, { root: path.resolve(options.dashboardDir), prefix: '/' });
		}
	}

	/** Flushes queued rows (to the store, or the spool), then stops. */
	async close(): Promise<void> {
		await this.app.close();
		await this.queue.close();
		await this.store.close();
	}
}

export function startCollector(options: CollectorOptionsInput = {}): Promise<Collector> {
	return Collector.start(options);
}

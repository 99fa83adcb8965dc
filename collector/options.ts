import os from 'node:os';
import { z } from 'zod';
import { parseInput, wholeNumberText } from '../protocol/issues.ts';
import { StoreOptions, storeOptionsFromEnv, type StoreOptionsInput } from './store/options.ts';

export const CollectorOptions = z.object({
	listenIp: z.string().min(1).default('127.0.0.1'),
	/** 0 picks a free port. */
	port: z.number().int().min(0).max(65535).default(4100),
	/** Required for writes when listening beyond loopback: `Authorization: Bearer <token>`. */
	token: z.string().min(16, 'must be at least 16 characters').optional(),
	/**
	 * Worker threads that parse, validate and normalise telemetry (0: the collector's own
	 * thread does it). Default: one per core but one, at least 1 and at most 4.
	 */
	ingestWorkers: z.number().int().min(0).max(64).default(() => Math.min(4, Math.max(1, os.availableParallelism() - 1))),
	/** Largest accepted request body, after gzip decoding (413 above). */
	bodyLimitBytes: z.number().int().min(1024).default(32 * 1024 * 1024),
	/** Seal a journal segment and insert it once it holds this many rows... */
	flushRows: z.number().int().min(1).default(50_000),
	/** ...or once its first row is this old. */
	flushIntervalMs: z.number().int().min(10).default(1000),
	/** Rows waiting for the store above which telemetry is refused with 429. */
	maxPendingRows: z.number().int().min(1).default(1_000_000),
	/** Journal on disk (waiting for the store) above which telemetry is refused with 429. */
	maxJournalBytes: z.number().int().min(1).default(4 * 1024 * 1024 * 1024),
	/** Where the collector keeps its data: the embedded ClickHouse in clickhouse/, the journal in journal/. */
	dataDir: z.string().min(1).default('.callswarm'),
	/**
	 * fsync each journal write before answering 202 (group commit). Off, a killed collector still
	 * loses nothing (the kernel keeps what was written), but a machine crash or power cut can
	 * lose the last acknowledged writes.
	 */
	journalSync: z.boolean().default(true),
	/** The write-ahead journal (default <dataDir>/journal): put it on a disk with room. */
	journalDir: z.string().min(1).optional(),
	/** Also a read token: GET requests from beyond loopback need it (or the run token). */
	readToken: z.string().min(16, 'must be at least 16 characters').optional(),
	/** Also store whole getStats() reports (raw_reports table, short TTL). */
	keepRawReports: z.boolean().default(false),
	/** Serve the dashboard pages from here when the directory exists. */
	dashboardDir: z.string().optional(),
	logLevel: z.enum(['debug', 'info', 'warn', 'error', 'silent']).default('warn'),
	/** Serve HTTPS with this certificate and key (PEM files). */
	tls: z.object({ cert: z.string().min(1), key: z.string().min(1) }).optional(),
	/**
	 * Listen beyond loopback over plain HTTP anyway: only behind a TLS-terminating reverse proxy
	 * (telemetry and tokens would otherwise cross the network readable).
	 */
	allowPlainHttp: z.boolean().default(false),
	/** How often production apps' alert rules are evaluated over their windows. */
	alertIntervalMs: z.number().int().min(100).max(600_000).default(15_000),
	/** How often production calls are checked for their end (no data for the app's idle time). */
	callSweepIntervalMs: z.number().int().min(100).max(600_000).default(15_000),
	/** ClickHouse: a server by URL, or the embedded engine (in <dataDir>/clickhouse unless store.dataDir says otherwise). */
	store: StoreOptions.prefault({}),
});
export type CollectorOptionsInput = z.input<typeof CollectorOptions>;
export type CollectorOptions = z.output<typeof CollectorOptions>;

/** How often accepted rows are inserted, as a flag or variable gives it. */
export const flushMsText = wholeNumberText.pipe(z.number().min(10).max(60_000));
/** How many waiting rows make an insert at once, as a flag or variable gives it. */
export const flushRowsText = wholeNumberText.pipe(z.number().min(1).max(1_000_000));

const CollectorEnv = z.object({
	CALLSWARM_COLLECTOR_LISTEN_IP: z.string().optional(),
	CALLSWARM_COLLECTOR_PORT: wholeNumberText.optional(),
	CALLSWARM_COLLECTOR_TOKEN: z.string().optional(),
	CALLSWARM_COLLECTOR_READ_TOKEN: z.string().optional(),
	CALLSWARM_DATA_DIR: z.string().optional(),
	CALLSWARM_COLLECTOR_INGEST_WORKERS: wholeNumberText.optional(),
	CALLSWARM_COLLECTOR_FLUSH_MS: flushMsText.optional(),
	CALLSWARM_COLLECTOR_FLUSH_ROWS: flushRowsText.optional(),
	CALLSWARM_TLS_CERT: z.string().optional(),
	CALLSWARM_TLS_KEY: z.string().optional(),
});

export function collectorOptionsFromEnv(env: NodeJS.ProcessEnv): CollectorOptionsInput {
	const e = parseInput(CollectorEnv, env, 'environment');
	const store: StoreOptionsInput = storeOptionsFromEnv(env);
	const picked: CollectorOptionsInput = {
		listenIp: e.CALLSWARM_COLLECTOR_LISTEN_IP,
		port: e.CALLSWARM_COLLECTOR_PORT,
		token: e.CALLSWARM_COLLECTOR_TOKEN || undefined,
		readToken: e.CALLSWARM_COLLECTOR_READ_TOKEN || undefined,
		dataDir: e.CALLSWARM_DATA_DIR || undefined,
		ingestWorkers: e.CALLSWARM_COLLECTOR_INGEST_WORKERS,
		flushIntervalMs: e.CALLSWARM_COLLECTOR_FLUSH_MS,
		flushRows: e.CALLSWARM_COLLECTOR_FLUSH_ROWS,
		tls: e.CALLSWARM_TLS_CERT && e.CALLSWARM_TLS_KEY ? { cert: e.CALLSWARM_TLS_CERT, key: e.CALLSWARM_TLS_KEY } : undefined,
		store,
	};
	return Object.fromEntries(Object.entries(picked).filter(([, v]) => v !== undefined));
}

const loopback = /^(127\.\d+\.\d+\.\d+|::1|::ffff:127\.\d+\.\d+\.\d+|localhost)$/;
/** A loopback address (listen address or a client's remote address). */
export const isLoopback = (ip: string | undefined): boolean => ip !== undefined && loopback.test(ip);

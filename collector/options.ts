import { z } from 'zod';
import { parseInput, wholeNumberText } from '../protocol/issues.ts';
import { StoreOptions, storeOptionsFromEnv, type StoreOptionsInput } from './store/options.ts';

export const CollectorOptions = z.object({
	listenIp: z.string().min(1).default('127.0.0.1'),
	/** 0 picks a free port. */
	port: z.number().int().min(0).max(65535).default(4100),
	/** Required for writes when listening beyond loopback: `Authorization: Bearer <token>`. */
	token: z.string().min(16, 'must be at least 16 characters').optional(),
	/** Largest accepted request body, after gzip decoding (413 above). */
	bodyLimitBytes: z.number().int().min(1024).default(32 * 1024 * 1024),
	flushRows: z.number().int().min(1).default(50_000),
	flushIntervalMs: z.number().int().min(10).default(1000),
	/** Rows waiting for the store above which telemetry is refused with 429. */
	maxPendingRows: z.number().int().min(1).default(1_000_000),
	maxSpoolBytes: z.number().int().min(1).default(4 * 1024 * 1024 * 1024),
	spoolDir: z.string().min(1).default('.callswarm/spool'),
	/** Also store whole getStats() reports (raw_reports table, short TTL). */
	keepRawReports: z.boolean().default(false),
	/** Serve the dashboard pages from here when the directory exists. */
	dashboardDir: z.string().optional(),
	logLevel: z.enum(['debug', 'info', 'warn', 'error', 'silent']).default('warn'),
	store: StoreOptions.default(StoreOptions.parse({})),
});
export type CollectorOptionsInput = z.input<typeof CollectorOptions>;
export type CollectorOptions = z.output<typeof CollectorOptions>;

const CollectorEnv = z.object({
	CALLSWARM_COLLECTOR_LISTEN_IP: z.string().optional(),
	CALLSWARM_COLLECTOR_PORT: wholeNumberText.optional(),
	CALLSWARM_COLLECTOR_TOKEN: z.string().optional(),
	CALLSWARM_DATA_DIR: z.string().optional(),
});

export function collectorOptionsFromEnv(env: NodeJS.ProcessEnv): CollectorOptionsInput {
	const e = parseInput(CollectorEnv, env, 'environment');
	const store: StoreOptionsInput = storeOptionsFromEnv(env);
	const picked: CollectorOptionsInput = {
		listenIp: e.CALLSWARM_COLLECTOR_LISTEN_IP,
		port: e.CALLSWARM_COLLECTOR_PORT,
		token: e.CALLSWARM_COLLECTOR_TOKEN || undefined,
		spoolDir: e.CALLSWARM_DATA_DIR ? `${e.CALLSWARM_DATA_DIR}/spool` : undefined,
		store,
	};
	return Object.fromEntries(Object.entries(picked).filter(([, v]) => v !== undefined));
}

const loopback = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/;
export const isLoopback = (ip: string): boolean => loopback.test(ip);

import { z } from 'zod';
import { parseInput, wholeNumberText } from '../../protocol/issues.ts';

export const StoreOptions = z.object({
	/** A ClickHouse server (http[s]://host:8123); without it the embedded engine (chDB) is used. */
	url: z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' }).optional(),
	username: z.string().optional(),
	password: z.string().optional(),
	database: z
		.string()
		.regex(/^[A-Za-z_][\w]*$/, 'letters, digits and _ only')
		.default('callswarm'),
	/** Replicated + Distributed tables across this cluster (server mode only). */
	cluster: z
		.string()
		.regex(/^[\w.-]+$/, 'letters, digits, . _ - only')
		.optional(),
	/** Embedded engine data directory; the collector's default is <its data dir>/clickhouse. */
	dataDir: z.string().min(1).optional(),
	sampleTtlDays: z.number().int().min(1).default(30),
	rawReportTtlDays: z.number().int().min(1).default(7),
});
export type StoreOptionsInput = z.input<typeof StoreOptions>;
export type StoreOptions = z.output<typeof StoreOptions>;

const StoreEnv = z.object({
	CLICKHOUSE_URL: z.string().optional(),
	CLICKHOUSE_USER: z.string().optional(),
	CLICKHOUSE_PASSWORD: z.string().optional(),
	CLICKHOUSE_DATABASE: z.string().optional(),
	CLICKHOUSE_CLUSTER: z.string().optional(),
	CALLSWARM_SAMPLE_TTL_DAYS: wholeNumberText.optional(),
});

export function storeOptionsFromEnv(env: NodeJS.ProcessEnv): StoreOptionsInput {
	const e = parseInput(StoreEnv, env, 'environment');
	const picked: StoreOptionsInput = {
		url: e.CLICKHOUSE_URL || undefined,
		username: e.CLICKHOUSE_USER,
		password: e.CLICKHOUSE_PASSWORD,
		database: e.CLICKHOUSE_DATABASE,
		cluster: e.CLICKHOUSE_CLUSTER || undefined,
		sampleTtlDays: e.CALLSWARM_SAMPLE_TTL_DAYS,
	};
	return Object.fromEntries(Object.entries(picked).filter(([, v]) => v !== undefined));
}

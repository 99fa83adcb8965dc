import { z } from 'zod';
import { parseInput } from '../protocol/issues.ts';
import { CollectorClient } from '../loadgen/CollectorClient.ts';
import { startLocalCollector } from '../infrastructure/Infrastructure.ts';

export const collectorFlagSchema = {
	collector: z.url({ protocol: /^https?$/ }).optional(),
	token: z.string().optional(),
	'data-dir': z.string().min(1).optional(),
};

const AccessEnv = z.object({
	CALLSWARM_COLLECTOR_URL: z.url({ protocol: /^https?$/ }).optional(),
	CALLSWARM_COLLECTOR_TOKEN: z.string().optional(),
	CALLSWARM_DATA_DIR: z.string().optional(),
});

export const collectorHelp = `  --collector <url>    a running collector (env CALLSWARM_COLLECTOR_URL); default: read the embedded
                       ClickHouse in --data-dir directly
  --token <secret>     the collector's token (env CALLSWARM_COLLECTOR_TOKEN)
  --data-dir <dir>     embedded ClickHouse data (default .callswarm; env CALLSWARM_DATA_DIR)
`;

/** Runs `work` against the given collector, or one started for it over the local data directory. */
export async function withCollector<T>(
	flags: { collector?: string; token?: string; 'data-dir'?: string },
	env: NodeJS.ProcessEnv,
	work: (client: CollectorClient) => Promise<T>,
): Promise<T> {
	const e = parseInput(AccessEnv, Object.fromEntries(Object.entries(env).filter(([, v]) => v !== '')), 'environment');
	const url = flags.collector ?? e.CALLSWARM_COLLECTOR_URL;
	if (url) return work(new CollectorClient(url, flags.token ?? e.CALLSWARM_COLLECTOR_TOKEN));
	const dataDir = flags['data-dir'] ?? e.CALLSWARM_DATA_DIR ?? '.callswarm';
	const collector = await startLocalCollector(dataDir);
	try {
		return await work(new CollectorClient(collector.url));
	} finally {
		await collector.close();
	}
}

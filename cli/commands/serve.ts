import { z } from 'zod';
import { collectorOptionsFromEnv, startCollector, type CollectorOptionsInput } from '../../collector/index.ts';
import { flushMsText, flushRowsText } from '../../collector/options.ts';
import { dashboardDir } from '../../dashboard/bundle.ts';
import { InputError, wholeNumberText } from '../../protocol/issues.ts';
import { parseCommandLine } from '../args.ts';
import { untilSignal } from '../signals.ts';


export const serveHelp = `callswarm serve [flags]: run the collector (telemetry ingest, query API, dashboard)

  --listen <ip>          address (default 127.0.0.1; env CALLSWARM_COLLECTOR_LISTEN_IP)
  --port <n>             port (default 4100; env CALLSWARM_COLLECTOR_PORT)
  --token <secret>       run token required for writes; mandatory beyond loopback (env CALLSWARM_COLLECTOR_TOKEN)
  --read-token <secret>  token for reads from beyond loopback (the run token works too; env
                         CALLSWARM_COLLECTOR_READ_TOKEN)
  --data-dir <dir>       embedded ClickHouse data and spool (default .callswarm; env CALLSWARM_DATA_DIR)
  --clickhouse-url <u>   use a ClickHouse server instead of the embedded engine (env CLICKHOUSE_URL,
                         with CLICKHOUSE_USER, CLICKHOUSE_PASSWORD, CLICKHOUSE_DATABASE, CLICKHOUSE_CLUSTER)
  --ingest-workers <n>   worker threads that parse and normalise telemetry (default: cores - 1, 1 to 4;
                         0: the collector's own thread; env CALLSWARM_COLLECTOR_INGEST_WORKERS)
  --flush-ms <n>         insert what was accepted at least this often (default 1000, 10 to 60000; env
                         CALLSWARM_COLLECTOR_FLUSH_MS). Longer means fewer, larger inserts: for many
                         slowly posting pages (the monitoring SDK) the engine then does about half the work,
                         and new data shows that much later
  --flush-rows <n>       ...or once this many rows wait (default 50000; env CALLSWARM_COLLECTOR_FLUSH_ROWS)
  --keep-raw-reports     also store whole getStats() reports (redacted, 7-day TTL) for drill-down
  --tls-cert <file>      serve HTTPS with this PEM certificate (env CALLSWARM_TLS_CERT) ...
  --tls-key <file>       ... and this PEM key (env CALLSWARM_TLS_KEY)
  --allow-plain-http     listen beyond loopback over plain HTTP (only behind a TLS-terminating proxy)
  --log-level <level>    debug | info | warn | error | silent (default warn)
`;

const ServeFlags = z.object({
	listen: z.string().optional(),
	port: wholeNumberText.pipe(z.number().max(65535)).optional(),
	token: z.string().optional(),
	'read-token': z.string().optional(),
	'data-dir': z.string().min(1).optional(),
	'clickhouse-url': z.string().optional(),
	'keep-raw-reports': z.boolean().optional(),
	'ingest-workers': wholeNumberText.pipe(z.number().max(64)).optional(),
	'flush-ms': flushMsText.optional(),
	'flush-rows': flushRowsText.optional(),
	'tls-cert': z.string().min(1).optional(),
	'tls-key': z.string().min(1).optional(),
	'allow-plain-http': z.boolean().optional(),
	'log-level': z.enum(['debug', 'info', 'warn', 'error', 'silent']).optional(),
	positionals: z.array(z.string()).max(0, 'takes no positional arguments'),
});

export function collectorOptionsFromArgs(argv: string[], env: NodeJS.ProcessEnv): CollectorOptionsInput {
	const flags = parseCommandLine(argv, ServeFlags, 'serve');
	const fromEnv = collectorOptionsFromEnv(env);
	const dataDir = flags['data-dir'];
	const options: CollectorOptionsInput = {
		dashboardDir,
		logLevel: 'warn',
		...fromEnv,
		store: { ...fromEnv.store, ...(flags['clickhouse-url'] ? { url: flags['clickhouse-url'] } : {}) },
	};
	if (flags.listen) options.listenIp = flags.listen;
	if (flags.port !== undefined) options.port = flags.port;
	if (flags.token) options.token = flags.token;
	if (flags['read-token']) options.readToken = flags['read-token'];
	if (dataDir) options.dataDir = dataDir;
	if (flags['keep-raw-reports']) options.keepRawReports = true;
	if (flags['ingest-workers'] !== undefined) options.ingestWorkers = flags['ingest-workers'];
	if (flags['flush-ms'] !== undefined) options.flushIntervalMs = flags['flush-ms'];
	if (flags['flush-rows'] !== undefined) options.flushRows = flags['flush-rows'];
	if (flags['log-level']) options.logLevel = flags['log-level'];
	if (flags['tls-cert'] || flags['tls-key']) {
		if (!flags['tls-cert'] || !flags['tls-key']) throw new InputError('callswarm serve: --tls-cert and --tls-key go together');
		options.tls = { cert: flags['tls-cert'], key: flags['tls-key'] };
	}
	if (flags['allow-plain-http']) options.allowPlainHttp = true;
	return options;
}

export async function serveCommand(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
	const collector = await startCollector(collectorOptionsFromArgs(argv, env));
	const where = collector.store.kind === 'embedded' ? `embedded ClickHouse in ${collector.options.dataDir}/clickhouse` : collector.options.store.url;
	const workers = collector.ingestWorkers?.size ?? 0;
	console.log(`callswarm collector on ${collector.url}  (${where}; ${workers ? `${workers} ingest worker thread${workers > 1 ? 's' : ''}` : 'ingest on the main thread'})`);
	console.log(`  ingest     POST ${collector.url}/v1/telemetry`);
	console.log(`  apps       ${collector.url}/v1/apps   (monitoring SDK: ${collector.url}/sdk/callswarm.js)`);
	console.log(`  runs       ${collector.url}/v1/runs`);
	console.log(`  dashboard  ${collector.url}/`);
	await untilSignal();
	console.log('stopping the collector (flushing queued telemetry)');
	await collector.close();
	return 0;
}

import { z } from 'zod';
import { AlertRuleCreate, AppCreate, AppId, parseAlertRuleText, type AppInfo } from '../../protocol/apps.ts';
import { formatDuration } from '../../protocol/durations.ts';
import { InputError, parseInput, wholeNumberText } from '../../protocol/issues.ts';
import { parseCommandLine } from '../args.ts';
import { collectorFlagSchema, collectorHelp, withCollector } from '../collector-access.ts';
import { table } from '../output/table.ts';

const time = (ms: number | null) => (ms ? new Date(ms).toISOString().replace('T', ' ').slice(0, 19) : '-');

export const appsHelp = `callswarm apps <command>: production apps monitored with the SDK, and their ingest keys

  callswarm apps list
  callswarm apps create <app id> [--name <text>] [--origins <url,url>] [--retention-days <n>]
                        [--raw-retention-days <n>] [--sample <0..1>] [--idle-minutes <n>]
  callswarm apps update <app id> [same flags as create]
  callswarm apps keys <app id>            the app's ingest keys (ids only)
  callswarm apps key <app id>             a new ingest key (shown once)
  callswarm apps revoke <app id> <key id>
  callswarm apps view <app id> [--range 1h|1d|7d]

  --origins       pages allowed to post from a browser (CORS), e.g. https://app.example.com
  --retention-days / --raw-retention-days
                  how long samples and events / whole redacted reports are kept (default 30 / 7)
  --sample        share of calls monitored (default 1)
  --idle-minutes  a call with no data this long has ended (default 5)
${collectorHelp}`;

const AppFlags = {
	...collectorFlagSchema,
	name: z.string().max(200).optional(),
	origins: z.string().optional(),
	'retention-days': wholeNumberText.optional(),
	'raw-retention-days': wholeNumberText.optional(),
	sample: z.string().regex(/^(0(\.\d+)?|1(\.0+)?)$/, 'a share between 0 and 1').transform(Number).optional(),
	'idle-minutes': wholeNumberText.optional(),
	range: z.enum(['1h', '1d', '7d']).default('1h'),
};

function appSettings(flags: z.output<z.ZodObject<typeof AppFlags>>) {
	return Object.fromEntries(
		Object.entries({
			name: flags.name,
			origins: flags.origins?.split(',').map((o) => o.trim()).filter(Boolean),
			retentionDays: flags['retention-days'],
			rawRetentionDays: flags['raw-retention-days'],
			sampleShare: flags.sample,
			callIdleMinutes: flags['idle-minutes'],
		}).filter(([, v]) => v !== undefined),
	);
}

const printApps = (apps: AppInfo[]) =>
	console.log(
		table([
			['app', 'name', 'origins', 'retention', 'raw', 'sample', 'idle', 'created'],
			...apps.map((a) => [a.appId, a.name, a.origins.join(' ') || '-', `${a.retentionDays} d`, `${a.rawRetentionDays} d`, String(a.sampleShare), `${a.callIdleMinutes} min`, time(a.createdAt)]),
		]),
	);

export async function appsCommand(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
	const flags = parseCommandLine(argv, z.object({ ...AppFlags, positionals: z.array(z.string()).min(1, 'name a command: list, create, update, keys, key, revoke, view') }), 'apps');
	const [command, ...args] = flags.positionals;
	const arg = (i: number, what: string, schema: z.ZodType<string> = z.string().min(1)) =>
		parseInput(schema, args[i], `callswarm apps ${command}: <${what}>`);
	return withCollector(flags, env, async (client) => {
		switch (command) {
			case 'list': {
				const apps = await client.apps();
				if (apps.length === 0) console.log('no apps yet: callswarm apps create <app id> --origins https://your.app');
				else printApps(apps);
				return 0;
			}
			case 'create': {
				const app = parseInput(AppCreate, { appId: arg(0, 'app id', AppId), ...appSettings(flags) }, 'app');
				printApps([await client.createApp(app)]);
				const key = await client.createKey(app.appId);
				console.log(`\ningest key ${key.keyId} (shown once; pages use it with the SDK):\n  ${key.key}`);
				return 0;
			}
			case 'update':
				printApps([await client.updateApp(arg(0, 'app id', AppId), appSettings(flags))]);
				return 0;
			case 'keys': {
				const keys = await client.keys(arg(0, 'app id', AppId));
				console.log(table([['key', 'created', 'revoked'], ...keys.map((k) => [k.keyId, time(k.createdAt), time(k.revokedAt)])]));
				return 0;
			}
			case 'key': {
				const key = await client.createKey(arg(0, 'app id', AppId));
				console.log(`ingest key ${key.keyId} (shown once):\n  ${key.key}`);
				return 0;
			}
			case 'revoke': {
				const key = await client.revokeKey(arg(0, 'app id', AppId), arg(1, 'key id'));
				console.log(`key ${key.keyId} revoked at ${time(key.revokedAt)}: pages using it are refused (401) from now on`);
				return 0;
			}
			case 'view': {
				const view = await client.appView(arg(0, 'app id', AppId), flags.range);
				const last = (metric: string, stat: 'p50' | 'p95') => {
					const points = view.series[metric] ?? [];
					const values = points.map((p) => p[stat]).filter((v): v is number => v !== null);
					return values.length ? (values.reduce((a, b) => a + b, 0) / values.length).toFixed(1) : '-';
				};
				console.log(`${view.app.appId}: ${view.calls.total} calls in the last ${flags.range} (${view.calls.active} active now)`);
				console.log(`bands: ${view.bands.good} good, ${view.bands.degraded} degraded, ${view.bands.bad} bad`);
				console.log(table([['metric', 'p50', 'p95'], ...['rtt_ms', 'jitter_ms', 'loss_pct', 'mos'].map((m) => [m, last(m, 'p50'), last(m, 'p95')])]));
				for (const alert of view.alerts) console.log(`alert ${alert.name}: ${alert.state}${alert.value !== null ? ` (${alert.value.toFixed(2)})` : ''}`);
				return 0;
			}
			default:
				throw new InputError(`callswarm apps: unknown command "${command}" (list, create, update, keys, key, revoke, view)`);
		}
	});
}

export const alertsHelp = `callswarm alerts <command>: alert rules of a production app

  callswarm alerts list <app id>                    rules, their state and history
  callswarm alerts create <app id> "<metric>: <threshold> over <window>" [--name <text>]
                        [--webhook <url>] [--format json|slack]
                        e.g. "mos: p(5)>3.5 over 5m", "join_failed: rate<0.02 over 10m"
  callswarm alerts delete <app id> <rule id>
  callswarm alerts test <app id> <rule id>          send a test notification to the webhook
${collectorHelp}`;

export async function alertsCommand(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
	const flags = parseCommandLine(
		argv,
		z.object({
			...collectorFlagSchema,
			name: z.string().max(200).optional(),
			webhook: z.string().optional(),
			format: z.enum(['json', 'slack']).default('json'),
			positionals: z.array(z.string()).min(2, 'name a command (list, create, delete, test) and an app id'),
		}),
		'alerts',
	);
	const [command, appIdText, third] = flags.positionals;
	const appId = parseInput(AppId, appIdText, `callswarm alerts ${command}: <app id>`);
	return withCollector(flags, env, async (client) => {
		switch (command) {
			case 'list': {
				const { rules, history } = await client.alerts(appId);
				console.log(
					table([
						['rule', 'name', 'condition', 'state', 'value', 'since'],
						...rules.map((r) => [r.ruleId, r.name, `${r.metric}: ${r.threshold} over ${formatDuration(r.windowMs)}`, r.state, r.value === null ? '-' : r.value.toFixed(2), time(r.since)]),
					]),
				);
				if (history.length) console.log(`\n${history.slice(0, 20).map((h) => `${time(h.ts)}  ${h.delivered ? ' ' : '!'} ${h.message}`).join('\n')}`);
				return 0;
			}
			case 'create': {
				const parts = third ? parseAlertRuleText(third) : undefined;
				if (!parts) throw new InputError('callswarm alerts create: give the rule as "<metric>: <threshold> over <window>", e.g. "mos: p(5)>3.5 over 5m"');
				const rule = parseInput(AlertRuleCreate, { ...parts, name: flags.name ?? third, webhook: flags.webhook, format: flags.format }, 'alert rule');
				const made = await client.createAlert(appId, rule);
				console.log(`rule ${made.ruleId}: ${made.metric}: ${made.threshold} over ${formatDuration(made.windowMs)}${made.webhook ? ` → ${made.webhook}` : ''}`);
				return 0;
			}
			case 'delete':
				await client.deleteAlert(appId, parseInput(z.string().min(1), third, 'callswarm alerts delete: <rule id>'));
				console.log('deleted');
				return 0;
			case 'test': {
				const report = await client.testAlert(appId, parseInput(z.string().min(1), third, 'callswarm alerts test: <rule id>'));
				console.log(report.delivered ? `delivered (${report.status})` : `not delivered: ${report.error}`);
				return report.delivered ? 0 : 1;
			}
			default:
				throw new InputError(`callswarm alerts: unknown command "${command}" (list, create, delete, test)`);
		}
	});
}

export const deleteHelp = `callswarm delete --app <app id> (--user <user id> | --call <call id>): erase a user's or a call's data

  Removes the rows from samples, events, raw reports and call participants, rebuilds the rollups
  they fed, and prints what was removed. Ids are the app's own (as the SDK was given them).
${collectorHelp}`;

export async function deleteCommand(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
	const flags = parseCommandLine(
		argv,
		z.object({
			...collectorFlagSchema,
			app: AppId,
			user: z.string().min(1).max(200).optional(),
			call: z.string().min(1).max(200).optional(),
			positionals: z.array(z.string()).max(0, 'takes no positional arguments'),
		}),
		'delete',
	);
	if ((flags.user === undefined) === (flags.call === undefined)) throw new InputError('callswarm delete: give exactly one of --user and --call');
	const report = await withCollector(flags, env, (client) => client.deleteData(flags.app, flags.user !== undefined ? { userId: flags.user } : { callId: flags.call! }));
	console.log(`erased the ${report.what} from ${report.calls} call(s) of ${report.appId}:`);
	console.log(table([['table', 'rows removed'], ...Object.entries(report.rows).map(([t, n]) => [t, String(n)])]));
	if (report.rebuilt.length) console.log(`rebuilt without them: ${report.rebuilt.join(', ')}`);
	return 0;
}

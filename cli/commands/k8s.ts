import { writeFile } from 'node:fs/promises';
import { z } from 'zod';
import { manifests, manifestsYaml } from '../../infrastructure/kubernetes.ts';
import { loadScenario } from '../../loadgen/scenario/load.ts';
import { InputError, wholeNumberText } from '../../protocol/issues.ts';
import { RunId } from '../../protocol/telemetry.ts';
import { parseCommandLine } from '../args.ts';

export const k8sHelp = `callswarm k8s <scenario> --shards <n> --image <image> [flags]: Kubernetes manifests for a run on n pods

  --shards <n>             load-generator pods (an Indexed Job: the completion index is the shard)
  --image <image>          callswarm's container image (see the Dockerfile)
  --run-id <id>            the run's id (default: the scenario's name and the time)
  --namespace <ns>         put everything in this namespace
  --collector <url>        a collector already running (no collector Deployment)
  --clickhouse-url <url>   the collector stores in this ClickHouse server (no volume)
  --sfu <url>              the SFU to test (default: the scenario's target; "bundled" deploys one)
  --token-secret <name>    an existing Secret with key "token" (default: one is generated)
  --storage <size>         the collector's volume (default 50Gi)
  --out <file>             write here (default: standard output)

Every shard starts the schedule once all are ready; the collector gives the one verdict:
  kubectl apply -f run.yaml && callswarm wait <run id> --collector <url> --token <token>
`;

export async function k8sCommand(argv: string[]): Promise<number> {
	const flags = parseCommandLine(
		argv,
		z.object({
			shards: wholeNumberText.pipe(z.number().int().min(1).max(10_000)),
			image: z.string().min(1).regex(/^[\w.\-/:@]+$/, 'an image reference such as registry.example.com/callswarm:0.1.0'),
			'run-id': RunId.optional(),
			namespace: z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'a Kubernetes namespace name').max(63).optional(),
			collector: z.url({ protocol: /^https?$/ }).optional(),
			'clickhouse-url': z.url({ protocol: /^https?$/ }).optional(),
			sfu: z.url({ protocol: /^https?$/ }).optional(),
			'token-secret': z.string().regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, 'a Secret name').optional(),
			storage: z.string().regex(/^\d+(Ki|Mi|Gi|Ti)$/, 'a size such as 50Gi').optional(),
			out: z.string().min(1).optional(),
			positionals: z.array(z.string()).length(1, 'give one scenario file'),
		}),
		'k8s',
	);
	const scenario = await loadScenario(flags.positionals[0]!);
	if (typeof scenario.target === 'object') {
		const join = scenario.target.app.join;
		if (join && !Array.isArray(join)) throw new InputError('callswarm k8s: the scenario joins its app with a module file, which the pods do not have: use join steps, or build an image with the module');
	}
	if (flags.collector && flags['clickhouse-url']) throw new InputError('callswarm k8s: --collector and --clickhouse-url exclude each other (the collector is yours, or deployed here)');
	const runId = flags['run-id'] ?? `${scenario.name}-${new Date().toISOString().replace(/[-:]/g, '').slice(0, 15).toLowerCase()}`;
	const yaml = manifestsYaml(
		manifests({
			scenario,
			shards: flags.shards,
			image: flags.image,
			runId,
			namespace: flags.namespace,
			collectorUrl: flags.collector,
			clickhouseUrl: flags['clickhouse-url'],
			sfuUrl: flags.sfu,
			tokenSecret: flags['token-secret'],
			storage: flags.storage,
		}),
	);
	if (flags.out) {
		await writeFile(flags.out, yaml);
		console.log(`wrote ${flags.out}: kubectl apply -f ${flags.out}, then callswarm wait ${runId} --collector <url> --token <token>`);
	} else {
		process.stdout.write(yaml);
	}
	return 0;
}

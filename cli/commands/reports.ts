import path from 'node:path';
import { z } from 'zod';
import { comparedMetricNames, metricCatalogue, metricChange } from '../../protocol/metrics.ts';
import { formatDuration } from '../../protocol/durations.ts';
import { RunId } from '../../protocol/telemetry.ts';
import { writeReport } from '../output/report.ts';
import { table } from '../output/table.ts';
import { parseCommandLine } from '../args.ts';
import { collectorFlagSchema, collectorHelp, withCollector } from '../collector-access.ts';

export const reportHelp = `callswarm report <run id> [flags]: write the run's self-contained HTML report

  --out <file>         where (default callswarm-out/<run id>/report.html)
${collectorHelp}`;

export async function reportCommand(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
	const flags = parseCommandLine(
		argv,
		z.object({ ...collectorFlagSchema, out: z.string().min(1).optional(), positionals: z.tuple([RunId]) }),
		'report',
	);
	const runId = flags.positionals[0];
	const file = flags.out ?? path.join('callswarm-out', runId, 'report.html');
	const written = await withCollector(flags, env, (client) => writeReport(client, runId, file));
	console.log(`report: ${written}`);
	return 0;
}

export const runsHelp = `callswarm runs [flags]: list the runs the collector knows, newest first

  --limit <n>          how many (default 20)
${collectorHelp}`;

export async function runsCommand(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
	const flags = parseCommandLine(
		argv,
		z.object({
			...collectorFlagSchema,
			limit: z.string().regex(/^\d+$/, 'must be a whole number').transform(Number).pipe(z.number().min(1).max(500)).default(20),
			positionals: z.array(z.string()).max(0, 'takes no positional arguments'),
		}),
		'runs',
	);
	const runs = await withCollector(flags, env, (client) => client.runs(flags.limit));
	if (runs.length === 0) {
		console.log('no runs yet');
		return 0;
	}
	const rows = [
		['started', 'run', 'scenario', 'participants', 'duration', 'status', 'thresholds'],
		...runs.map((r) => {
			const failed = r.verdict.filter((v) => !v.ok).length;
			return [
				new Date(r.startedAt).toISOString().replace('T', ' ').slice(0, 19),
				r.runId,
				r.scenario,
				String(r.participants),
				formatDuration(r.durationMs),
				r.status,
				r.verdict.length ? `${r.verdict.length - failed}/${r.verdict.length} passed` : '-',
			];
		}),
	];
	console.log(table(rows));
	return 0;
}

export const compareHelp = `callswarm compare <run A> <run B> [flags]: B against A, regressions flagged

Exit code 1 when B is worse than A by more than 5 % on a compared percentile (a regression gate).
${collectorHelp}`;

export async function compareCommand(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
	const flags = parseCommandLine(argv, z.object({ ...collectorFlagSchema, positionals: z.tuple([RunId, RunId]) }), 'compare');
	const [idA, idB] = flags.positionals;
	const [a, b] = await withCollector(flags, env, (client) => Promise.all([client.summary(idA, true), client.summary(idB, true)]));
	const rows = [['metric', 'stat', 'A', 'B', 'B - A', '']];
	let regressions = 0;
	for (const metric of comparedMetricNames) {
		const def = metricCatalogue[metric];
		for (const stat of def.source === 'rate' ? (['rate'] as const) : (['p50', 'p95'] as const)) {
			const va = a.metrics[metric]?.[stat] ?? null;
			const vb = b.metrics[metric]?.[stat] ?? null;
			if (va === null && vb === null) continue;
			const { diff, relative, change } = metricChange(metric, va, vb);
			if (change === 'worse') regressions++;
			const fmt = (v: number | null) => (v === null ? '-' : def.source === 'rate' ? `${(v * 100).toFixed(2)}%` : `${v.toFixed(2)} ${def.unit}`);
			rows.push([
				metric,
				stat,
				fmt(va),
				fmt(vb),
				diff === null ? '-' : `${diff >= 0 ? '+' : ''}${fmt(diff)}${relative === null ? '' : ` (${relative >= 0 ? '+' : ''}${(relative * 100).toFixed(0)}%)`}`,
				change === 'worse' ? 'REGRESSION' : change === 'better' ? 'better' : '',
			]);
		}
	}
	console.log(`A = ${idA}\nB = ${idB}\n`);
	console.log(table(rows));
	console.log(`\n${regressions ? `${regressions} regression(s)` : 'no regression'}`);
	return regressions ? 1 : 0;
}

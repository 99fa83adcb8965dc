import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { compareRuns, comparisonVerdictText } from '../../protocol/comparison.ts';
import type { FigureCounts, RunInfo } from '../../protocol/api.ts';
import { doubtedMetric, figureColumn, figureCountsAdvice, figureCountsKey, figureKindNames, inDoubt, metricCatalogue, withheldCount, type FigureKind } from '../../protocol/metrics.ts';
import { formatDuration } from '../../protocol/durations.ts';
import { RunId } from '../../protocol/telemetry.ts';
import { exitCodes } from '../output/exitCodes.ts';
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
		['started', 'run', 'scenario', 'participants', 'duration', 'status', ...figureKindNames.map((kind) => figureColumn(kind).heading), 'thresholds'],
		...runs.map((r) => {
			const failed = r.verdict.filter((v) => !v.ok).length;
			return [
				new Date(r.startedAt).toISOString().replace('T', ' ').slice(0, 19),
				r.runId,
				r.scenario,
				String(r.participants),
				formatDuration(r.durationMs),
				r.status,
				...figureKindNames.map((kind) => withheldCell(kind, r[figureCountsKey(kind)])),
				r.verdict.length ? `${r.verdict.length - failed}/${r.verdict.length} passed` : '-',
			];
		}),
	];
	console.log(table(rows));
	for (const kind of figureKindNames) {
		const counts = (r: RunInfo) => r[figureCountsKey(kind)];
		if (runs.some((r) => inDoubt(kind, counts(r).withheld, counts(r).judged))) console.log(`! ${doubtedMetric(kind)} is in doubt: ${figureCountsAdvice(kind)}`);
	}
	return 0;
}

/** A run's counts of one kind of figures, marked "!" where they put its metric in doubt; "-" when no lite bot or viewer judged any. */
function withheldCell(kind: FigureKind, { withheld, judged }: FigureCounts): string {
	if (judged === 0) return '-';
	return `${withheldCount(withheld, judged)}${inDoubt(kind, withheld, judged) ? ' !' : ''}`;
}

export const compareHelp = `callswarm compare <run A> <run B> [flags]: B against A, regressions flagged

Exit code 1 when B is worse than A by more than 5 % on a compared percentile (a regression gate);
3 when the comparison proves nothing either way: a run is invalid (its load generator saturated),
aborted or still running, or a figure that moved rests on too few round trips (marked "?").

  --json <file>        also write the comparison as JSON here (rows, what is in doubt, verdict)
${collectorHelp}`;

export async function compareCommand(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
	const flags = parseCommandLine(argv, z.object({ ...collectorFlagSchema, json: z.string().min(1).optional(), positionals: z.tuple([RunId, RunId]) }), 'compare');
	const [idA, idB] = flags.positionals;
	const [a, b] = await withCollector(flags, env, (client) => {
		const compared = async (runId: string) => {
			const [run, summary, generator] = await Promise.all([client.run(runId), client.summary(runId, true), client.generator(runId)]);
			return { run, summary, generator };
		};
		return Promise.all([compared(idA), compared(idB)]);
	});
	const comparison = compareRuns(a, b);
	const rows = [['metric', 'stat', 'A', 'B', 'B - A', '']];
	for (const row of comparison.rows) {
		const def = metricCatalogue[row.metric];
		const fmt = (v: number | null) => (v === null ? '-' : def.source === 'rate' ? `${(v * 100).toFixed(2)}%` : `${v.toFixed(2)} ${def.unit}`);
		const mark = row.change === 'worse' ? 'REGRESSION' : row.change === 'better' ? 'better' : '';
		rows.push([
			row.metric,
			row.stat,
			fmt(row.a),
			fmt(row.b),
			row.diff === null ? '-' : `${row.diff >= 0 ? '+' : ''}${fmt(row.diff)}${row.relative === null ? '' : ` (${row.relative >= 0 ? '+' : ''}${(row.relative * 100).toFixed(0)}%)`}`,
			row.doubted && mark ? `${mark}?` : mark,
		]);
	}
	console.log(`A = ${idA} (${a.run.status})\nB = ${idB} (${b.run.status})\n`);
	for (const doubt of comparison.doubts) console.log(`in doubt: ${doubt.text}`);
	if (comparison.doubts.length) console.log('');
	console.log(table(rows));
	console.log(`\n${comparisonVerdictText(comparison)}`);
	if (flags.json) {
		const run = ({ run: { runId, status, statusReason } }: typeof a) => ({ runId, status, statusReason });
		await writeFile(flags.json, `${JSON.stringify({ a: run(a), b: run(b), ...comparison }, null, 2)}\n`);
	}
	return comparison.verdict === 'regression' ? exitCodes.regression : comparison.verdict === 'inconclusive' ? exitCodes.invalid : exitCodes.passed;
}

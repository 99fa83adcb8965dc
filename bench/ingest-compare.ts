/**
 * bench:ingest --compare n: every ingest configuration the issue asks about, side by side in one
 * run (one process vs an ingest worker, stats objects vs compact rows vs whole reports, the load
 * generator's route vs the monitoring SDK's, one collector vs two). Each run is bench:ingest in a
 * process of its own with fresh collectors and stores; the configurations take turns, round after
 * round, so that the machine's changing load falls on all of them alike, and the table gives each
 * one's median with every run's figure beside it.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { bar, StatusLine } from '../cli/status.ts';
import { parseInput } from '../protocol/issues.ts';
import { median } from './median.ts';

/** What one bench:ingest run writes with --result: its ingest figures, before any query part. */
export const IngestFigures = z.object({
	samples: z.number().int().nonnegative(),
	wallS: z.number().nonnegative(),
	/** CPU of the collector processes, every thread, during ingest. */
	cpuS: z.number().nonnegative(),
	samplesPerS: z.number().nonnegative(),
	samplesPerCpuS: z.number().nonnegative(),
	/** The same rows through a plain client.insert of JSONEachRow into the same engine. */
	rawSamplesPerS: z.number().nonnegative(),
	requestMB: z.number().nonnegative(),
	/** CPU seconds by part: the collector's own thread, its other Node threads, the engine's threads. */
	threads: z.record(z.string(), z.number()),
	/** Of cpuS, the seconds spent in the kernel (page faults and I/O). */
	kernelS: z.number().nonnegative(),
	/** Time to the 202 (rows on disk) per request. */
	p95Ms: z.number().nonnegative(),
});
export type IngestFigures = z.infer<typeof IngestFigures>;

interface Configuration {
	label: string;
	flags: string[];
	/** Samples per CPU-second the issue asks of this payload. */
	target: number;
}

const loadGeneratorTarget = 100_000;
const wholeReportTarget = 50_000;

export const comparedConfigurations: readonly Configuration[] = [
	{ label: 'stats objects, no worker', flags: ['--payload', 'known', '--ingest-workers', '0'], target: loadGeneratorTarget },
	{ label: 'stats objects, one worker', flags: ['--payload', 'known', '--ingest-workers', '1'], target: loadGeneratorTarget },
	{ label: 'compact rows, one worker', flags: ['--payload', 'compact', '--ingest-workers', '1'], target: loadGeneratorTarget },
	{ label: 'stats objects, two collectors', flags: ['--payload', 'known', '--ingest-workers', '1', '--collectors', '2'], target: loadGeneratorTarget },
	{ label: 'whole reports, one worker', flags: ['--payload', 'full', '--ingest-workers', '1'], target: wholeReportTarget },
	{ label: 'whole reports, SDK route, no worker', flags: ['--payload', 'full', '--route', 'app', '--ingest-workers', '0'], target: wholeReportTarget },
	{ label: 'whole reports, SDK route, one worker', flags: ['--payload', 'full', '--route', 'app', '--ingest-workers', '1'], target: wholeReportTarget },
	// Pages post slowly, so each second's insert is small and the engine's cost per insert (the
	// rollup views, the parts they write and merge) dominates: the same route with fewer, larger inserts.
	{
		label: 'whole reports, SDK route, no worker, sealed every 4 s',
		flags: ['--payload', 'full', '--route', 'app', '--ingest-workers', '0', '--flush-ms', '4000', '--flush-rows', '200000'],
		target: wholeReportTarget,
	},
];

export interface CompareOptions {
	runs: number;
	/** Passed on to every run: --bots, --snapshots, --concurrency, --journal-sync, --flush-ms, --flush-rows (a configuration's own flags win). */
	passOn: string[];
}

interface Run {
	figures: IngestFigures;
	load: number;
}

const ingestScript = fileURLToPath(new URL('./ingest.ts', import.meta.url));

/** One bench:ingest run in a process of its own; its figures, or an error carrying the end of what it printed. */
async function runOnce(configuration: Configuration, passOn: string[], resultFile: string): Promise<IngestFigures> {
	const child = spawn(process.execPath, ['--import', 'tsx', ingestScript, ...passOn, ...configuration.flags, '--seed', '0', '--result', resultFile], {
		stdio: ['ignore', 'ignore', 'pipe'],
	});
	let said = '';
	child.stderr.setEncoding('utf8');
	child.stderr.on('data', (chunk: string) => (said = (said + chunk).slice(-4000)));
	const code = await new Promise<number | null>((resolve, reject) => {
		child.once('error', reject);
		// 'close', not 'exit': by then all it printed has been read.
		child.once('close', resolve);
	});
	if (code !== 0) throw new Error(`bench:ingest ${configuration.flags.join(' ')} exited with ${code}:\n${said}`);
	return parseInput(IngestFigures, JSON.parse(readFileSync(resultFile, 'utf8')), `the figures of bench:ingest ${configuration.flags.join(' ')}`);
}

const thousands = (n: number) => Math.round(n).toLocaleString('en-US').replaceAll(',', ' ');
const seconds = (n: number) => +n.toFixed(2);

export async function compareIngest(options: CompareOptions): Promise<void> {
	const status = new StatusLine();
	const dir = mkdtempSync(path.join(os.tmpdir(), 'callswarm-bench-compare-'));
	const runs = new Map<string, Run[]>(comparedConfigurations.map((c) => [c.label, []]));
	const total = options.runs * comparedConfigurations.length;
	let done = 0;
	try {
		for (let round = 1; round <= options.runs; round++) {
			for (const configuration of comparedConfigurations) {
				status.update(`round ${round}/${options.runs}: ${configuration.label} ${bar(done / total)}`);
				const load = os.loadavg()[0]!;
				const figures = await runOnce(configuration, options.passOn, path.join(dir, `${done}.json`));
				runs.get(configuration.label)!.push({ figures, load });
				done++;
			}
		}
		status.done(`${total} runs done`);
	} finally {
		rmSync(dir, { recursive: true, force: true });
	}

	const loads = [...runs.values()].flat().map((r) => r.load);
	console.log(
		`\nIngest side by side (${os.availableParallelism()} cores; medians of ${options.runs} run(s) each, the configurations in turn; load average ${Math.min(...loads).toFixed(1)}–${Math.max(...loads).toFixed(1)} at the runs' start)`,
	);
	/** Each configuration's median samples per CPU-second: the table's first column, the chart and the verdicts. */
	const perCpu = new Map(comparedConfigurations.map((c) => [c, Math.round(median(runs.get(c.label)!.map((r) => r.figures.samplesPerCpuS)))]));
	const table: Record<string, Record<string, number | string>> = {};
	for (const configuration of comparedConfigurations) {
		const of = runs.get(configuration.label)!.map((r) => r.figures);
		const m = (pick: (f: IngestFigures) => number) => median(of.map(pick));
		table[configuration.label] = {
			'per CPU-second': perCpu.get(configuration)!,
			runs: of.map((f) => thousands(f.samplesPerCpuS)).join(' / '),
			'samples/s': Math.round(m((f) => f.samplesPerS)),
			"collector's thread s": seconds(m((f) => f.threads['main thread'] ?? 0)),
			'other Node threads s': seconds(m((f) => f.threads['other node threads'] ?? 0)),
			'engine threads s': seconds(m((f) => f.threads['engine threads'] ?? 0)),
			samples: m((f) => f.samples),
			'request MB': +m((f) => f.requestMB).toFixed(1),
			'202 p95 ms': +m((f) => f.p95Ms).toFixed(1),
			'% of raw insert': Math.round(m((f) => (f.samplesPerS / f.rawSamplesPerS) * 100)),
			'% in kernel': Math.round(m((f) => (f.kernelS / f.cpuS) * 100)),
		};
	}
	console.table(table);

	console.log('\nSamples per CPU-second against the target (medians)');
	const width = Math.max(...comparedConfigurations.map((c) => c.label.length));
	for (const configuration of comparedConfigurations) {
		const value = perCpu.get(configuration)!;
		console.log(`${configuration.label.padEnd(width)} ${bar(value / configuration.target, 40)} of ${thousands(configuration.target)}: ${thousands(value)}`);
	}
	for (const target of [loadGeneratorTarget, wholeReportTarget]) {
		const aimed = comparedConfigurations.filter((c) => c.target === target);
		const best = aimed.reduce((a, b) => (perCpu.get(b)! > perCpu.get(a)! ? b : a));
		const value = perCpu.get(best)!;
		const what = target === loadGeneratorTarget ? "the load generator's payload" : 'whole reports';
		console.log(`target: ${what} at ≥ ${thousands(target)} samples per CPU-second: ${value >= target ? 'met' : 'NOT met'} (best: ${best.label}, ${thousands(value)})`);
	}
}

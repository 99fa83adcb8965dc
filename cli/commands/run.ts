import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { InputError, parseInput, wholeNumberText } from '../../protocol/issues.ts';
import { DurationText, formatDuration } from '../../protocol/durations.ts';
import { telemetryFormats } from '../../protocol/compact.ts';
import { RunId } from '../../protocol/telemetry.ts';
import { CollectorClient } from '../../loadgen/CollectorClient.ts';
import { writeReport } from '../output/report.ts';
import { exitCodeOf } from '../output/exitCodes.ts';
import { renderJson, renderJunit, renderSummary } from '../output/summary.ts';
import { LoadRun, type RunOutcome } from '../../loadgen/run/LoadRun.ts';
import { loadScenario } from '../../loadgen/scenario/load.ts';
import { scaleTime } from '../../loadgen/scenario/timeScale.ts';
import { estimate, renderSizing } from '../../loadgen/sizing/preflight.ts';
import { parseCommandLine } from '../args.ts';
import { untilSignal } from '../signals.ts';
import { bar, StatusLine } from '../status.ts';

export const runHelp = `callswarm run <scenario> [flags]: run a scenario and check its thresholds

  <scenario>               a .ts/.js file exporting the scenario as default, or a .json file
  --sfu <url>              an SFU to test (http://host:port of a callswarm SFU); default: the
                           scenario's target, "bundled" starting one in-process (env CALLSWARM_SFU_URL)
  --collector <url>        a running collector (callswarm serve); default: one in-process with
                           embedded ClickHouse (env CALLSWARM_COLLECTOR_URL)
  --token <secret>         the collector's run token (env CALLSWARM_COLLECTOR_TOKEN)
  --telemetry-format <f>   objects (default): getStats objects as they are; compact: rows under
                           column names, 25-48 % fewer bytes for a remote collector over a thin
                           link, at twice the encoding time here (env CALLSWARM_TELEMETRY_FORMAT)
  --run-id <id>            run id; shared by every shard of a multi-machine run
  --shard <i/n>            run the i-th of n deterministic parts of the participants; the collector
                           coordinates the shards (one verdict, aborts, lost shards). In a
                           Kubernetes Indexed Job: JOB_COMPLETION_INDEX and CALLSWARM_SHARD_COUNT
  --start-at <time>        epoch ms or ISO time at which every shard starts the schedule, or
                           all-ready: once every shard has reported ready
  --stats-interval <dur>   getStats() sampling period, e.g. 2s (default: the scenario's)
  --data-dir <dir>         embedded ClickHouse data and spool (default .callswarm)
  --out <dir>              output folder (default callswarm-out/<run id>): summary.json, junit.xml, report.html
  --json <file>            also write the result as JSON here
  --junit <file>           also write thresholds as JUnit XML here
  --keep-alive             keep the collector and dashboard up after the run (Ctrl-C to stop)
  --target-url <url>       for an app target: open this URL instead of the scenario's (placeholders
                           {room}, {peer}, {name} work here too)
  --time-scale <factor>    every duration of the scenario times this (0.25: four times shorter), to try it out
  --strict-capacity        refuse to start when the preflight sizing says this machine cannot carry the
                           scenario's peak or its joins (default: warn and run)

Exit code: 0 passed, 99 a threshold failed (k6's convention), 3 invalid (the load generator itself
saturated: no verdict on the call), 2 bad input, 130 interrupted, 1 error.
`;

const RunFlags = z.object({
	sfu: z.url({ protocol: /^https?$/ }).optional(),
	collector: z.url({ protocol: /^https?$/ }).optional(),
	token: z.string().optional(),
	'telemetry-format': z.enum(telemetryFormats).optional(),
	'run-id': RunId.optional(),
	shard: z
		.string()
		.regex(/^\d+\/\d+$/, 'must look like 1/4')
		.transform((s) => {
			const [index, count] = s.split('/').map(Number) as [number, number];
			return { index, count };
		})
		.refine((s) => s.index >= 1 && s.index <= s.count, 'i must be between 1 and n')
		.optional(),
	'start-at': z
		.string()
		.transform((s, ctx): number | 'all-ready' => {
			if (s === 'all-ready') return s;
			const ms = /^\d+$/.test(s) ? Number(s) : Date.parse(s);
			if (!Number.isFinite(ms)) {
				ctx.addIssue({ code: 'custom', message: 'must be epoch milliseconds, an ISO time, or all-ready' });
				return z.NEVER;
			}
			return ms;
		})
		.optional(),
	'stats-interval': DurationText.optional(),
	'data-dir': z.string().min(1).optional(),
	out: z.string().min(1).optional(),
	json: z.string().min(1).optional(),
	junit: z.string().min(1).optional(),
	'keep-alive': z.boolean().optional(),
	'time-scale': z
		.string()
		.regex(/^\d+(\.\d+)?$/, 'must be a number such as 0.25')
		.transform(Number)
		.pipe(z.number().positive('must be above 0').max(10))
		.optional(),
	'strict-capacity': z.boolean().optional(),
	'target-url': z.string().min(1).optional(),
	positionals: z.array(z.string()).length(1, 'give one scenario file'),
});

export const RunEnv = z.object({
	CALLSWARM_SFU_URL: z.url({ protocol: /^https?$/ }).optional(),
	CALLSWARM_COLLECTOR_URL: z.url({ protocol: /^https?$/ }).optional(),
	CALLSWARM_COLLECTOR_TOKEN: z.string().optional(),
	CALLSWARM_TELEMETRY_FORMAT: z.enum(telemetryFormats).optional(),
	CALLSWARM_DATA_DIR: z.string().optional(),
	/** Kubernetes sets it in each pod of an Indexed Job (0-based). */
	JOB_COMPLETION_INDEX: wholeNumberText.optional(),
	CALLSWARM_SHARD_COUNT: wholeNumberText.pipe(z.number().int().min(1)).optional(),
});

/** --shard, or a Kubernetes Indexed Job's completion index and the shard count from the environment. */
export function shardOf(flag: { index: number; count: number } | undefined, e: z.output<typeof RunEnv>): { index: number; count: number } | undefined {
	if (flag) return flag;
	if (e.JOB_COMPLETION_INDEX === undefined || e.CALLSWARM_SHARD_COUNT === undefined) return undefined;
	const index = e.JOB_COMPLETION_INDEX + 1;
	if (index > e.CALLSWARM_SHARD_COUNT) throw new InputError(`JOB_COMPLETION_INDEX ${e.JOB_COMPLETION_INDEX} is beyond CALLSWARM_SHARD_COUNT ${e.CALLSWARM_SHARD_COUNT}`);
	return { index, count: e.CALLSWARM_SHARD_COUNT };
}

export async function runCommand(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
	const flags = parseCommandLine(argv, RunFlags, 'run');
	const e = parseInput(RunEnv, Object.fromEntries(Object.entries(env).filter(([, v]) => v !== '')), 'environment');
	const shard = shardOf(flags.shard, e);
	// Everything is checked before anything starts.
	const loaded = await loadScenario(flags.positionals[0]!);
	const scenario = flags['time-scale'] ? scaleTime(loaded, flags['time-scale']) : loaded;
	if (flags['stats-interval'] !== undefined && flags['stats-interval'] < 500) {
		throw new InputError('invalid flags for "callswarm run": stats-interval: must be at least 500ms');
	}
	if (flags['target-url'] && typeof scenario.target !== 'object') {
		throw new InputError('invalid flags for "callswarm run": target-url: the scenario\'s target is not an app (target: { app: { url, join } })');
	}
	const sfuUrl = flags.sfu ?? e.CALLSWARM_SFU_URL;
	const collectorUrl = flags.collector ?? e.CALLSWARM_COLLECTOR_URL;
	const sizing = estimate(scenario, { shard, bundledSfu: !sfuUrl && scenario.target === 'bundled', localCollector: !collectorUrl });
	const problems = [sizing.advice, sizing.joins.advice].filter(Boolean);
	if (problems.length) {
		const verdict = flags['strict-capacity'] ? 'refused (--strict-capacity)' : 'warning';
		const message = [renderSizing(sizing), ...problems.map((problem) => `${verdict}: ${problem}`)].join('\n');
		if (flags['strict-capacity']) throw new InputError(message);
		console.warn(message);
	}

	const status = new StatusLine();
	const run = new LoadRun({
		scenario,
		runId: flags['run-id'],
		shard,
		startAt: flags['start-at'],
		sfuUrl,
		targetUrl: flags['target-url'],
		collectorUrl,
		collectorToken: flags.token ?? e.CALLSWARM_COLLECTOR_TOKEN,
		telemetryFormat: flags['telemetry-format'] ?? e.CALLSWARM_TELEMETRY_FORMAT,
		dataDir: flags['data-dir'] ?? e.CALLSWARM_DATA_DIR,
		statsIntervalMs: flags['stats-interval'],
	});
	const total = run.slots.length;
	console.log(
		`callswarm run ${scenario.name}: ${total} participants${shard ? ` (shard ${shard.index}/${shard.count})` : ''}, ${formatDuration(run.durationMs)}, run id ${run.runId}`,
	);
	run.on('log', (message) => {
		status.done(`  ${message}`);
	});
	run.on('shards', (state) => {
		const counts = ['running', 'finished', 'lost'].map((s) => `${state.shards.filter((x) => x.state === s).length} ${s}`).join(', ');
		status.update(`waiting for the run's verdict: shards ${counts}`);
	});
	run.on('progress', (p) => {
		const rtt = p.rttP95Ms === null ? '-' : `${p.rttP95Ms.toFixed(0)}ms`;
		const loss = p.lossPct === null ? '-' : `${p.lossPct.toFixed(2)}%`;
		const g = p.generator;
		const generator = g ? `  generator cpu ${g.machineCpuPct === null ? '-' : `${g.machineCpuPct.toFixed(0)}%`} lag ${g.maxLagMs.toFixed(0)}ms` : '';
		const overloaded = p.overloaded ? `  OVERLOADED since ${formatDuration(p.overloaded.elapsedMs)}` : '';
		status.update(
			`${bar(p.elapsedMs / p.durationMs)} ${formatDuration(p.elapsedMs)}/${formatDuration(p.durationMs)}  target ${p.target}  in call ${p.active}  joined ${p.joined}  failed ${p.failed}  p95 RTT ${rtt}  loss ${loss}${generator}${overloaded}`,
		);
	});

	let interrupted = false;
	let running = true;
	const signal = untilSignal();
	void signal.then(() => {
		if (!running) return;
		interrupted = true;
		status.done('interrupted: participants leave, telemetry is flushed (Ctrl-C again to quit at once)');
		run.interrupt();
	});

	let outcome: RunOutcome;
	try {
		outcome = await run.execute();
	} catch (error) {
		status.done();
		await run.close();
		throw error;
	}
	running = false;
	status.done();
	console.log(`\n${renderSummary(outcome)}\n`);

	const outDir = path.resolve(flags.out ?? path.join('callswarm-out', outcome.runId));
	await mkdir(outDir, { recursive: true });
	await writeFile(path.join(outDir, 'summary.json'), renderJson(outcome));
	await writeFile(path.join(outDir, 'junit.xml'), renderJunit(outcome));
	if (flags.json) await writeFile(flags.json, renderJson(outcome));
	if (flags.junit) await writeFile(flags.junit, renderJunit(outcome));
	try {
		await writeReport(new CollectorClient(outcome.collectorUrl, flags.token ?? e.CALLSWARM_COLLECTOR_TOKEN), outcome.runId, path.join(outDir, 'report.html'));
	} catch (error) {
		console.error(`could not write the HTML report: ${(error as Error).message}`);
	}
	console.log(`results in ${outDir} (summary.json, junit.xml, report.html)`);
	console.log(`dashboard: ${outcome.dashboardUrl}`);

	if (flags['keep-alive'] && !interrupted) {
		await run.close({ keepCollector: true });
		console.log('collector and dashboard stay up: Ctrl-C to stop');
		await signal;
		await run.collector?.close();
	} else {
		await run.close();
	}
	return exitCodeOf(outcome);
}


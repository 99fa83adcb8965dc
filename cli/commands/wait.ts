import { z } from 'zod';
import type { RunInfo } from '../../protocol/api.ts';
import { DurationText, formatDuration } from '../../protocol/durations.ts';
import { RunId } from '../../protocol/telemetry.ts';
import { parseCommandLine } from '../args.ts';
import { collectorFlagSchema, collectorHelp, withCollector } from '../collector-access.ts';
import { exitCodeOfStatus, exitCodes } from '../output/exitCodes.ts';
import { table } from '../output/table.ts';
import { StatusLine } from '../status.ts';

export const waitHelp = `callswarm wait <run id> [flags]: wait for a run's verdict (all shards of a multi-machine run), for CI

  --timeout <duration>   give up after this long (default 1h; exit 1)
${collectorHelp}
Exit code: as callswarm run's: 0 passed, 99 a threshold failed, 3 invalid (a shard was lost or its
machine saturated), 1 aborted or timed out, 2 bad input.
`;

export async function waitCommand(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
	const flags = parseCommandLine(argv, z.object({ ...collectorFlagSchema, timeout: DurationText.default(3_600_000), positionals: z.tuple([RunId]) }), 'wait');
	const runId = flags.positionals[0];
	const status = new StatusLine();
	const deadline = Date.now() + flags.timeout;
	const run = await withCollector(flags, env, async (client) => {
		for (;;) {
			const info: RunInfo | undefined = await client.run(runId).catch(() => undefined);
			if (info && info.status !== 'running') return info;
			if (Date.now() > deadline) return undefined;
			const shards = await client.coordination(runId).catch(() => undefined);
			const detail = shards ? `shards: ${['running', 'finished', 'lost'].map((s) => `${shards.shards.filter((x) => x.state === s).length} ${s}`).join(', ')}` : info ? 'running' : 'not registered yet';
			status.update(`run ${runId}: ${detail}`);
			await new Promise((resolve) => setTimeout(resolve, 2000));
		}
	});
	status.done();
	if (!run) {
		console.log(`run ${runId}: no verdict after ${formatDuration(flags.timeout)}`);
		return exitCodes.error;
	}
	console.log(`run ${runId}: ${run.status.toUpperCase()}${run.statusReason ? ` (${run.statusReason})` : ''}`);
	if (run.verdict.length) {
		console.log(table([['', 'threshold', 'value'], ...run.verdict.map((v) => [v.ok ? '✓' : '✗', `${v.metric} ${v.expression}`, v.value === null ? 'no data' : String(Number(v.value.toFixed(3)))])]));
	}
	return exitCodeOfStatus(run.status);
}

import { InputError } from '../protocol/issues.ts';
import { alertsCommand, alertsHelp, appsCommand, appsHelp, deleteCommand, deleteHelp } from './commands/apps.ts';
import { capacityCommand, capacityHelp } from './commands/capacity.ts';
import { compareCommand, compareHelp, reportCommand, reportHelp, runsCommand, runsHelp } from './commands/reports.ts';
import { runCommand, runHelp } from './commands/run.ts';
import { k8sCommand, k8sHelp } from './commands/k8s.ts';
import { serveCommand, serveHelp } from './commands/serve.ts';
import { waitCommand, waitHelp } from './commands/wait.ts';
import { sfuCommand, sfuHelp } from './commands/sfu.ts';

type Command = { summary: string; help: string; run: (argv: string[], env: NodeJS.ProcessEnv) => Promise<number> };

const commands: Record<string, Command> = {
	run: { summary: 'run a scenario: bots join the SFU, telemetry is stored, thresholds decide', help: runHelp, run: runCommand },
	runs: { summary: 'list the runs the collector knows', help: runsHelp, run: runsCommand },
	report: { summary: "write a run's self-contained HTML report", help: reportHelp, run: reportCommand },
	compare: { summary: 'compare two runs: summary deltas, regressions flagged', help: compareHelp, run: compareCommand },
	k8s: { summary: 'Kubernetes manifests for a run on n pods (an Indexed Job), collector and SFU included', help: k8sHelp, run: (argv) => k8sCommand(argv) },
	wait: { summary: "wait for a run's verdict (every shard of a multi-machine run), exit as run does", help: waitHelp, run: waitCommand },
	capacity: { summary: 'measure how many consumers one SFU worker core carries', help: capacityHelp, run: (argv) => capacityCommand(argv) },
	serve: { summary: 'run the collector: telemetry ingest, query API, dashboard', help: serveHelp, run: serveCommand },
	sfu: { summary: 'run the bundled mediasoup SFU', help: sfuHelp, run: sfuCommand },
	apps: { summary: 'production apps monitored with the SDK: create, ingest keys, revoke, view', help: appsHelp, run: appsCommand },
	alerts: { summary: "a production app's alert rules: list, create, delete, test", help: alertsHelp, run: alertsCommand },
	delete: { summary: "erase a user's or a call's data from every table and rollup", help: deleteHelp, run: deleteCommand },
};

function usage(): string {
	const lines = Object.entries(commands).map(([name, c]) => `  ${name.padEnd(10)} ${c.summary}`);
	return `callswarm: load-test and analyse group video calls\n\nUsage: callswarm <command> [flags]\n\n${lines.join('\n')}\n\nRun "callswarm <command> --help" for a command's flags.\n`;
}

/** Runs the CLI and returns the process exit code (99 when a threshold fails, like k6). */
export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
	const [name, ...rest] = argv;
	if (!name || name === '--help' || name === '-h' || name === 'help') {
		process.stdout.write(usage());
		return name ? 0 : 2;
	}
	const command = commands[name];
	if (!command) {
		process.stderr.write(`callswarm: unknown command "${name}"\n\n${usage()}`);
		return 2;
	}
	if (rest.includes('--help') || rest.includes('-h')) {
		process.stdout.write(command.help);
		return 0;
	}
	try {
		return await command.run(rest, env);
	} catch (error) {
		if (error instanceof InputError) {
			process.stderr.write(`${error.message}\n`);
			return 2;
		}
		process.stderr.write(`callswarm ${name}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
		return 1;
	}
}

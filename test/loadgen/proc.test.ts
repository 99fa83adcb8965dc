import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { browserWideCpuSeconds, processTable, readProcess, runQueueSeconds, treeCpuSeconds } from '../../loadgen/proc.ts';
import { waitFor } from '../helpers/signaling.ts';

const children: ChildProcess[] = [];
afterEach(() => {
	for (const child of children.splice(0)) child.kill('SIGKILL');
});

describe('run delay from /proc', () => {
	it('is undefined for a process that does not exist', () => {
		expect(runQueueSeconds(2 ** 22 + 1)).toBeUndefined();
	});

	it.runIf(existsSync('/proc/self/schedstat'))('grows while two busy processes share one core', async () => {
		// Both pinned to the same core: each is ready all the time and runs about half of it.
		const busy = () => {
			const child = spawn('taskset', ['-c', '0', process.execPath, '-e', 'for (;;) {}'], { stdio: 'ignore' });
			children.push(child);
			return child.pid!;
		};
		const [a, b] = [busy(), busy()];
		const waited0 = runQueueSeconds(a)!;
		expect(waited0).toBeGreaterThanOrEqual(0);
		// Anchored on the processes' own work: both have run at least half a second of CPU.
		await waitFor(() => (readProcess(a)?.cpuSeconds ?? 0) >= 0.5 && (readProcess(b)?.cpuSeconds ?? 0) >= 0.5, 'both busy loops to run', 60_000);
		const waitedA = runQueueSeconds(a)! - waited0;
		const ranA = readProcess(a)!.cpuSeconds;
		// Sharing one core, each waits about as long as it runs; never a small fraction of it.
		expect(waitedA).toBeGreaterThan(ranA * 0.3);
		expect(runQueueSeconds(b)!).toBeGreaterThan(0.15);
	});
});

describe("a browser's own processes from /proc", () => {
	it('counts every process of the tree but its renderers, whether their role is an argument or in a rewritten title', async () => {
		// Each process works 0.3 s of CPU, then idles: the figures come from the work, not from time.
		const work = 'const end = process.cpuUsage().user + 300_000; while (process.cpuUsage().user < end) {} setInterval(() => {}, 1000);';
		// Chromium's zygote children rewrite their command line into one string; this child does the same with its title.
		// (The title is joined at run time: the parent's own command line carries this code, and must not read as a renderer's.)
		const retitled = `process.title = ['chromium', '--type=' + 'renderer', '--lang=en-US'].join(' '); ${work}`;
		const parent = `
			const { spawn } = require('node:child_process');
			const start = (code, role) => spawn(process.execPath, ['-e', code, '--', role], { stdio: 'ignore' }).pid;
			const renderers = [start(${JSON.stringify(work)}, '--type=renderer'), start(${JSON.stringify(retitled)}, '--padding-so-the-new-title-fits-in-the-old-one')];
			const utility = start(${JSON.stringify(work)}, '--type=utility');
			console.log(JSON.stringify({ renderers, utility }));
			${work}
		`;
		const root = spawn(process.execPath, ['-e', parent], { stdio: ['ignore', 'pipe', 'ignore'] });
		children.push(root);
		const line = await new Promise<string>((resolve) => root.stdout!.once('data', (data: Buffer) => resolve(data.toString())));
		const { renderers, utility } = JSON.parse(line) as { renderers: number[]; utility: number };
		try {
			const pids = [root.pid!, ...renderers, utility];
			await waitFor(() => pids.every((pid) => (readProcess(pid)?.cpuSeconds ?? 0) >= 0.3), 'every process to do its work', 60_000);
			const table = processTable();
			const renderersCpu = renderers.reduce((sum, pid) => sum + table.get(pid)!.cpuSeconds, 0);
			expect(renderersCpu).toBeGreaterThanOrEqual(0.6);
			expect(browserWideCpuSeconds(root.pid!, table)).toBeCloseTo(treeCpuSeconds(root.pid!, table) - renderersCpu, 5);
			expect(browserWideCpuSeconds(root.pid!, table)).toBeGreaterThanOrEqual(0.6);
		} finally {
			for (const pid of [...renderers, utility]) {
				try {
					process.kill(pid, 'SIGKILL');
				} catch {
					// already gone
				}
			}
		}
	});
});

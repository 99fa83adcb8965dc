import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { readProcess, runQueueSeconds } from '../../loadgen/proc.ts';
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

import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { comparedConfigurations } from '../../bench/ingest-compare.ts';
import { median } from '../../bench/median.ts';

const run = promisify(execFile);
const ingestBench = fileURLToPath(new URL('../../bench/ingest.ts', import.meta.url));
const bench = (...args: string[]) => run(process.execPath, ['--import', 'tsx', ingestBench, ...args], { maxBuffer: 16 * 1024 * 1024 });

describe('median', () => {
	it('takes the middle figure, the mean of the middle two for an even count, NaN for none', () => {
		expect(median([3, 1, 2])).toBe(2);
		expect(median([4, 1, 3, 2])).toBe(2.5);
		expect(median([7])).toBe(7);
		expect(median([])).toBeNaN();
	});
});

describe('bench:ingest --compare', () => {
	it('refuses a flag that names one configuration, naming it', async () => {
		const refused = await bench('--compare', '2', '--payload', 'full', '--ingest-workers', '0').then(
			() => undefined,
			(error: { code: number; stderr: string }) => error,
		);
		expect(refused?.code).not.toBe(0);
		expect(refused?.stderr).toContain('payload: --compare runs every payload');
		expect(refused?.stderr).toContain('ingest-workers: --compare runs every payload');
	});

	it('refuses a run count that is not a whole number from 1', async () => {
		const refused = await bench('--compare', '0').then(
			() => undefined,
			(error: { code: number; stderr: string }) => error,
		);
		expect(refused?.stderr).toMatch(/compare: .*(>=|at least|too small)/i);
	});

	it('runs every configuration in a process of its own and prints them side by side, with the verdicts', async () => {
		const { stdout } = await bench('--compare', '1', '--bots', '10', '--snapshots', '4');
		for (const configuration of comparedConfigurations) {
			// Each configuration's row stored every sample it was sent: 10 bots × 4 snapshots × the fixture's stats.
			const row = stdout.split('\n').find((line) => line.includes(`│ ${configuration.label} `));
			expect(row, configuration.label).toBeDefined();
			const cells = row!.split('│').map((cell) => cell.trim());
			expect(Number(cells[2])).toBeGreaterThan(0);
			expect(Number(cells[8])).toBeGreaterThan(0);
			// The share of the collector's CPU spent in the kernel: a percentage, read from /proc.
			expect(cells[12]).toMatch(/^\d+$/);
			const kernelShare = Number(cells[12]);
			expect(kernelShare).toBeGreaterThanOrEqual(0);
			expect(kernelShare).toBeLessThanOrEqual(100);
		}
		const samples = stdout
			.split('\n')
			.filter((line) => comparedConfigurations.some((c) => line.includes(`│ ${c.label} `)))
			.map((line) => Number(line.split('│')[8]!.trim()));
		expect(new Set(samples).size).toBe(1);
		expect(stdout).toMatch(/target: the load generator's payload at ≥ 100 000 samples per CPU-second: (met|NOT met)/);
		expect(stdout).toMatch(/target: whole reports at ≥ 50 000 samples per CPU-second: (met|NOT met)/);
	});
});

/**
 * bench:receive end to end, in small: a Chromium page hearing no lite voice, then one, through
 * the bundled SFU (the bench fails unless the SFU forwards every stream it set up); and its flags
 * checked by name.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const receiveBench = fileURLToPath(new URL('../../bench/receive.ts', import.meta.url));
const bench = (...args: string[]) => run(process.execPath, ['--import', 'tsx', receiveBench, ...args], { maxBuffer: 16 * 1024 * 1024, timeout: 240_000 });
const refusal = (...args: string[]) =>
	bench(...args).then(
		() => undefined,
		(error: { code: number; stderr: string }) => error,
	);

describe('bench:receive', () => {
	it('refuses fewer than two different stream counts and a kind it does not know, naming the flag', async () => {
		const one = await refusal('--streams', '4');
		expect(one?.code).not.toBe(0);
		expect(one?.stderr).toContain('streams: at least two different counts');
		expect((await refusal('--streams', '4,4'))?.stderr).toContain('streams: at least two different counts');
		expect((await refusal('--kinds', 'audio,screen'))?.stderr).toMatch(/kinds/);
	});

	it("measures a page's cores by the streams it receives, and the first stream's price", async () => {
		const { stdout } = await bench('--streams', '0,1', '--pages', '1', '--seconds', '2', '--warmup', '1', '--kinds', 'audio');
		const perPage = (streams: number) => Number(new RegExp(`│ audio × ${streams}\\s+│ ([\\d.]+)\\s+│`).exec(stdout)?.[1]);
		// A page costs something even alone; the first stream's price is what one voice adds to it.
		expect(perPage(0)).toBeGreaterThan(0);
		expect(perPage(1)).toBeGreaterThan(0);
		expect(stdout).toContain('pages publishing none in one Chromium');
		const first = /│ audio\s+│ (-?[\d.]+)\s+│ '?-'?\s+│/.exec(stdout);
		expect(first, stdout).not.toBeNull();
		expect(Number(first![1])).toBeCloseTo(perPage(1) - perPage(0), 2);
	});
});

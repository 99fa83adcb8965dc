/**
 * bench:bots --simulcast 1 end to end, in small: one send-only page in layers beside one in a
 * single layer, each in a Chromium of its own, through the bundled SFU; and its refusal of a run
 * with nothing to send in layers.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const botsBench = fileURLToPath(new URL('../../bench/bots.ts', import.meta.url));
const bench = (...args: string[]) => run(process.execPath, ['--import', 'tsx', botsBench, ...args], { maxBuffer: 16 * 1024 * 1024, timeout: 240_000 });

describe('bench:bots --simulcast 1', () => {
	it('refuses profiles without video, naming the flags', async () => {
		const refused = await bench('--simulcast', '1', '--profiles', 'audio-only').then(
			() => undefined,
			(error: { code: number; stderr: string }) => error,
		);
		expect(refused?.code).not.toBe(0);
		expect(refused?.stderr).toContain('--simulcast 1 needs a video profile in --profiles');
	});

	it('measures pages sending in layers beside pages sending one, over the same window, and what the layers add', async () => {
		const { stdout } = await bench('--simulcast', '1', '--profiles', '360p30', '--rounds', '1', '--bots', '1', '--seconds', '2', '--warmup', '2');
		const row = /│ 360p30\s+│ ([\d.]+)\s+│ ([\d.]+)\s+│ ([\d.]+)\s+│ (-?[\d.]+)\s+│ '([\d.]+)'\s+│ '(\d+)'\s+│ '(\d+)'\s+│/.exec(stdout);
		expect(row, stdout).not.toBeNull();
		const [single, layered, factor, more, , layers] = row!.slice(1, 7).map(Number) as [number, number, number, number, number, number];
		expect(single).toBeGreaterThan(0);
		expect(layered).toBeGreaterThan(0);
		expect(factor).toBeCloseTo(layered / single, 1);
		// One round: the median of what layers add is its difference.
		expect(more).toBeCloseTo(layered - single, 2);
		// 640x360 goes out in two layers at most; Chromium turns the second on as its bandwidth estimate allows.
		expect([1, 2]).toContain(layers);
		expect(stdout).toContain('Sending in layers (H264 simulcast against one layer, 1 send-only page of each in a browser of their own');
	});
});

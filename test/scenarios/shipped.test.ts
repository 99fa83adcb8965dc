/**
 * Every scenario in scenarios/ passes where it is shipped to run: a 2-core machine, thresholds
 * as written. Run here four times shorter (--time-scale 0.25), so a scenario that stops passing
 * (or stops fitting the machine) is caught. A shorter time scale also makes arrivals denser,
 * and some scenarios then saturate the generator on a 2-core machine (the run is rightly invalid),
 * so they run at half their pace (ramp, whose four browser joins four times faster would come
 * 4 s apart) or at their own: audio-large, whose 24 joins a second apart would come four a
 * second while its lite-bot processes receive dozens of audio streams, and impaired-3g, whose
 * browser bots would all join within a second while the runner shapes their media through four
 * relays (on Node 22 its event loop then lags past the limit), large-room, whose twelve joins
 * would come within ten seconds while the runner starts browsers and lite-bot processes, and
 * growth, whose exponential arrivals four times faster lag a lite-bot process on Node 24, and
 * smoke, whose four browser joins would come within 4 s (on a slower 2-core machine each join
 * takes most of both cores for 2–3 s).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { removeDir } from '../helpers/tempDir.ts';

const exec = promisify(execFile);
const work = mkdtempSync(path.join(os.tmpdir(), 'callswarm-shipped-'));
afterAll(() => removeDir(work));

const scenarios = readdirSync('scenarios').filter((f) => f.endsWith('.ts')).sort();
const timeScale: Record<string, number> = { 'audio-large.ts': 1, 'growth.ts': 1, 'impaired-3g.ts': 1, 'large-room.ts': 1, 'ramp.ts': 0.5, 'smoke.ts': 1 };

describe('shipped scenarios', () => {
	it('are all here', () => {
		expect(scenarios).toEqual(expect.arrayContaining(['smoke.ts', 'ramp.ts', 'growth.ts', 'impaired-3g.ts', 'audio-large.ts', 'hybrid.ts', 'large-room.ts']));
	});

	for (const file of scenarios) {
		const scale = timeScale[file] ?? 0.25;
		it(`${file} passes its thresholds on this machine (time scale ${scale})`, async () => {
			const out = path.join(work, file);
			const result = await exec(
				process.execPath,
				['bin/callswarm.js', 'run', `scenarios/${file}`, '--time-scale', String(scale), '--data-dir', path.join(work, 'data'), '--out', out],
				{ timeout: 300_000, maxBuffer: 16 << 20 },
			).then(
				(r) => ({ code: 0, ...r }),
				(e: { code?: number; stdout?: string; stderr?: string }) => ({ code: e.code ?? -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' }),
			);
			expect(result.stderr, 'preflight sizing').not.toContain('warning: this needs about');
			const summary = JSON.parse(readFileSync(path.join(out, 'summary.json'), 'utf8')) as { status: string; statusReason: string };
			expect({ code: result.code, status: summary.status, reason: summary.statusReason }, result.stdout).toEqual({ code: 0, status: 'passed', reason: '' });
		}, 330_000);
	}
});

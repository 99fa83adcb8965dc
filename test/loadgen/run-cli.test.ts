import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { ClickHouseStore } from '../../collector/store/ClickHouseStore.ts';
import { removeDir } from '../helpers/tempDir.ts';

const exec = promisify(execFile);
const work = mkdtempSync(path.join(os.tmpdir(), 'callswarm-run-test-'));
afterAll(() => removeDir(work));

/** `callswarm run` as a user runs it; resolves with its exit code and output. */
async function callswarm(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
	try {
		const { stdout, stderr } = await exec('node', ['bin/callswarm.js', ...args], { timeout: 240_000, maxBuffer: 16 << 20 });
		return { code: 0, stdout, stderr };
	} catch (error) {
		const e = error as { code?: number; stdout?: string; stderr?: string };
		return { code: e.code ?? -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
	}
}

describe('callswarm run', () => {
	it('runs the smoke scenario (4 browser bots, 2 rooms) against the bundled SFU and passes its thresholds', async () => {
		const dataDir = path.join(work, 'smoke-data');
		const out = path.join(work, 'smoke-out');
		const { code, stdout, stderr } = await callswarm(['run', 'scenarios/smoke.ts', '--data-dir', dataDir, '--out', out]);
		expect(stderr).not.toMatch(/error|exception/i);
		expect(stderr).toMatch(/in call 4  joined 4  failed 0/);
		expect(code).toBe(0);
		expect(stdout).toMatch(/PASSED/);
		expect(stdout).toMatch(/thresholds: 5 passed, 0 failed/);
		const result = JSON.parse(readFileSync(path.join(out, 'summary.json'), 'utf8')) as {
			runId: string;
			status: string;
			thresholds: Array<{ ok: boolean }>;
			summary: { participants: { joined: number } };
			botCosts: Array<{ role: string; peak: number; coresEach: number; estimatedCoresEach: number | null; estimatedJoinCoresEach: number | null }>;
		};
		expect(result.status).toBe('passed');
		expect(result.summary.participants.joined).toBe(4);
		// What a browser bot cost this machine, beside what the preflight expected of it.
		expect(result.botCosts).toEqual([expect.objectContaining({ role: 'browser', peak: 4 })]);
		expect(result.botCosts[0]!.coresEach).toBeGreaterThan(0.01);
		expect(result.botCosts[0]!.coresEach).toBeLessThan(2);
		expect(result.botCosts[0]!.estimatedCoresEach).toBeGreaterThan(0);
		// The estimate holds the table's cost of the joins the run counted, over the bots' time in calls.
		expect(result.botCosts[0]!.estimatedJoinCoresEach).toBeGreaterThan(0);
		expect(result.botCosts[0]!.estimatedJoinCoresEach).toBeLessThan(result.botCosts[0]!.estimatedCoresEach!);
		expect(stdout).toMatch(/bots on this machine, .*: browser bots \d\.\d{3} core each \(4 at most in calls; the preflight expected \d\.\d{3}, joins \d\.\d{3} of it/);
		expect(readFileSync(path.join(out, 'junit.xml'), 'utf8')).toContain('tests="5" failures="0"');

		// The telemetry is in the embedded ClickHouse the run used.
		const store = await ClickHouseStore.open({ dataDir: path.join(dataDir, 'clickhouse') });
		try {
			const [samples] = await store.query<{ peers: number; rooms: number; rows: number }>(
				`SELECT uniqExact(peer_id) AS peers, uniqExact(room_id) AS rooms, count() AS rows FROM callswarm.samples WHERE run_id = {run:String} AND source_kind = 'browser'`,
				{ run: result.runId },
			);
			expect(samples).toMatchObject({ peers: 4, rooms: 2 });
			expect(samples!.rows).toBeGreaterThan(100);
			const events = await store.query<{ type: string; n: number }>(
				`SELECT type, count() AS n FROM callswarm.events WHERE run_id = {run:String} GROUP BY type ORDER BY type`,
				{ run: result.runId },
			);
			expect(Object.fromEntries(events.map((e) => [e.type, e.n]))).toMatchObject({ join: 4, 'first-media': 4, leave: 4 });
			const [sfu] = await store.query<{ n: number }>(`SELECT count() AS n FROM callswarm.sfu_samples WHERE run_id = {run:String}`, { run: result.runId });
			expect(sfu!.n).toBeGreaterThan(0);
		} finally {
			await store.close();
		}
	});

	it('exits 99 when a threshold fails', async () => {
		const out = path.join(work, 'impossible-out');
		const { code, stdout } = await callswarm(['run', 'test/fixtures/scenarios/impossible.ts', '--data-dir', path.join(work, 'impossible-data'), '--out', out, '--junit', path.join(work, 'impossible.xml')]);
		expect(code).toBe(99);
		expect(stdout).toMatch(/FAILED/);
		expect(stdout).toMatch(/thresholds: 1 passed, 1 failed/);
		const junit = readFileSync(path.join(work, 'impossible.xml'), 'utf8');
		expect(junit).toContain('failures="1"');
		expect(junit).toContain('name="rtt_ms p(95)&lt;0"');
	});

	it('stops early when an abortOnFail threshold fails, exit 99', async () => {
		const out = path.join(work, 'abort-out');
		const { code, stdout } = await callswarm(['run', 'test/fixtures/scenarios/abort.ts', '--data-dir', path.join(work, 'abort-data'), '--out', out]);
		expect(code).toBe(99);
		expect(stdout).toContain('threshold rtt_ms p(95)<0 failed (abortOnFail)');
		const result = JSON.parse(readFileSync(path.join(out, 'summary.json'), 'utf8')) as { startedAt: number; endedAt: number; status: string };
		expect(result.status).toBe('failed');
		// The schedule asked for a minute.
		expect(result.endedAt - result.startedAt).toBeLessThan(45_000);
	});

	it('stops cleanly on Ctrl-C: bots leave, telemetry is flushed, exit 130', async () => {
		const dataDir = path.join(work, 'interrupt-data');
		const out = path.join(work, 'interrupt-out');
		const child = spawn('node', ['bin/callswarm.js', 'run', 'scenarios/smoke.ts', '--data-dir', dataDir, '--out', out], { stdio: ['ignore', 'pipe', 'pipe'] });
		let stderr = '';
		child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
		const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
		for (let i = 0; i < 120 && !/in call 4/.test(stderr); i++) await new Promise((r) => setTimeout(r, 500));
		expect(stderr).toMatch(/in call 4/);
		child.kill('SIGINT');
		expect(await exited).toBe(130);
		const result = JSON.parse(readFileSync(path.join(out, 'summary.json'), 'utf8')) as { runId: string; status: string; stop: { kind: string } };
		expect(result).toMatchObject({ status: 'aborted', statusReason: 'interrupted', stop: { kind: 'interrupted' } });
		const store = await ClickHouseStore.open({ dataDir: path.join(dataDir, 'clickhouse') });
		try {
			const [leaves] = await store.query<{ n: number }>(`SELECT count() AS n FROM callswarm.events WHERE run_id = {run:String} AND type = 'leave'`, { run: result.runId });
			expect(leaves!.n).toBe(4);
		} finally {
			await store.close();
		}
	});

	it('refuses an invalid scenario before anything starts, naming the fields', async () => {
		const dataDir = path.join(work, 'invalid-data');
		const { code, stdout, stderr } = await callswarm(['run', 'test/fixtures/scenarios/invalid.json', '--data-dir', dataDir]);
		expect(code).toBe(2);
		expect(stdout).toBe('');
		expect(stderr).toContain('invalid scenario test/fixtures/scenarios/invalid.json');
		expect(stderr).toContain('participants[0].publish');
		expect(stderr).toContain('schedule.stages[0].duration: "ten seconds" is not a duration');
		expect(stderr).toContain('thresholds.rtt_ms[0].threshold');
		expect(existsSync(dataDir)).toBe(false);

		const flags = await callswarm(['run', 'scenarios/smoke.ts', '--shard', '3/2']);
		expect(flags.code).toBe(2);
		expect(flags.stderr).toContain('shard: i must be between 1 and n');
		const format = await callswarm(['run', 'scenarios/smoke.ts', '--telemetry-format', 'binary']);
		expect(format.code).toBe(2);
		expect(format.stderr).toContain('telemetry-format: Invalid option: expected one of "objects"|"compact"');
		const missing = await callswarm(['run', 'scenarios/nope.ts']);
		expect(missing).toMatchObject({ code: 2 });
		expect(missing.stderr).toContain('scenario scenarios/nope.ts: no such file');
	});

	it('refuses run ids that are only dots (they would name a parent folder)', async () => {
		const run = await callswarm(['run', 'scenarios/smoke.ts', '--run-id', '..', '--data-dir', path.join(work, 'dots')]);
		expect(run.code).toBe(2);
		expect(run.stderr).toContain('run-id: must not be only dots');
		expect(existsSync(path.join(work, 'dots'))).toBe(false);
		const report = await callswarm(['report', '..', '--data-dir', path.join(work, 'dots')]);
		expect(report.code).toBe(2);
		expect(report.stderr).toContain('must not be only dots');
	});
});

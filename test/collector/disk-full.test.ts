/**
 * The collector's data directory on a small tmpfs that fills up: clients get 507 with
 * Retry-After (never a crash), nothing acknowledged is lost, no partial files are left, and the
 * collector recovers by itself when space returns. Needs root to mount; skipped otherwise.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCollector, type Collector } from '../../collector/index.ts';
import { waitFor } from '../helpers/signaling.ts';
import { batch, chromiumFixture, post } from '../helpers/telemetry.ts';
import { removeDir } from '../helpers/tempDir.ts';

const mountPoint = mkdtempSync(path.join(os.tmpdir(), 'callswarm-disk-full-'));
const ballast = path.join(mountPoint, 'ballast.bin');

function mountTmpfs(): string | undefined {
	if (process.getuid?.() !== 0) return 'needs root to mount a tmpfs';
	try {
		execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=48m', 'tmpfs', mountPoint], { stdio: 'pipe' });
		return undefined;
	} catch (error) {
		return `cannot mount a tmpfs here: ${(error as Error).message.split('\n')[0]}`;
	}
}

const skipReason = mountTmpfs();
if (skipReason) console.warn(`disk-full test skipped: ${skipReason}`);
let collector: Collector;

beforeAll(async () => {
	if (skipReason) return;
	collector = await startCollector({ port: 0, logLevel: 'silent', dataDir: path.join(mountPoint, 'data'), flushIntervalMs: 100 });
});

afterAll(async () => {
	await collector?.close().catch(() => undefined);
	if (!skipReason) execFileSync('umount', ['-l', mountPoint]);
	removeDir(mountPoint);
});

describe.skipIf(skipReason !== undefined)('a full disk', () => {
	it('answers 507 with Retry-After, loses nothing it acknowledged, and recovers when space returns', async () => {
		const free = Number(execFileSync('df', ['--output=avail', '-B1', mountPoint], { encoding: 'utf8' }).split('\n')[1]);
		// Leave the collector about 4 MB.
		writeFileSync(ballast, Buffer.alloc(Math.max(0, free - 4 * 1024 * 1024)));

		const snapshots = chromiumFixture().snapshots;
		let acknowledgedSamples = 0;
		let acknowledged = 0;
		const statuses: number[] = [];
		let full: Response | undefined;
		for (let i = 0; i < 400 && !full; i++) {
			const body = { batches: Array.from({ length: 8 }, (_, k) => batch('run-full', `p${i}-${k}`, snapshots)) };
			const reply = await fetch(`${collector.url}/v1/telemetry`, {
				method: 'POST',
				headers: { 'content-type': 'application/json' },
				body: JSON.stringify(body),
			});
			statuses.push(reply.status);
			if (reply.status === 202) {
				const answer = (await reply.json()) as { accepted: number; samples: number };
				acknowledged += answer.accepted;
				acknowledgedSamples += answer.samples;
			} else if (reply.status === 507) {
				full = reply;
			} else {
				await reply.body?.cancel();
			}
		}
		expect(full, `statuses: ${[...new Set(statuses)].join(', ')}`).toBeDefined();
		expect(full!.headers.get('retry-after')).toBeTruthy();
		expect(((await full!.json()) as { error: string }).error).toBe('disk_full');
		expect(statuses.filter((s) => s >= 500 && s !== 507)).toEqual([]);
		expect(acknowledged).toBeGreaterThan(0);

		// Alive, and saying why it is unhealthy.
		const health = await fetch(`${collector.url}/healthz`);
		expect(health.status).toBe(503);
		expect(await health.json()).toMatchObject({ ok: false, diskFull: true });
		// No partial files: only whole journal segments.
		const journalDir = path.join(mountPoint, 'data', 'journal');
		expect(readdirSync(journalDir).filter((f) => f !== 'quarantine' && !f.endsWith('.journal'))).toEqual([]);

		// Space returns: the collector takes telemetry again and stores everything it acknowledged.
		rmSync(ballast);
		const again = await waitFor(
			async () => {
				const reply = await post(collector.url, batch('run-full', 'after', snapshots));
				return reply.status === 202 ? reply : undefined;
			},
			'telemetry to be accepted again',
			30_000,
		);
		acknowledgedSamples += again.body.samples as number;
		await waitFor(
			async () => {
				await collector.flush();
				return !collector.writer.degraded && collector.writer.pendingRows === 0;
			},
			'the journal to reach ClickHouse',
			60_000,
		);
		const [stored] = await collector.store.query<{ n: number }>(`SELECT count() AS n FROM callswarm.samples WHERE run_id = 'run-full'`);
		expect(Number(stored!.n)).toBe(acknowledgedSamples);
		expect((await fetch(`${collector.url}/healthz`)).status).toBe(200);
	});
});

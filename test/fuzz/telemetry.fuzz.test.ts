/**
 * Seeded fuzzing of POST /v1/telemetry: thousands of mutated requests (wrong types, huge and
 * negative numbers, long strings, "__proto__" and "constructor" keys, truncated JSON) among
 * valid ones. No answer may be a 5xx, the collector must stay up, and every valid batch it
 * acknowledged must be stored, whole.
 */
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCollector, type Collector } from '../../collector/index.ts';
import { damagedText, mutate, random, type Json } from '../helpers/fuzz.ts';
import { batch, chromiumFixture } from '../helpers/telemetry.ts';
import { removeDir } from '../helpers/tempDir.ts';

const seed = Number(process.env.CALLSWARM_FUZZ_SEED ?? 20261128);
const requests = 2800;
const dataDir = mkdtempSync(path.join(os.tmpdir(), 'callswarm-fuzz-telemetry-'));
let collector: Collector;

beforeAll(async () => {
	collector = await startCollector({ port: 0, logLevel: 'silent', dataDir, flushIntervalMs: 200, bodyLimitBytes: 2 * 1024 * 1024 });
});

afterAll(async () => {
	await collector?.close();
	removeDir(dataDir);
});

describe(`telemetry fuzzing (seed ${seed})`, () => {
	it(`answers ${requests} mutated and valid requests without a 5xx and stores every valid batch`, async () => {
		const rand = random(seed);
		const snapshots = chromiumFixture().snapshots;
		const statuses = new Map<number, number>();
		const valid = new Map<string, number>();
		let hostile = 0;

		async function send(index: number): Promise<void> {
			const peer = `p${index}`;
			const start = Math.floor(rand() * (snapshots.length - 3));
			const base = batch('run-fuzz', peer, snapshots.slice(start, start + 1 + Math.floor(rand() * 3)), [{ type: 'join', ts: Date.now(), durationMs: 400 }]);
			const r = rand();
			let body: string;
			let validBatch = false;
			if (r < 0.25) {
				body = JSON.stringify(base);
				validBatch = true;
			} else if (r < 0.85) {
				body = JSON.stringify(rand() < 0.5 ? mutate(base as unknown as Json, rand) : { batches: [mutate(base as unknown as Json, rand)] });
				hostile++;
			} else {
				body = damagedText(base as unknown as Json, rand);
				hostile++;
			}
			const response = await fetch(`${collector.url}/v1/telemetry`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
			statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
			const reply = (await response.json().catch(() => undefined)) as { accepted?: number; samples?: number } | undefined;
			if (validBatch) {
				expect(response.status, `valid request ${index}`).toBe(202);
				expect(reply?.accepted).toBe(1);
				valid.set(base.batchId, reply!.samples!);
			}
		}

		const inFlight = 8;
		for (let i = 0; i < requests; i += inFlight) {
			await Promise.all(Array.from({ length: Math.min(inFlight, requests - i) }, (_, k) => send(i + k)));
		}
		const serverErrors = [...statuses].filter(([status]) => status >= 500);
		expect(serverErrors, `statuses ${JSON.stringify([...statuses])}`).toEqual([]);
		expect(hostile).toBeGreaterThanOrEqual(2000);
		expect(statuses.get(400) ?? 0).toBeGreaterThan(0);

		// Alive, and every acknowledged valid batch is stored with all its samples.
		expect((await fetch(`${collector.url}/healthz`)).status).toBe(200);
		await collector.flush();
		const rows = await collector.store.query<{ batch_id: string; samples: number }>(
			`SELECT batch_id, samples FROM callswarm.batches WHERE run_id = 'run-fuzz' AND batch_id IN {ids:Array(String)}`,
			{ ids: [...valid.keys()] },
		);
		const stored = new Map(rows.map((r) => [r.batch_id, Number(r.samples)]));
		expect([...valid.keys()].filter((id) => !stored.has(id))).toEqual([]);
		for (const [id, samples] of valid) expect(stored.get(id), id).toBe(samples);
	});
});

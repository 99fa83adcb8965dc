/**
 * "Accepted" means durable: a collector killed with SIGKILL in the middle of a run of lite bots
 * and restarted on the same data directory has every snapshot every bot produced, and no
 * snapshot twice.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { selectedPair } from '../../collector/normalize/Normalizer.ts';
import { ClickHouseStore } from '../../collector/store/ClickHouseStore.ts';
import { LoadRun } from '../../loadgen/run/LoadRun.ts';
import { Scenario } from '../../protocol/scenario.ts';
import type { KnownStats, ObjectBatchInput } from '../../protocol/telemetry.ts';
import { waitFor } from '../helpers/signaling.ts';
import { removeDir } from '../helpers/tempDir.ts';

const work = mkdtempSync(path.join(os.tmpdir(), 'callswarm-durability-'));
const dataDir = path.join(work, 'data');
const children = new Set<ChildProcess>();
afterAll(() => {
	for (const child of children) child.kill('SIGKILL');
	removeDir(work);
});

async function freePort(): Promise<number> {
	const server = net.createServer();
	await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
	const { port } = server.address() as net.AddressInfo;
	await new Promise((resolve) => server.close(resolve));
	return port;
}

/** `callswarm serve` as its own process; resolves once it answers. */
async function serve(port: number): Promise<ChildProcess> {
	const child = spawn(process.execPath, ['bin/callswarm.js', 'serve', '--port', String(port), '--data-dir', dataDir, '--log-level', 'error'], {
		stdio: ['ignore', 'pipe', 'inherit'],
	});
	children.add(child);
	child.once('exit', () => children.delete(child));
	await waitFor(
		async () => (await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => undefined))?.ok,
		'the collector to answer',
		60_000,
	);
	return child;
}

describe('a collector killed with SIGKILL mid-run', () => {
	it('comes back on the same data directory with every snapshot of every bot, each once', async () => {
		const port = await freePort();
		const url = `http://127.0.0.1:${port}`;
		let collector = await serve(port);
		const scenario = Scenario.parse({
			name: 'durability',
			participants: [{ name: 'lite', bot: 'lite', count: 4, publish: '180p15' }],
			// An upper bound: the test ends the run once it has what it checks.
			schedule: { executor: 'constant-vus', vus: 4, duration: '5m' },
			statsInterval: '1s',
		});
		const run = new LoadRun({ scenario, collectorUrl: url, dataDir: work });
		const first = new Map<string, number>();
		run.on('participant', (slot, event) => {
			if (event.type === 'join') first.set(slot.peerId, event.ts);
		});
		let restarted = false;
		const outcome = run.execute();
		// What the bots produced: every snapshot the run handed to its sender, per peer.
		const produced = new Map<string, Set<number>>();
		await waitFor(() => run.telemetry, 'the run to start');
		const sender = run.telemetry!;
		const push = sender.push.bind(sender);
		sender.push = (batch: ObjectBatchInput) => {
			if (batch.source.kind === 'lite') {
				for (const snapshot of batch.snapshots ?? []) {
					// A snapshot taken before ICE has chosen a pair (a slower machine's first second) stores no pair row.
					if (snapshot.pc !== 'recv' || !selectedPair(snapshot.stats as KnownStats[])) continue;
					let set = produced.get(batch.source.peerId);
					if (!set) produced.set(batch.source.peerId, (set = new Set()));
					set.add(snapshot.ts);
				}
			}
			push(batch);
		};
		try {
			await waitFor(() => first.size === 4, 'every bot to join', 120_000);
			// Several seconds of every bot's data acknowledged, then the kill.
			await waitFor(() => [...produced.values()].filter((s) => s.size >= 5).length === 4, 'five snapshots of every bot', 60_000);
			collector.kill('SIGKILL');
			await new Promise((resolve) => collector.once('exit', resolve));
			// The bots keep sampling while the collector is gone; the sender keeps their batches.
			const downAt = Math.max(...[...produced.values()].map((s) => Math.max(...s)));
			await waitFor(() => [...produced.values()].every((s) => [...s].some((ts) => ts > downAt + 2000)), 'snapshots taken while the collector was down', 60_000);
			collector = await serve(port);
			restarted = true;
			const upAt = Date.now();
			await waitFor(() => [...produced.values()].every((s) => [...s].some((ts) => ts > upAt + 2000)), 'snapshots after the restart', 60_000);
			run.stop('checked');
			const result = await outcome;
			expect(result.summary.participants.joined).toBe(4);
		} finally {
			run.stop('test over');
			await outcome.catch(() => undefined);
			await run.close();
			// A clean stop, so this test can open the same embedded ClickHouse.
			collector.kill('SIGTERM');
			await new Promise((resolve) => collector.once('exit', resolve));
		}
		expect(restarted).toBe(true);

		const store = await ClickHouseStore.open({ dataDir: path.join(dataDir, 'clickhouse') });
		try {
			const rows = await store.query<{ peer: string; ts: number; n: number }>(
				`SELECT peer_id AS peer, toUnixTimestamp64Milli(ts) AS ts, count() AS n FROM callswarm.samples
				WHERE run_id = {run:String} AND source_kind = 'lite' AND pc = 'recv' AND direction = 'candidate-pair'
				GROUP BY peer, ts`,
				{ run: run.runId },
			);
			for (const [peer, snapshots] of produced) {
				const stored = rows.filter((r) => r.peer === peer);
				// Every snapshot the bot produced is stored (each has one selected candidate pair)...
				const storedTs = new Set(stored.map((r) => Number(r.ts)));
				const missing = [...snapshots].filter((ts) => !storedTs.has(ts));
				expect(missing, `${peer}: snapshots lost`).toEqual([]);
				// ...once.
				expect(stored.filter((r) => Number(r.n) > 1), `${peer}: snapshots stored twice`).toEqual([]);
				// And, as the issue words it, every second of every peer has its sample.
				const seconds = [...snapshots].map((ts) => Math.floor(ts / 1000));
				const covered = new Set([...storedTs].map((ts) => Math.floor(ts / 1000)));
				expect(seconds.filter((s) => !covered.has(s))).toEqual([]);
			}
		} finally {
			await store.close();
		}
	});
});

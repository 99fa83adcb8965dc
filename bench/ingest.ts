/**
 * bench:ingest: telemetry throughput through HTTP, normalisation and the RowBinary insert,
 * beside a plain @clickhouse/client JSONEachRow insert of the same rows into the same embedded
 * engine; then query latency of a run view over `--seed` stored samples (10 million by default;
 * the 100 million figure: --seed 100000000, about 4 minutes to seed).
 *   npm run bench:ingest [-- --bots 200 --snapshots 40 --seed 10000000 --payload known|compact|full --route run|app --ingest-workers n --flush-ms n --flush-rows n --collectors n]
 *   npm run bench:ingest -- --compare 3 [--bots 200 --snapshots 40]
 * --payload known (default) sends what callswarm's load generator sends (known stats types and
 * fields); compact the same in the compact wire form (protocol/compact.ts, the load generator's
 * --telemetry-format compact); full sends whole getStats() reports, as an app posting its own would.
 * --route app posts to the monitoring SDK's route (/v1/apps/:appId/telemetry, an app and its
 * ingest key made first) as pages do: one participant's batch per request.
 * --compare n runs every one of these configurations n times, in turn, each in a process of its
 * own, and prints them side by side (bench/ingest-compare.ts); no query part.
 */
import { fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { bar, StatusLine } from '../cli/status.ts';
import { parseInput, wholeNumberText } from '../protocol/issues.ts';
import { BaselineKeeper } from '../protocol/baseline.ts';
import { ingestKeyHeader } from '../protocol/sdk.ts';
import { compactBatch } from '../protocol/compact.ts';
import { keepKnownStats } from '../protocol/redaction.ts';
import type { StatsSnapshot, ObjectBatchInput } from '../protocol/telemetry.ts';
import { compareIngest, type IngestFigures } from './ingest-compare.ts';

const given = parseArgs({
	options: {
		bots: { type: 'string' },
		snapshots: { type: 'string' },
		concurrency: { type: 'string' },
		seed: { type: 'string' },
		iterations: { type: 'string' },
		payload: { type: 'string' },
		route: { type: 'string' },
		'journal-sync': { type: 'string' },
		'ingest-workers': { type: 'string' },
		'flush-ms': { type: 'string' },
		'flush-rows': { type: 'string' },
		collectors: { type: 'string' },
		profile: { type: 'string' },
		compare: { type: 'string' },
		result: { type: 'string' },
	},
}).values;

const flags = parseInput(
	z.object({
		bots: wholeNumberText.default(200),
		snapshots: wholeNumberText.default(40),
		concurrency: wholeNumberText.default(4),
		seed: wholeNumberText.default(10_000_000),
		iterations: wholeNumberText.default(30),
		payload: z.enum(['known', 'compact', 'full']).default('known'),
		/** run: the load generator's route; app: the monitoring SDK's (pages of an app, one participant per request). */
		route: z.enum(['run', 'app']).default('run'),
		/** on: every 202 waits for the journal's fsync (the default collector); off: for the write only. */
		'journal-sync': z.enum(['on', 'off']).default('on'),
		/** Worker threads parsing and normalising telemetry (0: the collector's own thread; default: the collector's default). */
		'ingest-workers': wholeNumberText.optional(),
		/** Seal the journal and insert this often (default: the collector's own default). */
		'flush-ms': wholeNumberText.optional(),
		/** ...or once it holds this many rows (default: the collector's own default). */
		'flush-rows': wholeNumberText.optional(),
		/** Collector processes taking the requests in turn, as behind a load balancer (the figures after ingest are the first one's). */
		collectors: wholeNumberText.pipe(z.number().int().min(1).max(8)).default(1),
		/** Write a V8 CPU profile of the collector process into this directory (where the time goes). */
		profile: z.string().min(1).optional(),
		/** Run every configuration this many times, in turn, and print them side by side. */
		compare: wholeNumberText.pipe(z.number().int().min(1).max(20)).optional(),
		/** Write this run's ingest figures to this file as JSON (what --compare reads). */
		result: z.string().min(1).optional(),
	}).superRefine((f, ctx) => {
		if (f.compare === undefined) return;
		for (const chosen of ['payload', 'route', 'ingest-workers', 'collectors', 'profile', 'result'] as const) {
			if (given[chosen] !== undefined) {
				ctx.addIssue({ code: 'custom', path: [chosen], message: `--compare runs every payload, route, worker count and collector count itself: drop --${chosen}` });
			}
		}
	}),
	given,
	'bench:ingest flags',
);

const fixture = JSON.parse(readFileSync(new URL('../test/fixtures/chromium-stats.json', import.meta.url), 'utf8')) as {
	snapshots: StatsSnapshot[];
};
const status = new StatusLine();

/**
 * The k-th snapshot of a bot: the fixture's real snapshots continued in time, cumulative
 * counters extrapolated at their observed rate so deltas stay realistic.
 */
function snapshotsFor(count: number, t0: number): StatsSnapshot[] {
	const byPc = new Map<string, StatsSnapshot[]>();
	for (const s of fixture.snapshots) byPc.set(s.pc, [...(byPc.get(s.pc) ?? []), s]);
	const out: StatsSnapshot[] = [];
	for (let k = 0; k < count; k++) {
		for (const series of byPc.values()) {
			const base = series[k % series.length]!;
			const round = Math.floor(k / series.length);
			const first = series[0]!;
			const last = series.at(-1)!;
			const span = (last.ts - first.ts) * (series.length / (series.length - 1));
			const stats = base.stats.map((stat) => {
				if (!round) return stat;
				const from = first.stats.find((s) => s.id === stat.id);
				const to = last.stats.find((s) => s.id === stat.id);
				const copy: Record<string, unknown> = { ...stat };
				for (const [key, value] of Object.entries(stat)) {
					const a = from?.[key];
					const b = to?.[key];
					if (typeof value === 'number' && typeof a === 'number' && typeof b === 'number' && b > a && key !== 'timestamp') {
						copy[key] = Math.round(value + round * (b - a) * (series.length / (series.length - 1)));
					}
				}
				return copy;
			});
			out.push({
				ts: Math.round(t0 + round * span + (base.ts - first.ts)),
				pc: base.pc,
				stats: flags.payload === 'full' ? stats : keepKnownStats(stats),
			});
		}
	}
	return out;
}

/** Makes the bench's app in a collector and answers a new ingest key of it. */
async function appKey(url: string, appId: string): Promise<string> {
	const created = await fetch(`${url}/v1/apps`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ appId, name: 'bench' }) });
	if (created.status !== 201) throw new Error(`creating the bench's app answered ${created.status}`);
	const made = await fetch(`${url}/v1/apps/${appId}/keys`, { method: 'POST' });
	if (made.status !== 201) throw new Error(`making an ingest key answered ${made.status}`);
	return ((await made.json()) as { key: string }).key;
}

function pct(values: number[], p: number): number {
	const sorted = [...values].sort((a, b) => a - b);
	return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

/** A collector in its own process with its own embedded store, driven over IPC by `ask`. */
function collectorProcess() {
	const dataDir = mkdtempSync(path.join(os.tmpdir(), 'callswarm-bench-ingest-'));
	const child = fork(new URL('./ingest-collector.ts', import.meta.url), [dataDir, flags['journal-sync'] === 'on' ? 'sync' : 'no-sync', flags['ingest-workers'] === undefined ? '' : String(flags['ingest-workers']), flags['flush-ms'] === undefined ? '' : String(flags['flush-ms']), flags['flush-rows'] === undefined ? '' : String(flags['flush-rows'])], {
		execArgv: ['--import', 'tsx', ...(flags.profile ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(flags.profile)}`] : [])],
		stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
	});
	const replies: Array<(m: Record<string, unknown>) => void> = [];
	child.on('message', (m: Record<string, unknown>) => replies.shift()?.(m));
	return {
		ask: (message?: object) =>
			new Promise<Record<string, unknown>>((resolve) => {
				replies.push(resolve);
				if (message) child.send(message);
			}),
		async stop() {
			child.send({ op: 'stop' });
			await new Promise((r) => child.once('exit', r));
			rmSync(dataDir, { recursive: true, force: true, maxRetries: 10, retryDelay: 200 });
		},
	};
}

if (flags.compare !== undefined) {
	const passOn = (['bots', 'snapshots', 'concurrency', 'journal-sync', 'flush-ms', 'flush-rows'] as const).flatMap((name) => {
		const value = flags[name];
		return value === undefined ? [] : [`--${name}`, String(value)];
	});
	await compareIngest({ runs: flags.compare, passOn });
	process.exit(0);
}

// Behind a load balancer: every collector gets every n-th request of the same bots.
const collectors = Array.from({ length: flags.collectors }, collectorProcess);
const { ask } = collectors[0]!;
/** Each collector's answer to the same question. */
const askAll = (message: object) => Promise.all(collectors.map((c) => c.ask(message)));
/** Figures summed over the collectors. */
const sum = (answers: Array<Record<string, unknown>>, pick: (answer: Record<string, unknown>) => number) => answers.reduce((n, a) => n + pick(a), 0);

try {
	const answers = (await Promise.all(collectors.map((c) => c.ask()))) as Array<{ url: string; ingestWorkers: number; flushIntervalMs: number; flushRows: number }>;
	const { url, ingestWorkers, flushIntervalMs, flushRows } = answers[0]!;
	const urls = answers.map((c) => c.url);
	if (flags.route === 'app' && flags.payload === 'compact') throw new Error('--route app takes stats objects: --payload known or full');
	const appId = 'bench-app';
	/** Each collector's ingest key of the bench's app (the SDK route only). */
	const keys = flags.route === 'app' ? await Promise.all(urls.map((u) => appKey(u, appId))) : [];
	status.update('preparing telemetry requests');
	const runId = `bench-${randomUUID().slice(0, 8)}`;
	const t0 = Date.now() - flags.snapshots * 1000;
	const botSnapshots = snapshotsFor(flags.snapshots, t0);
	// One request = every bot's next 10 snapshots (what a load generator sends every few seconds).
	const perRequest = 10;
	/** A run's telemetry as the load generator would post it, one request per string. */
	const prepare = (forRun: string, timeline = botSnapshots): { requests: string[]; batches: ObjectBatchInput[] } => {
		const requests: string[] = [];
		const batches: ObjectBatchInput[] = [];
		// As callswarm's sender does: each batch carries its baseline (any collector can take it).
		const baselines = new BaselineKeeper();
		for (let i = 0; i < timeline.length; i += perRequest) {
			const group: ObjectBatchInput[] = [];
			for (let b = 0; b < flags.bots; b++) {
				const snapshots = timeline.slice(i, i + perRequest);
				group.push({
					batchId: randomUUID(),
					runId: forRun,
					source: { botId: `bot-${b}`, roomId: `room-${b % 20}`, peerId: `peer-${b}`, kind: 'browser' },
					snapshots,
					events: [],
					baseline: baselines.take(`bot-${b}`, snapshots),
				});
			}
			batches.push(...group);
			if (flags.route === 'app') {
				// A page posts its own participant's batch; calls of 10 participants.
				for (const [b, batch] of group.entries()) {
					const { snapshots, events, baseline } = batch;
					requests.push(JSON.stringify({ batches: [{ batchId: batch.batchId, callId: `${forRun}-call-${b % 20}`, userId: `user-${b}`, sessionId: `tab-${b}`, snapshots, events, baseline }] }));
				}
			} else requests.push(JSON.stringify({ batches: flags.payload === 'compact' ? group.map(compactBatch) : group }));
		}
		return { requests, batches };
	};
	/** Posts every request, `concurrency` at a time, as fast as the collector takes them. */
	const post = async (requests: string[], label: string, to = [url]): Promise<{ samples: number; latencies: number[] }> => {
		let sent = 0;
		let samples = 0;
		const latencies: number[] = [];
		const worker = async () => {
			for (;;) {
				const index = sent++;
				if (index >= requests.length) return;
				for (;;) {
					const requestStarted = performance.now();
					const at = index % to.length;
					const response = await fetch(flags.route === 'app' ? `${to[at]}/v1/apps/${appId}/telemetry` : `${to[at]}/v1/telemetry`, {
						method: 'POST',
						headers: { 'content-type': 'application/json', ...(flags.route === 'app' ? { [ingestKeyHeader]: keys[at]! } : {}) },
						body: requests[index],
					});
					const body = (await response.json()) as { samples?: number };
					if (response.status === 429) {
						await new Promise((r) => setTimeout(r, 100));
						continue;
					}
					if (response.status !== 202) throw new Error(`ingest answered ${response.status}`);
					latencies.push(performance.now() - requestStarted);
					samples += body.samples ?? 0;
					break;
				}
				status.update(`${label} ${bar(Math.min(sent, requests.length) / requests.length)} ${samples.toLocaleString()} samples`);
			}
		};
		await Promise.all(Array.from({ length: flags.concurrency }, worker));
		return { samples, latencies };
	};
	const { requests, batches } = prepare(runId);
	const bodyBytes = requests.reduce((n, r) => n + r.length, 0);

	const before = await askAll({ op: 'cpu' });
	const cpuBefore = sum(before, (a) => Number(a.cpu));
	const started = performance.now();
	const { samples, latencies } = await post(requests, 'ingest', urls);
	const drained = await askAll({ op: 'drain' });
	const wallS = (performance.now() - started) / 1000;
	const cpuS = sum(drained, (a) => Number(a.cpu)) - cpuBefore;
	status.done(`ingest: ${samples.toLocaleString()} samples stored in ${wallS.toFixed(2)} s`);

	status.update('raw @clickhouse/client insert of the same rows');
	const baseline = (await ask({ op: 'baseline', batches, chunkRows: 100_000 })) as { rows: number; wallS: number; cpuS: number };
	status.done('raw insert done');

	const ours = samples / wallS;
	const raw = baseline.rows / baseline.wallS;
	const processes = flags.collectors === 1 ? 'one collector process' : `${flags.collectors} collector processes (each its own store; requests in turn)`;
	const route = flags.route === 'app' ? "the monitoring SDK's route, one participant per request" : "the load generator's route";
	console.log(`\nIngest throughput (embedded ClickHouse, ${processes} with ${ingestWorkers} ingest worker thread(s) each, ${os.availableParallelism()} cores, ${flags.payload} getStats payload, ${route}; journal sealed every ${flushIntervalMs} ms or ${flushRows.toLocaleString()} rows)`);
	console.table({
		'callswarm HTTP + normalise + insert': {
			samples: samples,
			'wall s': +wallS.toFixed(2),
			'collector CPU s': +cpuS.toFixed(2),
			'samples/s': Math.round(ours),
			'samples per CPU-second': Math.round(samples / cpuS),
			'request MB': +(bodyBytes / 1e6).toFixed(1),
		},
		'raw client.insert JSONEachRow (same rows)': {
			samples: baseline.rows,
			'wall s': +baseline.wallS.toFixed(2),
			'collector CPU s': +baseline.cpuS.toFixed(2),
			'samples/s': Math.round(raw),
			'samples per CPU-second': Math.round(baseline.rows / baseline.cpuS),
			'request MB': 0,
		},
	});
	const partSeconds = (field: 'threads' | 'kernel', part: string) => {
		const of = (answers: Array<Record<string, unknown>>) => sum(answers, (a) => (a[field] as Record<string, number>)[part] ?? 0);
		return of(drained) - of(before);
	};
	const parts = Object.keys(drained[0]!.threads as Record<string, number>);
	const threads = Object.fromEntries(parts.map((part) => [part, partSeconds('threads', part)]));
	const kernel = Object.fromEntries(parts.map((part) => [part, partSeconds('kernel', part)]));
	const kernelS = Object.values(kernel).reduce((n, s) => n + s, 0);
	console.log(
		`collector CPU by thread${flags.collectors > 1 ? ' (all collectors)' : ''}: ${parts
			.map((part) => `${part} ${threads[part]!.toFixed(2)} s (kernel ${kernel[part]!.toFixed(2)})`)
			.join(', ')} (threads that ended meanwhile are not counted); in the kernel: ${kernelS.toFixed(2)} s, ${((kernelS / cpuS) * 100).toFixed(0)} % of the collector's CPU (page faults and I/O, whose cost depends on the machine)`,
	);
	console.log(
		`journal fsync ${flags['journal-sync']}: time to 202 (rows on disk) per request of ${flags.route === 'app' ? 1 : flags.bots} batch(es): p50 ${pct(latencies, 50).toFixed(1)} ms, p95 ${pct(latencies, 95).toFixed(1)} ms`,
	);
	console.log(`ratio callswarm / raw: ${((ours / raw) * 100).toFixed(0)} % (target >= 50 %); per core: ${Math.round(samples / cpuS).toLocaleString()} samples per CPU-second (target >= 100 000)`);
	if (flags.result) {
		const figures: IngestFigures = {
			samples,
			wallS,
			cpuS,
			samplesPerS: ours,
			samplesPerCpuS: samples / cpuS,
			rawSamplesPerS: raw,
			requestMB: bodyBytes / 1e6,
			threads,
			kernelS,
			p95Ms: pct(latencies, 95),
		};
		writeFileSync(flags.result, JSON.stringify(figures));
	}

	if (flags.seed > 0) {
		const seedRun = `bench-10m-${randomUUID().slice(0, 8)}`;
		status.update(`seeding ${flags.seed.toLocaleString()} samples into the engine (INSERT ... SELECT, views included)`);
		const seeded = await ask({ op: 'seed', runId: seedRun, samples: flags.seed, peers: 500, rooms: 50 });
		status.done(`seeded ${flags.seed.toLocaleString()} samples in ${Number(seeded.wallS).toFixed(1)} s; background merges done ${Number(seeded.settleS).toFixed(1)} s later`);
		// The dashboard's run view is one request; the parts are measured on their own too.
		const endpoints = [
			`/v1/runs/${seedRun}/view`,
			`/v1/runs/${seedRun}/summary`,
			`/v1/runs/${seedRun}/timeseries`,
			`/v1/runs/${seedRun}/participants`,
			`/v1/runs/${seedRun}/quality`,
			`/v1/runs/${seedRun}/sfu`,
			`/v1/runs/${seedRun}/first-media`,
			`/v1/runs/${seedRun}/peers?room=room-7`,
			`/v1/runs/${seedRun}/timeseries?room=room-7`,
		];
		const perEndpoint = new Map<string, number[]>(endpoints.map((v) => [v, []]));
		const cachedView: number[] = [];
		// One pass first, not measured: it fills the engine's caches (marks, parts) as any earlier
		// query would, and the finished-run cache (the first visit computes; later ones are served).
		const coldView = performance.now();
		await (await fetch(`${url}${endpoints[0]}`)).json();
		const coldViewMs = performance.now() - coldView;
		for (const endpoint of endpoints.slice(1)) await (await fetch(`${url}${endpoint}`)).json();
		for (let i = 0; i < flags.iterations; i++) {
			const t = performance.now();
			await (await fetch(`${url}${endpoints[0]}`)).json();
			cachedView.push(performance.now() - t);
			// Every other figure is computed, not served from the finished-run cache.
			for (const endpoint of endpoints) {
				const t = performance.now();
				const response = await fetch(`${url}${endpoint}`, { headers: { 'cache-control': 'no-cache' } });
				if (!response.ok) throw new Error(`${endpoint}: ${response.status} ${await response.text()}`);
				await response.json();
				perEndpoint.get(endpoint)!.push(performance.now() - t);
			}
			status.update(`run view queries ${bar((i + 1) / flags.iterations)}`);
		}
		status.done('run view queries done');
		console.log(`\nQuery latency of a run view at ${flags.seed.toLocaleString()} samples (${flags.iterations} iterations, ms)`);
		const table: Record<string, { p50: number; p95: number }> = {};
		for (const [endpoint, times] of perEndpoint) {
			table[endpoint.replace(seedRun, ':run')] = { p50: +pct(times, 50).toFixed(1), p95: +pct(times, 95).toFixed(1) };
		}
		console.table(table);
		const view = perEndpoint.get(endpoints[0]!)!;
		console.log(`run view (GET /v1/runs/:run/view), first visit (cold): ${coldViewMs.toFixed(1)} ms`);
		// The issue's targets: 100 ms at 10 M samples, 1 s at 100 M.
		const viewTargetMs = flags.seed >= 100_000_000 ? 1000 : 100;
		console.log(`run view (GET /v1/runs/:run/view), computed: p50 ${pct(view, 50).toFixed(1)} ms, p95 ${pct(view, 95).toFixed(1)} ms (target: p95 <= ${viewTargetMs} ms)`);
		console.log(`run view, finished-run cache: p50 ${pct(cachedView, 50).toFixed(1)} ms, p95 ${pct(cachedView, 95).toFixed(1)} ms`);

		// The dashboard while ingest runs flat out: another run's telemetry is posted as fast as the
		// collector takes it, and the 10 M run's view is computed again and again meanwhile.
		// Four times the first ingest's telemetry, so that the view is asked many times meanwhile.
		const loaded = prepare(`bench-load-${randomUUID().slice(0, 8)}`, snapshotsFor(flags.snapshots * 4, t0));
		const underLoad: number[] = [];
		let ingesting = true;
		const loadStarted = performance.now();
		const ingest = post(loaded.requests, 'ingest while the view is asked').finally(() => (ingesting = false));
		while (ingesting) {
			const t = performance.now();
			const response = await fetch(`${url}${endpoints[0]}`, { headers: { 'cache-control': 'no-cache' } });
			if (!response.ok) throw new Error(`view under load: ${response.status}`);
			await response.json();
			underLoad.push(performance.now() - t);
		}
		const { samples: loadSamples } = await ingest;
		const loadS = (performance.now() - loadStarted) / 1000;
		status.done(`ingest while the view was asked: ${loadSamples.toLocaleString()} samples in ${loadS.toFixed(1)} s (${Math.round(loadSamples / loadS).toLocaleString()} samples/s)`);
		console.log(
			`run view under full-speed ingest, computed (${underLoad.length} requests): p50 ${pct(underLoad, 50).toFixed(1)} ms, p95 ${pct(underLoad, 95).toFixed(1)} ms, max ${Math.max(...underLoad).toFixed(1)} ms`,
		);
	}
} finally {
	await Promise.all(collectors.map((c) => c.stop()));
}

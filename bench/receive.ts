/**
 * bench:receive: what a browser bot pays for each stream it receives, by how many it receives.
 * bench:bots measures rooms of two, where the one received stream also carries what a page sets
 * up once to receive at all (its audio output, its decoder threads); a bot in a group call
 * receives many. Here each of --pages browser pages (publishing --publish, by default nothing;
 * sampled every 2 s as in a run; one Chromium) sits in a room of its own with N lite bots that
 * send to it, for each N of --streams: audio-only senders (the page hears N voices), then senders
 * of --video (VP8, as lite bots send it) whose audio nobody hears (the page decodes N videos and
 * plays no audio). Chromium's whole process tree is measured over one window once the SFU
 * forwards every stream; the lite bots run in processes of their own and are not counted. The
 * first stream is what a page pays over receiving nothing; each further one is the slope of a
 * straight line through the steps from one stream on: loadgen/sizing/costs.ts's receive costs.
 *   npm run bench:receive [-- --streams 0,1,4,8 --pages 4 --seconds 15 --kinds audio,video --video 180p15 --publish none]
 */
import os from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { bar, StatusLine } from '../cli/status.ts';
import { BotBench } from '../loadgen/BotBench.ts';
import { processTable, treeCpuSeconds } from '../loadgen/proc.ts';
import type { Slot } from '../loadgen/schedule/slots.ts';
import { parseInput, wholeNumberText } from '../protocol/issues.ts';
import { Scenario } from '../protocol/scenario.ts';

const flags = parseInput(
	z.object({
		streams: z
			.string()
			.default('0,1,4,8')
			.transform((s) => s.split(',').map(Number))
			.pipe(
				z
					.array(z.number().int().min(0).max(40))
					.refine((counts) => new Set(counts).size >= 2, 'at least two different counts: a price needs two points'),
			),
		pages: wholeNumberText.pipe(z.number().min(1).max(16)).default(4),
		seconds: wholeNumberText.pipe(z.number().min(1)).default(15),
		warmup: wholeNumberText.default(8),
		kinds: z
			.string()
			.default('audio,video')
			.transform((s) => s.split(','))
			.pipe(z.array(z.enum(['audio', 'video'])).min(1)),
		video: z.enum(['180p15', '360p30', '720p30']).default('180p15'),
		publish: z.enum(['none', 'audio-only', '180p15']).default('none'),
	}),
	parseArgs({ options: { streams: { type: 'string' }, pages: { type: 'string' }, seconds: { type: 'string' }, warmup: { type: 'string' }, kinds: { type: 'string' }, video: { type: 'string' }, publish: { type: 'string' } } }).values,
	'bench:receive flags',
);

type Kind = 'audio' | 'video';
const groupsOf = (kind: Kind) =>
	Scenario.parse({
		name: 'receive-bench',
		participants: [
			{ name: 'sender', bot: 'lite', count: 1, publish: kind === 'audio' ? 'audio-only' : flags.video, subscribe: 'none' },
			// By default a page that publishes nothing: what it costs is what it receives (and the page itself).
			{ name: 'receiver', bot: 'browser', count: 1, publish: flags.publish, subscribe: kind },
		],
		schedule: { executor: 'constant-vus', vus: 1, duration: '1s' },
	}).participants as [Slot['group'], Slot['group']];

const status = new StatusLine();
const bench = await BotBench.start({ sfu: {}, flushIntervalMs: 2000, log: (m) => status.done(`  ${m}`) });

/** Cores per page of one Chromium whose pages each receive `streams` streams of `kind`. */
async function measure(kind: Kind, streams: number): Promise<number> {
	const label = `${kind}, ${streams} stream${streams === 1 ? '' : 's'} a page`;
	const [senderGroup, receiverGroup] = groupsOf(kind);
	const runId = `bench-receive-${kind}-${streams}`;
	const senders = bench.driver(`${runId}-senders`, { botsPerProcess: 50 });
	const browsers = bench.browserDriver(runId, flags.pages);
	const rooms = Array.from({ length: flags.pages }, (_, r) => `${runId}-${r}`);
	const sending: Slot[] = rooms.flatMap((roomId, r) =>
		Array.from({ length: streams }, (_, i) => ({ index: r * 100 + i, roomId, group: senderGroup, peerId: `s${r}-${i}` })),
	);
	const receiving: Slot[] = rooms.map((roomId, r) => ({ index: 10_000 + r, roomId, group: receiverGroup, peerId: `page-${r}` }));
	try {
		await senders.prepare({ all: sending });
		await browsers.prepare({ all: receiving });
		for (const [i, slot] of sending.entries()) {
			await senders.join(slot);
			status.update(`${label}: senders joining ${bar(i / sending.length)}`);
		}
		for (const [i, slot] of receiving.entries()) {
			status.update(`${label}: pages joining ${bar(i / receiving.length)}`);
			await browsers.join(slot);
		}
		// Every sender's stream forwarded to its page: a consumer each, the senders themselves consume nothing.
		// Counted in this step's rooms only: another step's leftovers must not stand in for them.
		const want = flags.pages * streams;
		const deadline = Date.now() + 60_000;
		const forwarded = () => bench.sfu.totals(new Set(rooms)).forwardingConsumers;
		while (forwarded() < want) {
			if (Date.now() > deadline) throw new Error(`${label}: the SFU forwards ${forwarded()} of ${want} streams after 60 s`);
			status.update(`${label}: streams forwarded ${bar(forwarded() / Math.max(1, want))}`);
			await sleep(250);
		}
		for (let s = 0; s < flags.warmup; s++) {
			status.update(`${label}: warming up ${bar(s / flags.warmup)}`);
			await sleep(1000);
		}
		const pids = browsers.processes().map((p) => p.pid);
		const cpu = () => {
			const table = processTable();
			return pids.reduce((sum, pid) => sum + treeCpuSeconds(pid, table), 0);
		};
		const cpu0 = cpu();
		const t0 = performance.now();
		for (let s = 0; s < flags.seconds; s++) {
			status.update(`${label}: measuring ${bar(s / flags.seconds)}`);
			await sleep(1000);
		}
		const cores = (cpu() - cpu0) / ((performance.now() - t0) / 1000) / flags.pages;
		status.done(`${label}: ${cores.toFixed(3)} cores per page`);
		return cores;
	} finally {
		await browsers.close();
		await senders.close();
	}
}

/** Least-squares slope of y over x. */
function slope(points: Array<[number, number]>): number {
	const n = points.length;
	const mx = points.reduce((s, [x]) => s + x, 0) / n;
	const my = points.reduce((s, [, y]) => s + y, 0) / n;
	const sxx = points.reduce((s, [x]) => s + (x - mx) ** 2, 0);
	return sxx > 0 ? points.reduce((s, [x, y]) => s + (x - mx) * (y - my), 0) / sxx : Number.NaN;
}

const rows: Record<string, Record<string, number | string>> = {};
const summary: Record<string, Record<string, number | string>> = {};
try {
	const counts = [...new Set(flags.streams)].sort((a, b) => a - b);
	for (const kind of flags.kinds) {
		const name = kind === 'video' ? flags.video : kind;
		const points: Array<[number, number]> = [];
		for (const streams of counts) {
			const cores = await measure(kind, streams);
			points.push([streams, cores]);
			rows[`${name} × ${streams}`] = { 'cores per page': +cores.toFixed(3) };
		}
		const none = points.find(([n]) => n === 0)?.[1];
		const one = points.find(([n]) => n === 1)?.[1];
		const further = slope(points.filter(([n]) => n >= 1));
		summary[name] = {
			'first stream, cores': none !== undefined && one !== undefined ? +(one - none).toFixed(4) : '-',
			'each further stream, cores': Number.isNaN(further) ? '-' : +further.toFixed(4),
			'page receiving nothing, cores': none === undefined ? '-' : +none.toFixed(3),
		};
	}
	console.log(`\nBrowser bot: cores per page by how many streams it receives (${flags.pages} pages publishing ${flags.publish} in one Chromium, each in a room of its own with its lite senders; ${flags.seconds} s; load average ${os.loadavg()[0]!.toFixed(1)} at the end)`);
	console.table(rows);
	console.table(summary);
} finally {
	await bench.close();
}

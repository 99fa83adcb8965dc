/**
 * bench:lite: what a lite (werift) bot costs, per sent and per received audio+video stream, at
 * 10, 50 and 100 bots. CPU and memory are those of the lite-bot processes only (the SFU's
 * workers and this process are not counted). With --e2e, also what sending with end-to-end delay
 * marks costs: each bot's own marked media encoded at its join (ffmpeg, counted), then sent.
 *   npm run bench:lite [-- --counts 10,50,100 --seconds 15 --publish 180p15 --e2e]
 */
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { bar, StatusLine } from '../cli/status.ts';
import { BotBench } from '../loadgen/BotBench.ts';
import type { LiteDriver } from '../loadgen/lite/LiteDriver.ts';
import type { Slot } from '../loadgen/schedule/slots.ts';
import { parseInput } from '../protocol/issues.ts';
import { processTable, treeCpuSeconds, treePssBytes } from '../loadgen/proc.ts';
import { lateFrameMs } from '../protocol/metrics.ts';

const flags = parseInput(
	z.object({
		counts: z.string().default('10,50,100').transform((s) => s.split(',').map(Number)).pipe(z.array(z.number().int().min(1))),
		seconds: z.string().regex(/^\d+$/).default('15').transform(Number),
		publish: z.enum(['audio-only', '180p15', '360p30', '720p30']).default('180p15'),
		perProcess: z.string().regex(/^\d+$/).default('50').transform(Number),
		e2e: z.boolean().default(false),
	}),
	parseArgs({ options: { counts: { type: 'string' }, seconds: { type: 'string' }, publish: { type: 'string' }, perProcess: { type: 'string' }, e2e: { type: 'boolean' } } }).values,
	'bench:lite flags',
);

const status = new StatusLine();
const bench = await BotBench.start({ sfu: {}, flushIntervalMs: 2000, log: (m) => status.done(`  ${m}`) });
const groups = BotBench.groups(flags.publish, 1, 1);

const joined = new Set<string>();
const driver = (runId: string, marked = false): LiteDriver =>
	bench.driver(runId, {
		botsPerProcess: flags.perProcess,
		onEvent: (slot, event) => event.type === 'join' && joined.add(slot.peerId),
		...(marked ? { e2e: { video: true, audio: true, lite: true } } : {}),
	});

/** CPU seconds of the processes, with their children that have exited (the ffmpeg runs that encode marked media). */
function cpuWithChildren(pids: number[]): number {
	const table = processTable();
	return pids.reduce((sum, pid) => sum + treeCpuSeconds(pid, table) + (table.get(pid)?.exitedChildrenCpuSeconds ?? 0), 0);
}

/**
 * Joins the bots and waits until all have joined (the CPU that takes, per bot, is the join cost),
 * then for media, then measures CPU and PSS of the given processes.
 */
async function measure(label: string, bots: Slot[], measured: LiteDriver, others: LiteDriver[] = []): Promise<{ cores: number; pssMiB: number; joinCpuSeconds: number; latePct: number | null }> {
	await measured.prepare({ all: bots });
	const joinCpu0 = cpuWithChildren(measured.pids);
	for (const [i, slot] of bots.entries()) {
		await (slot.group.name === 'sender' && others[0] ? others[0] : measured).join(slot);
		if (i % 10 === 0) status.update(`${label}: joining ${bar(i / bots.length)}`);
	}
	while (bots.some((slot) => !joined.has(slot.peerId))) {
		status.update(`${label}: joined ${bar(bots.filter((slot) => joined.has(slot.peerId)).length / bots.length)}`);
		await new Promise((r) => setTimeout(r, 200));
	}
	const joinCpuSeconds = cpuWithChildren(measured.pids) - joinCpu0;
	for (let s = 0; s < 8; s++) {
		status.update(`${label}: warming up ${bar(s / 8)}`);
		await new Promise((r) => setTimeout(r, 1000));
	}
	const cpu = () => measured.pids.reduce((sum, pid) => sum + treeCpuSeconds(pid), 0);
	const cpu0 = cpu();
	const late0 = measured.withheldFigures().framesSentLate;
	const t0 = performance.now();
	for (let s = 0; s < flags.seconds; s++) {
		status.update(`${label}: measuring ${bar(s / flags.seconds)}`);
		await new Promise((r) => setTimeout(r, 1000));
	}
	const cores = (cpu() - cpu0) / ((performance.now() - t0) / 1000);
	const pssMiB = measured.pids.reduce((sum, pid) => sum + treePssBytes(pid), 0) / 2 ** 20;
	// The processes report their totals with each round of samples: the window's frames are those between two reports.
	const late1 = measured.withheldFigures().framesSentLate;
	const due = late1.judged - late0.judged;
	return { cores, pssMiB, joinCpuSeconds, latePct: due > 0 ? ((late1.withheld - late0.withheld) / due) * 100 : null };
}

const latePct = ({ latePct }: { latePct: number | null }) => (latePct === null ? 'none' : `${latePct.toFixed(2)} %`);

const rows: Record<string, Record<string, number | string>> = {};
try {
	for (const n of flags.counts) {
		// Sending: n bots each publishing one audio+video stream, receiving nothing; 10 per room.
		const sendDriver = driver(`bench-lite-send-${n}`);
		const senders: Slot[] = Array.from({ length: n }, (_, i) => ({ index: i, roomId: `send-${n}-${Math.floor(i / 10)}`, group: groups[0]!, peerId: `s${n}-${i}` }));
		const sent = await measure(`${n} sending bots`, senders, sendDriver);
		await sendDriver.close();
		status.done(`${n} sending bots: ${sent.cores.toFixed(3)} cores, ${latePct(sent)} of frames and packets sent more than ${lateFrameMs} ms late`);
		let marked: Awaited<ReturnType<typeof measure>> | undefined;
		if (flags.e2e) {
			const markedDriver = driver(`bench-lite-marked-${n}`, true);
			const markedSenders = senders.map((slot) => ({ ...slot, peerId: `m${slot.peerId}`, roomId: `m${slot.roomId}` }));
			marked = await measure(`${n} sending bots with delay marks`, markedSenders, markedDriver);
			await markedDriver.close();
			status.done(`${n} sending bots with delay marks: ${marked.cores.toFixed(3)} cores, joins ${marked.joinCpuSeconds.toFixed(1)} CPU s`);
		}

		// Receiving: n bots each receiving one audio+video stream from a sender in another process.
		const recvDriver = driver(`bench-lite-recv-${n}`);
		const sourceDriver = driver(`bench-lite-src-${n}`);
		const rooms = Math.ceil(n / 10);
		const sources: Slot[] = Array.from({ length: rooms }, (_, r) => ({ index: 100_000 + r, roomId: `recv-${n}-${r}`, group: groups[0]!, peerId: `src${n}-${r}` }));
		const receivers: Slot[] = Array.from({ length: n }, (_, i) => ({ index: i, roomId: `recv-${n}-${Math.floor(i / 10)}`, group: groups[1]!, peerId: `r${n}-${i}` }));
		const received = await measure(`${n} receiving bots`, [...sources, ...receivers], recvDriver, [sourceDriver]);
		await recvDriver.close();
		await sourceDriver.close();
		status.done(`${n} receiving bots: ${received.cores.toFixed(3)} cores`);

		rows[`${n} bots`] = {
			'cores sending': +sent.cores.toFixed(3),
			'% core per sent A+V stream': +((sent.cores / n) * 100).toFixed(2),
			'sent streams per core': Math.round(n / sent.cores),
			'% sent late': sent.latePct === null ? '-' : +sent.latePct.toFixed(2),
			'MiB per sending bot': +(sent.pssMiB / n).toFixed(1),
			...(marked
				? {
						'% core per marked stream': +((marked.cores / n) * 100).toFixed(2),
						'marked: CPU s per join': +(marked.joinCpuSeconds / n).toFixed(2),
						'unmarked: CPU s per join': +(sent.joinCpuSeconds / n).toFixed(2),
						'MiB per marked bot': +(marked.pssMiB / n).toFixed(1),
					}
				: {}),
			'cores receiving': +received.cores.toFixed(3),
			'% core per received A+V stream': +((received.cores / n) * 100).toFixed(2),
			'MiB per receiving bot': +(received.pssMiB / n).toFixed(1),
		};
	}
	console.log(`\nLite bot cost (werift, ${flags.publish} VP8 + Opus per stream, ${flags.perProcess} bots per process, ${flags.seconds} s)`);
	console.table(rows);
	// A stream sent late is not one a bot can carry: its receivers measure the wait as jitter.
	const onTime = Object.values(rows).filter((r) => typeof r['% sent late'] === 'number' && r['% sent late'] <= 1);
	const best = Math.max(0, ...onTime.map((r) => Number(r['sent streams per core'])));
	console.log(
		`target: at least 300 sent audio+video streams per core, at most 1 % of frames sent more than ${lateFrameMs} ms late: ${best >= 300 ? 'met' : 'NOT met'} (best on time ${best}${onTime.length < Object.keys(rows).length ? `; ${Object.keys(rows).length - onTime.length} count(s) sent more late` : ''})`,
	);
} finally {
	await bench.close();
}

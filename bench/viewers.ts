/**
 * bench:viewers: how many viewers (receive-only participants) one machine holds beside the
 * bundled SFU and the collector, all on this machine. One lite bot sends audio and a 180p15
 * video into one room; viewers join it in steps, each receiving the audio and the video. Each
 * step is measured once its viewers have media: CPU of the viewer processes, of the SFU
 * worker, of this process (collector and telemetry) and of the whole machine, loss, p95 RTT
 * and p95 jitter as the viewers report them; and what each step's joins cost at once (CPU of
 * the receivers' processes and of the SFU worker from the step's first join until all have
 * media, less what keeping the receivers costs over that time). First, for comparison in the
 * same run, lite bots receiving the same streams.
 * The ramp stops at the first step with loss above 1 % or the machine above 95 %: the SFU or
 * the machine is then the limit, and further steps measure a collapse.
 *   npm run bench:viewers [-- --steps 100,200,300,400,600,1000 --seconds 15 --lite 50 --sfuWorkers 1]
 */
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { bar, StatusLine } from '../cli/status.ts';
import { BotBench } from '../loadgen/BotBench.ts';
import type { LiteDriver } from '../loadgen/lite/LiteDriver.ts';
import { machineCpu, runQueueSeconds, treeCpuSeconds, treePssBytes } from '../loadgen/proc.ts';
import type { Slot } from '../loadgen/schedule/slots.ts';
import { parseInput } from '../protocol/issues.ts';
import { Scenario } from '../protocol/scenario.ts';

const flags = parseInput(
	z.object({
		steps: z.string().default('100,200,300,400,600,1000').transform((s) => s.split(',').map(Number)).pipe(z.array(z.number().int().min(1)).min(1)),
		seconds: z.string().regex(/^\d+$/).default('15').transform(Number),
		lite: z.string().regex(/^\d+$/).default('50').transform(Number),
		perProcess: z.string().regex(/^\d+$/).default('500').transform(Number),
		sfuWorkers: z.string().regex(/^[1-9]\d*$/, 'a whole number of at least 1').default('1').transform(Number),
	}),
	parseArgs({ options: { steps: { type: 'string' }, seconds: { type: 'string' }, lite: { type: 'string' }, perProcess: { type: 'string' }, sfuWorkers: { type: 'string' } } }).values,
	'bench:viewers flags',
);

const [sender, viewer, liteReceiver] = Scenario.parse({
	name: 'viewers-bench',
	participants: [
		{ name: 'sender', bot: 'lite', count: 1, publish: '180p15', subscribe: 'none' },
		{ name: 'viewer', bot: 'viewer', count: 1 },
		{ name: 'lite-receiver', bot: 'lite', count: 1, publish: 'none', subscribe: 'all' },
	],
	schedule: { executor: 'constant-vus', vus: 1, duration: '1s' },
}).participants as [Slot['group'], Slot['group'], Slot['group']];

const status = new StatusLine();
// One worker by default: what one worker holds. With more, the viewers spread over them and the
// room's media is piped to each (the SFU's spreadViewers).
const bench = await BotBench.start({ sfu: { workers: flags.sfuWorkers, maxViewersPerRoom: 100_000 }, flushIntervalMs: 2000, log: (m) => status.done(`  ${m}`) });
const sfuPids = (await bench.sfu.workerLoad()).map((w) => w.pid);
const sfuCpu = () => sfuPids.reduce((sum, pid) => sum + treeCpuSeconds(pid), 0);
const sfuRunQueue = () => {
	const waits = sfuPids.map(runQueueSeconds);
	return waits.every((w) => w !== undefined) ? waits.reduce((a, b) => a! + b!, 0) : undefined;
};

interface Row {
	participants: number;
	receiversCores: number;
	perReceiverPct: number;
	receiverMiB: number;
	sfuCores: number;
	/** Share of the time the SFU worker was ready to work and waiting for a core. */
	sfuWaiting: number | null;
	collectorCores: number;
	machinePct: number;
	lossPct: number | null;
	rttP95Ms: number | null;
	/** Round trips the receivers timed in the step, and the share withheld because their own process stood still meanwhile. */
	roundTrips: number;
	withheldPct: number | null;
	jitterP95Ms: number | null;
	withMedia: number;
	/** Receivers that failed (join, signaling) so far. */
	failed: number;
	/** Worst event-loop delay p99 of the receivers' processes at the end, ms. */
	lagMs: number;
	/** CPU seconds per join of this step's receivers, theirs and the SFU's, beyond what keeping them costs (null for a step with failures). */
	joinCpuSeconds: number | null;
	sfuJoinCpuSeconds: number | null;
}

/** CPU so far of the receivers' processes, the SFU's workers, and when it was read. */
interface CpuMark {
	receivers: number;
	sfu: number;
	at: number;
}
const markCpu = (driver: LiteDriver): CpuMark => ({ receivers: driver.pids.reduce((sum, pid) => sum + treeCpuSeconds(pid), 0), sfu: sfuCpu(), at: performance.now() });

/**
 * A step's joins: the CPU from its first join until every receiver has media, less what the
 * receivers already in the room cost over that time (the step before's rate) and what the new
 * ones cost from their first media on (this step's rate), per new receiver.
 */
function joinCost(
	before: CpuMark,
	after: CpuMark,
	previous: Row | undefined,
	row: Omit<Row, 'joinCpuSeconds' | 'sfuJoinCpuSeconds'>,
	mediaSince: number[],
): { receivers: number; sfu: number } {
	const seconds = (after.at - before.at) / 1000;
	const newSeconds = mediaSince.reduce((sum, at) => sum + Math.max(0, after.at - at) / 1000, 0);
	const joins = row.participants - (previous?.participants ?? 0);
	const receivers = after.receivers - before.receivers - (previous?.receiversCores ?? 0) * seconds - (row.receiversCores / row.participants) * newSeconds;
	const sfuPerReceiver = previous ? (row.sfuCores - previous.sfuCores) / joins : row.sfuCores / row.participants;
	const sfu = after.sfu - before.sfu - (previous?.sfuCores ?? 0) * seconds - sfuPerReceiver * newSeconds;
	return { receivers: receivers / joins, sfu: sfu / joins };
}

async function untilMedia(label: string, count: number, withMedia: () => number, failed: () => number): Promise<void> {
	const deadline = Date.now() + 120_000;
	while (withMedia() + failed() < count && Date.now() < deadline) {
		status.update(`${label}: ${withMedia()} of ${count} with media ${bar(withMedia() / count)}`);
		await new Promise((r) => setTimeout(r, 100));
	}
}

async function step(label: string, runId: string, driver: LiteDriver, count: number, withMedia: () => number, failed: () => number): Promise<Omit<Row, 'joinCpuSeconds' | 'sfuJoinCpuSeconds'>> {
	for (let s = 0; s < 4; s++) {
		status.update(`${label}: settling ${bar(s / 4)}`);
		await new Promise((r) => setTimeout(r, 1000));
	}
	const cpu = () => driver.pids.reduce((sum, pid) => sum + treeCpuSeconds(pid), 0);
	const self = () => {
		const u = process.cpuUsage();
		return (u.user + u.system) / 1e6;
	};
	const [c0, w0, s0, m0, q0, r0] = [cpu(), sfuCpu(), self(), machineCpu(), sfuRunQueue(), driver.withheldFigures().roundTrips];
	const from = Date.now();
	const t0 = performance.now();
	for (let s = 0; s < flags.seconds; s++) {
		status.update(`${label}: measuring ${bar(s / flags.seconds)}`);
		await new Promise((r) => setTimeout(r, 1000));
	}
	const seconds = (performance.now() - t0) / 1000;
	const [c1, w1, s1, m1, q1, r1] = [cpu(), sfuCpu(), self(), machineCpu(), sfuRunQueue(), driver.withheldFigures().roundTrips];
	const roundTrips = r1.judged - r0.judged;
	await bench.sender.flush();
	await bench.collector.flush();
	const [q] = await bench.collector.store.query<{ loss: number | null; rtt: number | null; jitter: number | null }>(
		`SELECT sumIf(lost_delta, direction = 'inbound') / greatest(1, sumIf(packets_delta + lost_delta, direction = 'inbound')) * 100 AS loss,
			quantileExactIf(0.95)(rtt_ms, direction = 'candidate-pair' AND rtt_ms > 0) AS rtt,
			quantileExactIf(0.95)(jitter_ms, direction = 'inbound' AND kind = 'audio') AS jitter
		FROM callswarm.samples WHERE run_id = {run:String} AND ts >= fromUnixTimestamp64Milli(toInt64({from:Int64})) AND peer_id != 'sender'`,
		{ run: runId, from },
	);
	const receiversCores = (c1 - c0) / seconds;
	return {
		participants: count,
		receiversCores,
		perReceiverPct: (receiversCores / count) * 100,
		receiverMiB: driver.pids.reduce((sum, pid) => sum + treePssBytes(pid), 0) / 2 ** 20 / count,
		sfuCores: (w1 - w0) / seconds,
		sfuWaiting: q0 === undefined || q1 === undefined ? null : (q1 - q0) / seconds,
		collectorCores: (s1 - s0) / seconds,
		machinePct: ((m1.busySeconds - m0.busySeconds) / (m1.totalSeconds - m0.totalSeconds)) * 100,
		lossPct: q?.loss ?? null,
		rttP95Ms: q?.rtt ?? null,
		roundTrips,
		withheldPct: roundTrips > 0 ? ((r1.withheld - r0.withheld) / roundTrips) * 100 : null,
		jitterP95Ms: q?.jitter ?? null,
		withMedia: withMedia(),
		failed: failed(),
		lagMs: Math.max(0, ...driver.processes().map((p) => p.lagMs ?? 0)),
	};
}

/** One room: the sender, then `counts` receivers of `group` joined in steps, each step measured. */
async function ramp(kind: string, group: Slot['group'], counts: number[], perProcess: { bots: number; viewers: number }): Promise<Row[]> {
	const runId = `bench-viewers-${kind}-${Date.now()}`;
	/** Receivers with media, and since when (performance.now()). */
	const media = new Map<number, number>();
	const failed = new Set<number>();
	const onEvent = (slot: Slot, event: { type: string; mediaKind?: string }) => {
		if (slot.group === sender) return;
		if (event.type === 'first-media' && !media.has(slot.index)) media.set(slot.index, performance.now());
		if (event.type === 'fail') failed.add(slot.index);
	};
	const source = bench.driver(runId, { botsPerProcess: 1, onEvent });
	const receivers = bench.driver(runId, { botsPerProcess: perProcess.bots, viewersPerProcess: perProcess.viewers, onEvent });
	const rows: Row[] = [];
	try {
		await source.join({ index: 0, roomId: `bench-${kind}`, group: sender, peerId: 'sender' });
		const slots: Slot[] = Array.from({ length: Math.max(...counts) }, (_, j) => ({ index: 1 + j, roomId: `bench-${kind}`, group, peerId: `${kind}-${j}` }));
		// The processes start first, as a run starts them before its schedule: the joins' CPU is the joins'.
		await receivers.prepare({ all: slots });
		let joined = 0;
		for (const count of counts) {
			const before = markCpu(receivers);
			const from = joined;
			for (; joined < count; joined++) {
				await receivers.join(slots[joined]!);
				// Joins spread over time, as people arrive; a burst of thousands measures the signaling.
				if (joined % 25 === 24) await new Promise((r) => setTimeout(r, 200));
				if (joined % 50 === 0) status.update(`${kind} ${count}: joining ${bar(joined / count)}`);
			}
			await untilMedia(`${count} ${kind}s`, count, () => media.size, () => failed.size);
			const after = markCpu(receivers);
			const measured = await step(`${count} ${kind}s`, runId, receivers, count, () => media.size, () => failed.size);
			const since = [...media].filter(([index]) => index > from).map(([, at]) => at);
			const join = measured.failed === 0 ? joinCost(before, after, rows.at(-1), measured, since) : null;
			const row: Row = { ...measured, joinCpuSeconds: join?.receivers ?? null, sfuJoinCpuSeconds: join?.sfu ?? null };
			rows.push(row);
			status.done(
				`${count} ${kind}s: ${row.receiversCores.toFixed(2)} cores (${row.perReceiverPct.toFixed(2)} % each), SFU ${row.sfuCores.toFixed(2)} (waiting for a core ${row.sfuWaiting === null ? '-' : `${(row.sfuWaiting * 100).toFixed(0)} %`} of the time), collector+runner ${row.collectorCores.toFixed(2)}, machine ${row.machinePct.toFixed(0)} %, ${row.joinCpuSeconds === null ? '' : `joins ${(row.joinCpuSeconds * 1000).toFixed(0)} + SFU ${(row.sfuJoinCpuSeconds! * 1000).toFixed(0)} CPU ms each, `}lag ${row.lagMs.toFixed(0)} ms, loss ${row.lossPct?.toFixed(2)} %, p95 RTT ${row.rttP95Ms?.toFixed(1)} ms (${row.withheldPct === null ? 'no round trips timed' : `${row.withheldPct.toFixed(1)} % of ${row.roundTrips} withheld`})`,
			);
			if (row.machinePct > 95 || (row.lossPct ?? 0) > 1 || row.failed > 0) {
				status.done(`  ${row.failed > 0 ? `${row.failed} failed` : (row.lossPct ?? 0) > 1 ? `loss ${row.lossPct!.toFixed(1)} %` : 'the machine is saturated'}: stopping the ${kind} ramp here`);
				break;
			}
		}
	} finally {
		await receivers.close();
		await source.close();
	}
	return rows;
}

const table = (rows: Row[], kind: string) =>
	Object.fromEntries(
		rows.map((r) => [
			`${r.participants} ${kind}s`,
			{
				'with media': r.withMedia,
				failed: r.failed,
				'cores (receivers)': +r.receiversCores.toFixed(3),
				'% core each': +r.perReceiverPct.toFixed(3),
				'per core': Math.round(r.participants / r.receiversCores),
				'MiB each': +r.receiverMiB.toFixed(2),
				'SFU worker cores': +r.sfuCores.toFixed(2),
				'SFU waiting %': r.sfuWaiting === null ? '-' : +(r.sfuWaiting * 100).toFixed(0),
				'collector+runner cores': +r.collectorCores.toFixed(2),
				'machine %': +r.machinePct.toFixed(0),
				'lag p99 ms': +r.lagMs.toFixed(0),
				'CPU ms per join': r.joinCpuSeconds === null ? '-' : Math.round(r.joinCpuSeconds * 1000),
				'SFU CPU ms per join': r.sfuJoinCpuSeconds === null ? '-' : Math.round(r.sfuJoinCpuSeconds * 1000),
				'loss %': r.lossPct === null ? '-' : +r.lossPct.toFixed(2),
				'p95 RTT ms': r.rttP95Ms === null ? '-' : +r.rttP95Ms.toFixed(1),
				'RTT withheld %': r.withheldPct === null ? '-' : +r.withheldPct.toFixed(1),
				'p95 audio jitter ms': r.jitterP95Ms === null ? '-' : +r.jitterP95Ms.toFixed(1),
			},
		]),
	);

try {
	const lite = flags.lite > 0 ? await ramp('lite', liteReceiver, [flags.lite], { bots: 50, viewers: flags.perProcess }) : [];
	const viewers = await ramp('viewer', viewer, flags.steps, { bots: 50, viewers: flags.perProcess });
	console.log(`\nReceivers of one audio + one 180p15 video (a lite sender), ${flags.seconds} s per step, SFU (${flags.sfuWorkers} worker${flags.sfuWorkers > 1 ? 's' : ''}), collector and bots on this ${machineCpu().cores}-core machine`);
	if (lite.length > 0) console.table(table(lite, 'lite receiver'));
	console.table(table(viewers, 'viewer'));
	const best = viewers.filter((r) => r.withMedia >= r.participants && (r.rttP95Ms ?? Infinity) < 50 && (r.lossPct ?? 0) <= 1 && r.machinePct < 95).at(-1);
	console.log(`target: at least 1000 viewers on this machine beside the SFU: ${best && best.participants >= 1000 ? 'met' : 'NOT met'} (largest step with media for all, loss ≤ 1 %, p95 RTT < 50 ms and the machine under 95 %: ${best?.participants ?? 'none'})`);
	const last = viewers.at(-1);
	if (last) console.log(`the SFU worker spends ${((last.sfuCores / last.participants) * 1000).toFixed(2)} ms of CPU per second per viewer (at ${last.participants}); the viewers ${((last.receiversCores / last.participants) * 1000).toFixed(2)} ms`);
	// A packet waits behind everything the worker is doing or is ready to do: its occupancy, not
	// its CPU alone, is what the round trip follows.
	if (viewers.every((r) => r.sfuWaiting !== null))
		console.log(`the SFU worker's occupancy (running + waiting for a core${flags.sfuWorkers > 1 ? ', per worker' : ''}) per step: ${viewers.map((r) => `${r.participants}: ${(((r.sfuCores + r.sfuWaiting!) / flags.sfuWorkers) * 100).toFixed(0)} % (p95 RTT ${r.rttP95Ms?.toFixed(0) ?? '-'} ms)`).join(', ')}`);
	if (lite[0] && viewers[0]) console.log(`a viewer costs ${((viewers[0].perReceiverPct / lite[0].perReceiverPct) * 100).toFixed(0)} % of a lite receiver`);
} finally {
	await bench.close();
}

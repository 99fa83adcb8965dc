/**
 * callswarm capacity (and npm run bench:sfu-capacity): how many consumers one mediasoup worker
 * core carries. Lite bots join rooms step by step (rooms of 2 senders and 6 receivers: 24
 * consumers per room) on a bundled SFU with one worker, until loss passes 0.5 %, the worker core
 * saturates, or the load generator itself runs out of CPU (then consumers per worker core are
 * extrapolated from the worker's CPU per consumer, and that limit is named). Prints the loss and
 * RTT curve against load.
 */
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { StatusLine } from '../status.ts';
import type { Slot } from '../../loadgen/schedule/slots.ts';
import { LiteBench } from '../../loadgen/lite/LiteBench.ts';
import { GeneratorMonitor } from '../../loadgen/health/GeneratorMonitor.ts';
import { treeCpuSeconds } from '../../loadgen/proc.ts';
import { parseCommandLine } from '../args.ts';

const whole = z.string().regex(/^\d+$/).transform(Number);
const CapacityFlags = z.object({
	'step-rooms': whole.pipe(z.number().min(1)).default(2),
	'step-seconds': whole.pipe(z.number().min(3)).default(12),
	'max-rooms': whole.pipe(z.number().min(1)).default(40),
	publish: z.enum(['audio-only', '180p15', '360p30']).default('180p15'),
	positionals: z.array(z.string()).max(0, 'takes no positional arguments'),
});

export const capacityHelp = `callswarm capacity [flags]: consumers one mediasoup worker core carries

Lite bots join rooms of 2 senders and 6 receivers on a bundled SFU with one worker, step by step,
until loss passes 0.5 %, the worker core saturates or the load generator itself saturates (then it
says so: the bots, not the SFU, were the limit).

  --step-rooms <n>     rooms added per step (default 2)
  --step-seconds <n>   measuring time per step (default 12)
  --max-rooms <n>      stop after this many rooms (default 40)
  --publish <profile>  what senders send: audio-only, 180p15 (default), 360p30
`;

interface Step {
	/** The load generator saturated during this step: its loss and RTT describe the bots' machine. */
	generatorSaturated: string | undefined;
	rooms: number;
	bots: number;
	consumers: number;
	workerCpu: number;
	botCpu: number;
	lossPct: number | null;
	rttP95Ms: number | null;
}

export async function capacityCommand(argv: string[]): Promise<number> {
	const flags = parseCommandLine(argv, CapacityFlags, 'capacity');

	const status = new StatusLine();
	const runId = `capacity-${Date.now()}`;
	const bench = await LiteBench.start({ sfu: { workers: 1, maxPeersPerRoom: 100 }, flushIntervalMs: 1000, log: (m) => status.done(`  ${m}`) });
	const { sfu, collector, sender } = bench;
	const groups = LiteBench.groups(flags.publish, 2, 6);
	const lite = bench.driver(runId, 40);
	// The bots run on this machine: when they saturate it, loss and RTT stop describing the SFU.
	const monitor = new GeneratorMonitor(() => lite.processes());
	let saturatedNow: string | undefined;
	monitor.on('reading', (reading) => {
		if (reading.saturated && !saturatedNow) {
			const worst = reading.stats.find((s) => s.saturated);
			saturatedNow = worst ? `${worst.id}: ${worst.role === 'machine' ? `CPU ${worst.cpuPct.toFixed(0)} % of the machine` : `CPU ${worst.cpuPct.toFixed(0)} % of a core${worst.lagMs === undefined ? '' : `, event-loop lag ${worst.lagMs.toFixed(0)} ms`}`}` : 'saturated';
		}
	});
	monitor.start();

	const steps: Step[] = [];
	let stopReason = `reached --max-rooms ${flags['max-rooms']}`;
	let index = 0;
	try {
		for (let rooms = flags['step-rooms']; rooms <= flags['max-rooms']; rooms += flags['step-rooms']) {
			for (let r = rooms - flags['step-rooms']; r < rooms; r++) {
				for (const group of groups) {
					for (let k = 0; k < group.count; k++) {
						const slot: Slot = { index: index++, roomId: `cap-${r}`, group, peerId: `${group.name}-${r}-${k}` };
						await lite.join(slot);
					}
				}
			}
			status.update(`${rooms} rooms joined, settling`);
			await new Promise((r) => setTimeout(r, 4000));
			const [load0] = await sfu.workerLoad();
			const bot0 = lite.pids.reduce((s, pid) => s + treeCpuSeconds(pid), 0);
			saturatedNow = undefined;
			const from = Date.now();
			const t0 = performance.now();
			await new Promise((r) => setTimeout(r, flags['step-seconds'] * 1000));
			const [load1] = await sfu.workerLoad();
			const seconds = (performance.now() - t0) / 1000;
			await sender.flush();
			await collector.flush();
			const [q] = await collector.store.query<{ loss: number | null; rtt: number | null }>(
				`SELECT sumIf(lost_delta, direction = 'inbound') / greatest(1, sumIf(packets_delta + lost_delta, direction = 'inbound')) * 100 AS loss,
					quantileExactIf(0.95)(rtt_ms, direction = 'candidate-pair' AND rtt_ms > 0) AS rtt
				FROM callswarm.samples WHERE run_id = {run:String} AND ts >= fromUnixTimestamp64Milli(toInt64({from:Int64}))`,
				{ run: runId, from },
			);
			const step: Step = {
				generatorSaturated: saturatedNow,
				rooms,
				bots: index,
				consumers: sfu.totals().consumers,
				workerCpu: (load1!.cpuSeconds - load0!.cpuSeconds) / seconds,
				botCpu: (lite.pids.reduce((s, pid) => s + treeCpuSeconds(pid), 0) - bot0) / seconds,
				lossPct: q?.loss ?? null,
				rttP95Ms: q?.rtt ?? null,
			};
			steps.push(step);
			status.done(
				`${rooms} rooms, ${step.bots} bots, ${step.consumers} consumers: worker ${(step.workerCpu * 100).toFixed(0)} % of a core, bots ${step.botCpu.toFixed(2)} cores, loss ${step.lossPct?.toFixed(2)} %, p95 RTT ${step.rttP95Ms?.toFixed(1)} ms`,
			);
			if (step.generatorSaturated) {
				stopReason = `the load generator saturated first (${step.generatorSaturated}), with the SFU worker at ${(step.workerCpu * 100).toFixed(0)} % of its core: this machine's bots are the limit, not the SFU. Measure further with bots on other machines`;
				break;
			}
			if ((step.lossPct ?? 0) > 0.5) {
				stopReason = `loss passed 0.5 % (${step.lossPct!.toFixed(2)} %)`;
				break;
			}
			if (step.workerCpu > 0.9) {
				stopReason = 'the worker core saturated (> 90 %)';
				break;
			}
		}
	} finally {
		monitor.stop();
		await lite.close();
		await bench.close();
	}

	console.log(`\nSFU capacity: one mediasoup worker, rooms of 2 ${flags.publish} senders + 6 receivers (24 consumers each); stopped: ${stopReason}`);
	console.table(
		steps.map((s) => ({
			rooms: s.rooms,
			bots: s.bots,
			consumers: s.consumers,
			'worker CPU %': +(s.workerCpu * 100).toFixed(1),
			'consumers per worker core': Math.round(s.consumers / Math.max(s.workerCpu, 1e-6)),
			'loss %': s.lossPct === null ? '-' : +s.lossPct.toFixed(3),
			'p95 RTT ms': s.rttP95Ms === null ? '-' : +s.rttP95Ms.toFixed(1),
			'bot cores': +s.botCpu.toFixed(2),
			generator: s.generatorSaturated ? 'SATURATED' : 'ok',
		})),
	);
	// The curve, as people would rather see it than read it.
	const maxRtt = Math.max(...steps.map((s) => s.rttP95Ms ?? 0), 1);
	console.log('\np95 RTT (#) and loss (x10, o) against consumers');
	for (const s of steps) {
		const rttBar = '#'.repeat(Math.round(((s.rttP95Ms ?? 0) / maxRtt) * 40));
		const lossBar = 'o'.repeat(Math.min(40, Math.round((s.lossPct ?? 0) * 10)));
		console.log(`${String(s.consumers).padStart(6)} | ${rttBar.padEnd(40)} ${(s.rttP95Ms ?? 0).toFixed(1).padStart(7)} ms | ${lossBar} ${(s.lossPct ?? 0).toFixed(2)} %`);
	}
	// Figures measured while the generator was saturated are about the bots, not the SFU.
	const last = steps.filter((s) => !s.generatorSaturated).at(-1);
	if (last) {
		const perCore = last.consumers / Math.max(last.workerCpu, 1e-6);
		console.log(
			`\n${last.consumers} consumers on ${(last.workerCpu * 100).toFixed(0)} % of a worker core: ${Math.round(perCore)} consumers per worker core` +
				`${last.workerCpu < 0.9 ? ' (extrapolated: the worker was not saturated)' : ''} (target: >= 500, mediasoup's own figure)`,
		);
		const file = path.join(os.tmpdir(), `${runId}.json`);
		writeFileSync(file, JSON.stringify({ stopReason, steps }, null, 2));
		console.log(`steps as JSON: ${file}`);
	}
	return 0;
}

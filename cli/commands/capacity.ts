/**
 * callswarm capacity (and npm run bench:sfu-capacity): how many consumers and participants one
 * mediasoup worker core carries, for a mix of participants. Rooms join step by step on a
 * bundled SFU with one worker, until loss passes 0.5 %, the worker core saturates, or the load
 * generator itself runs out of CPU (then figures per worker core are extrapolated from the
 * worker's CPU per consumer, and that limit is named). Prints the loss and RTT curve against
 * load.
 *
 * Mixes: `basic`, rooms of 2 lite senders and 6 lite receivers (24 consumers each); and
 * `large-room`, rooms shaped like a messenger group call: a browser speaker sending simulcast,
 * a lite camera, and last-N viewers (lite) at the low layer (thumbnails) or the best one.
 */
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { StatusLine } from '../status.ts';
import type { Slot } from '../../loadgen/schedule/slots.ts';
import { BotBench } from '../../loadgen/BotBench.ts';
import type { BotDriver } from '../../loadgen/drivers.ts';
import { GeneratorMonitor } from '../../loadgen/health/GeneratorMonitor.ts';
import { botRoleOf, botRoles, type BotRole } from '../../loadgen/health/BotCostMeter.ts';
import { processTable, treeCpuSeconds } from '../../loadgen/proc.ts';
import type { WithheldFigures } from '../../protocol/api.ts';
import { figureCountsKey, figureCountsText, figureKindNames, inDoubt } from '../../protocol/metrics.ts';
import { Scenario, type NamedParticipantGroup } from '../../protocol/scenario.ts';
import type { ParticipantEvent } from '../../protocol/telemetry.ts';
import { parseCommandLine } from '../args.ts';

const whole = z.string().regex(/^\d+$/, 'must be a whole number').transform(Number);
export const CapacityFlags = z
	.object({
		mix: z.enum(['basic', 'large-room']).default('basic'),
		'step-rooms': whole.pipe(z.number().min(1)).optional(),
		'step-seconds': whole.pipe(z.number().min(3)).default(12),
		'max-rooms': whole.pipe(z.number().min(1)).default(40),
		publish: z.enum(['audio-only', '180p15', '360p30']).optional(),
		viewers: whole.pipe(z.number().min(2).max(98)).optional(),
		positionals: z.array(z.string()).max(0, 'takes no positional arguments'),
	})
	.superRefine((flags, ctx) => {
		if (flags.mix === 'large-room' && flags.publish !== undefined) {
			ctx.addIssue({ code: 'custom', path: ['publish'], message: 'is for --mix basic: the large-room mix sends a 360p30 simulcast speaker and a 180p15 camera' });
		}
		if (flags.mix === 'basic' && flags.viewers !== undefined) {
			ctx.addIssue({ code: 'custom', path: ['viewers'], message: 'is for --mix large-room' });
		}
	});
export type CapacityFlags = z.infer<typeof CapacityFlags>;

export const capacityHelp = `callswarm capacity [flags]: consumers and participants one mediasoup worker core carries

Rooms join a bundled SFU with one worker, step by step, until loss passes 0.5 %, the worker core
saturates or the load generator itself saturates (then it says so: the bots, not the SFU, were
the limit, and figures per worker core are extrapolated).

  --mix <name>         basic (default): rooms of 2 lite senders and 6 lite receivers
                       large-room: rooms of a browser speaker sending 360p30 simulcast, a lite
                       camera (180p15) and lite viewers with last-N 1, half of them at the low
                       layer (thumbnails), half at the best layer their bandwidth allows
  --step-rooms <n>     rooms added per step (default 2; large-room: 1)
  --step-seconds <n>   measuring time per step (default 12)
  --max-rooms <n>      stop after this many rooms (default 40)
  --publish <profile>  basic: what senders send: audio-only, 180p15 (default), 360p30
  --viewers <n>        large-room: viewers per room (default 12)
`;

/** The participant groups of one room of a mix. */
function roomGroups(flags: CapacityFlags): NamedParticipantGroup[] {
	if (flags.mix === 'basic') return BotBench.groups(flags.publish ?? '180p15', 2, 6);
	const viewers = flags.viewers ?? 12;
	return Scenario.parse({
		name: 'capacity-large-room',
		participants: [
			{ name: 'speaker', bot: 'browser', count: 1, publish: '360p30', simulcast: true, subscribe: 'audio' },
			{ name: 'camera', bot: 'lite', count: 1, publish: '180p15', subscribe: 'audio' },
			{ name: 'thumbnails', bot: 'lite', count: Math.ceil(viewers / 2), publish: 'none', subscribe: 'all', lastN: 1, layer: 'low' },
			{ name: 'stage', bot: 'lite', count: Math.floor(viewers / 2), publish: 'none', subscribe: 'all', lastN: 1, layer: 'auto' },
		],
		schedule: { executor: 'constant-vus', vus: 1, duration: '1s' },
	}).participants;
}

function describeMix(flags: CapacityFlags, groups: NamedParticipantGroup[]): string {
	if (flags.mix === 'basic') return `rooms of 2 ${flags.publish ?? '180p15'} senders + 6 receivers (lite)`;
	const viewers = groups.filter((g) => g.lastN !== undefined).reduce((n, g) => n + g.count, 0);
	return `large-room rooms: a browser speaker (360p30 simulcast), a lite camera (180p15), ${viewers} lite last-N 1 viewers (half at the low layer)`;
}

export interface Step {
	/** The load generator saturated during this step: its loss and RTT describe the bots' machine. */
	generatorSaturated: string | undefined;
	rooms: number;
	/** Participants in a call (joined, not failed). */
	participants: number;
	consumers: number;
	/** Consumers the SFU forwards media on: neither they nor their producer paused (last-N leaves the others paused). */
	forwarding: number;
	workerCpu: number;
	botCpu: number;
	/** Cores per bot of each role with bots in the step: its processes' CPU over its participants in calls (a lite-bot process's lite bots and viewers alike). */
	botCoresEach: Partial<Record<BotRole, number>>;
	lossPct: number | null;
	rttP95Ms: number | null;
	/** p95 of the receivers' interarrival jitter. */
	jitterP95Ms: number | null;
	/** Share of the lite bots' round trips in the step withheld because their own process stood still meanwhile. */
	rttWithheldPct: number | null;
	/** Share of the frames and audio packets lite bots had to send in the step that left late because their process stood still. */
	framesLatePct: number | null;
}

/** A count's figures judged and withheld between two readings: the step's. */
function stepCounts(before: WithheldFigures, after: WithheldFigures, key: keyof WithheldFigures): { judged: number; withheld: number } {
	return { judged: after[key].judged - before[key].judged, withheld: after[key].withheld - before[key].withheld };
}

/** The step's share of a count, in percent, or null with nothing judged. */
function stepShare(before: WithheldFigures, after: WithheldFigures, key: keyof WithheldFigures): number | null {
	const { judged, withheld } = stepCounts(before, after, key);
	return judged > 0 ? (withheld / judged) * 100 : null;
}

/**
 * Why the bots' own stalls put this step's figures in doubt, if they do: so many round trips
 * withheld, or frames sent late, that what the step measured is the bots' machine, not the SFU.
 * The machine's CPU may never show it: a lite-bot process can stand still for a moment, again
 * and again, while its core is busy on average for less than the monitor's threshold.
 */
export function stallsDoubt(before: WithheldFigures, after: WithheldFigures): string | undefined {
	for (const kind of figureKindNames) {
		const { judged, withheld } = stepCounts(before, after, figureCountsKey(kind));
		if (inDoubt(kind, withheld, judged)) return figureCountsText(kind, withheld, judged);
	}
	return undefined;
}

/** Ramps rooms of the mix onto one worker, step by step, until a limit; each step as it is measured goes to `status`. */
export async function measureCapacity(flags: CapacityFlags, status: StatusLine): Promise<{ runId: string; stopReason: string; steps: Step[] }> {
	const stepRooms = flags['step-rooms'] ?? (flags.mix === 'basic' ? 2 : 1);
	const groups = roomGroups(flags);
	const runId = `capacity-${Date.now()}`;
	const bench = await BotBench.start({ sfu: { workers: 1, maxPeersPerRoom: 100 }, flushIntervalMs: 1000, log: (m) => status.done(`  ${m}`) });
	const { sfu, collector, sender } = bench;
	const joined = new Set<number>();
	const ended = new Set<number>();
	const onEvent = (slot: Slot, event: ParticipantEvent): void => {
		if (event.type === 'join') joined.add(slot.index);
		if (event.type === 'fail' || event.type === 'leave') ended.add(slot.index);
	};
	const lite = bench.driver(runId, { botsPerProcess: 40, onEvent });
	const browser = groups.some((g) => g.bot === 'browser') ? bench.browserDriver(runId, 4, onEvent) : undefined;
	const drivers: BotDriver[] = browser ? [lite, browser] : [lite];
	const roleCpuSeconds = (): Record<BotRole, number> => {
		const table = processTable();
		const cpu: Record<BotRole, number> = { browser: 0, lite: 0 };
		for (const p of drivers.flatMap((d) => d.processes())) cpu[p.role] += treeCpuSeconds(p.pid, table);
		return cpu;
	};
	const roleOf = new Map<number, BotRole>();
	// The bots run on this machine: when they saturate it, loss and RTT stop describing the SFU.
	const monitor = new GeneratorMonitor(() => drivers.flatMap((d) => d.processes()));
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
		for (let rooms = stepRooms; rooms <= flags['max-rooms']; rooms += stepRooms) {
			const first = index;
			for (let r = rooms - stepRooms; r < rooms; r++) {
				for (const group of groups) {
					for (let k = 0; k < group.count; k++) {
						const slot: Slot = { index: index++, roomId: `cap-${r}`, group, peerId: `${group.name}-${r}-${k}` };
						roleOf.set(slot.index, botRoleOf(group.bot));
						await (group.bot === 'browser' ? browser! : lite).join(slot);
					}
				}
			}
			// Browser bots join after their page loads: a step is measured once every new participant is in (or failed).
			const deadline = Date.now() + 90_000;
			const settled = (): number => Array.from({ length: index - first }, (_, i) => first + i).filter((i) => joined.has(i) || ended.has(i)).length;
			while (settled() < index - first && Date.now() < deadline) {
				status.update(`${rooms} rooms: ${settled()} of ${index - first} new participants in`);
				await new Promise((r) => setTimeout(r, 500));
			}
			status.update(`${rooms} rooms joined, settling`);
			await new Promise((r) => setTimeout(r, flags.mix === 'basic' ? 4000 : 8000));
			const [load0] = await sfu.workerLoad();
			const bot0 = roleCpuSeconds();
			const counts0 = lite.withheldFigures();
			saturatedNow = undefined;
			const from = Date.now();
			const t0 = performance.now();
			await new Promise((r) => setTimeout(r, flags['step-seconds'] * 1000));
			const [load1] = await sfu.workerLoad();
			const seconds = (performance.now() - t0) / 1000;
			// Read with the worker's: the flush and query below take this process's time, not the window's.
			const bot1 = roleCpuSeconds();
			await sender.flush();
			await collector.flush();
			const [q] = await collector.store.query<{ loss: number | null; rtt: number | null; jitter: number | null }>(
				`SELECT sumIf(lost_delta, direction = 'inbound') / greatest(1, sumIf(packets_delta + lost_delta, direction = 'inbound')) * 100 AS loss,
					quantileExactIf(0.95)(rtt_ms, direction = 'candidate-pair' AND rtt_ms > 0) AS rtt,
					quantileExactIf(0.95)(jitter_ms, direction = 'inbound') AS jitter
				FROM callswarm.samples WHERE run_id = {run:String} AND ts >= fromUnixTimestamp64Milli(toInt64({from:Int64}))`,
				{ run: runId, from },
			);
			const totals = sfu.totals();
			const counts1 = lite.withheldFigures();
			const inCalls = [...joined].filter((i) => !ended.has(i));
			const botCoresEach: Partial<Record<BotRole, number>> = {};
			for (const role of botRoles) {
				const bots = inCalls.filter((i) => roleOf.get(i) === role).length;
				if (bots > 0) botCoresEach[role] = (bot1[role] - bot0[role]) / seconds / bots;
			}
			const step: Step = {
				generatorSaturated: saturatedNow ?? stallsDoubt(counts0, counts1),
				rooms,
				participants: inCalls.length,
				consumers: totals.consumers,
				forwarding: totals.forwardingConsumers,
				workerCpu: (load1!.cpuSeconds - load0!.cpuSeconds) / seconds,
				botCpu: botRoles.reduce((sum, role) => sum + bot1[role] - bot0[role], 0) / seconds,
				botCoresEach,
				lossPct: q?.loss ?? null,
				rttP95Ms: q?.rtt ?? null,
				jitterP95Ms: q?.jitter ?? null,
				rttWithheldPct: stepShare(counts0, counts1, 'roundTrips'),
				framesLatePct: stepShare(counts0, counts1, 'framesSentLate'),
			};
			steps.push(step);
			status.done(
				`${rooms} rooms, ${step.participants} participants, ${step.consumers} consumers (${step.forwarding} forwarding): worker ${(step.workerCpu * 100).toFixed(0)} % of a core, bots ${step.botCpu.toFixed(2)} cores (${botCostsText(step)}), loss ${step.lossPct?.toFixed(2)} %, p95 RTT ${step.rttP95Ms?.toFixed(1)} ms${step.rttWithheldPct ? ` (${step.rttWithheldPct.toFixed(1)} % of the bots' round trips withheld: their process stood still)` : ''}, p95 jitter ${step.jitterP95Ms?.toFixed(1)} ms${step.framesLatePct ? ` (${step.framesLatePct.toFixed(2)} % of the bots' frames sent late)` : ''}`,
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
		for (const driver of drivers) await driver.close();
		await bench.close();
	}

	return { runId, stopReason, steps };
}

/** Each bot kind's cores per bot in a step, and how many such bots a core holds. */
export function botCostsText(step: Pick<Step, 'botCoresEach'>): string {
	const names: Record<BotRole, string> = { browser: 'browser bots', lite: 'lite bots and viewers' };
	return botRoles
		.filter((role) => step.botCoresEach[role] !== undefined)
		.map((role) => {
			const cores = step.botCoresEach[role]!;
			return `${names[role]} ${cores.toFixed(3)} core each, ${cores > 0 ? Math.floor(1 / cores) : '-'} per core`;
		})
		.join('; ');
}

export async function capacityCommand(argv: string[]): Promise<number> {
	const flags = parseCommandLine(argv, CapacityFlags, 'capacity');
	const status = new StatusLine();
	const { runId, stopReason, steps } = await measureCapacity(flags, status);
	const groups = roomGroups(flags);
	const perCore = (n: number, s: Step): number => Math.round(n / Math.max(s.workerCpu, 1e-6));
	console.log(`\nSFU capacity: one mediasoup worker, ${describeMix(flags, groups)}; stopped: ${stopReason}`);
	console.table(
		steps.map((s) => ({
			rooms: s.rooms,
			participants: s.participants,
			consumers: s.consumers,
			forwarding: s.forwarding,
			'worker CPU %': +(s.workerCpu * 100).toFixed(1),
			'consumers per worker core': perCore(s.consumers, s),
			'participants per worker core': perCore(s.participants, s),
			'loss %': s.lossPct === null ? '-' : +s.lossPct.toFixed(3),
			'p95 RTT ms': s.rttP95Ms === null ? '-' : +s.rttP95Ms.toFixed(1),
			'RTT withheld %': s.rttWithheldPct === null ? '-' : +s.rttWithheldPct.toFixed(1),
			'p95 jitter ms': s.jitterP95Ms === null ? '-' : +s.jitterP95Ms.toFixed(1),
			'frames sent late %': s.framesLatePct === null ? '-' : +s.framesLatePct.toFixed(2),
			'bot cores': +s.botCpu.toFixed(2),
			...Object.fromEntries(Object.entries(s.botCoresEach).map(([role, cores]) => [`cores per ${role} bot`, +cores.toFixed(3)])),
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
		console.log(
			`\n${last.consumers} consumers (${last.forwarding} forwarding) of ${last.participants} participants on ${(last.workerCpu * 100).toFixed(0)} % of a worker core: ` +
				`${perCore(last.consumers, last)} consumers and ${perCore(last.participants, last)} participants per worker core` +
				`${last.workerCpu < 0.9 ? ' (extrapolated: the worker was not saturated)' : ''} (target: >= 500 consumers, mediasoup's own figure)`,
		);
		console.log(`what the bots cost this machine at that step: ${botCostsText(last)}: what sizes the machines that carry the bots`);
		const file = path.join(os.tmpdir(), `${runId}.json`);
		writeFileSync(file, JSON.stringify({ mix: flags.mix, stopReason, steps }, null, 2));
		console.log(`steps as JSON: ${file}`);
	}
	return 0;
}

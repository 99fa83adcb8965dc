import { EventEmitter, once } from 'node:events';
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import type { GeneratorProcessStats } from '../../protocol/telemetry.ts';
import type { WithheldFigures } from '../../protocol/api.ts';
import { processCounts } from '../../protocol/metrics.ts';
import { machineCpu, processTable, processTree } from '../proc.ts';

/** A process of the load generator besides the runner: a Chromium (with its children) or a lite-bot process. */
export interface WatchedProcess {
	role: 'browser' | 'lite';
	/** A stable label, e.g. "browser-clean-1" or "lite-2". */
	id: string;
	pid: number;
	/** Node processes report their own event-loop delay p99 (ms) over the last interval. */
	lagMs?: number;
	/** Watch the process and all its children (Chromium's renderers, GPU and utility processes). */
	tree: boolean;
	/** Figures its bots judged so far and withheld from rtt_ms, jitter_ms and media_rtt_ms (lite-bot processes). */
	withheld?: WithheldFigures;
}

/** When the generator counts as saturated: any of these, held for `sustainMs`. */
export interface HealthLimits {
	/** Event-loop delay p99 of the runner or a lite-bot process, ms. */
	maxLagMs: number;
	/** One process (a Chromium process, a lite-bot process) above this share of one core, percent. */
	maxProcessCpuPct: number;
	/** The whole machine above this share of all its cores, percent. */
	maxMachineCpuPct: number;
	sustainMs: number;
}

export const defaultHealthLimits: HealthLimits = { maxLagMs: 50, maxProcessCpuPct: 90, maxMachineCpuPct: 95, sustainMs: 5000 };

export interface Saturation {
	/** Epoch ms the limit was first passed (the start of the sustained stretch). */
	at: number;
	/** The process (or "machine") that saturated. */
	process: string;
	/** What was over its limit, e.g. "event-loop lag p99 180 ms > 50 ms for 3 s". */
	reason: string;
}

export interface GeneratorReading {
	ts: number;
	stats: GeneratorProcessStats[];
	machineCpuPct: number | null;
	runnerLagMs: number;
	/** The worst event-loop lag of any Node process of the generator, ms. */
	maxLagMs: number;
	saturated: boolean;
}

export interface GeneratorMonitorEvents {
	reading: [GeneratorReading];
	/** The first time the generator saturates (later stretches are in the readings). */
	saturated: [Saturation];
}

interface Signal {
	key: string;
	process: string;
	over: boolean;
	describe: () => string;
}

/**
 * Watches the load generator itself, once a second: event-loop lag and CPU of the runner, CPU
 * of every Chromium process and lite-bot process (with their own lag), and the machine. A
 * generator that saturates produces figures about itself, not about the call: the run is
 * marked, so no one reads a machine problem as a call-quality regression.
 */
export class GeneratorMonitor extends EventEmitter<GeneratorMonitorEvents> {
	readonly #lag: IntervalHistogram = monitorEventLoopDelay({ resolution: 10 });
	#timer: NodeJS.Timeout | undefined;
	#lastTick = 0;
	#lastRunnerCpu = process.cpuUsage();
	#lastMachine = machineCpu();
	readonly #lastCpu = new Map<number, number>();
	readonly #overSince = new Map<string, number>();
	#saturation: Saturation | undefined;
	#latest: GeneratorReading | undefined;
	#judgedFrom = 0;

	constructor(
		private readonly processes: () => WatchedProcess[],
		private readonly limits: HealthLimits = defaultHealthLimits,
		private readonly intervalMs = 1000,
	) {
		super();
	}

	/** The first saturation of this run, if any. */
	get saturation(): Saturation | undefined {
		return this.#saturation;
	}

	get latest(): GeneratorReading | undefined {
		return this.#latest;
	}

	/**
	 * Saturation counts from this moment (epoch ms) on: a stretch over a limit starts here at the
	 * earliest. Before it (the generator preparing its processes) readings are only recorded.
	 */
	judgeFrom(ts: number): void {
		this.#judgedFrom = ts;
	}

	start(): void {
		this.#lag.enable();
		this.#lastTick = performance.now();
		this.#timer = setInterval(() => this.#tick(), this.intervalMs);
	}

	stop(): void {
		clearInterval(this.#timer);
		this.#timer = undefined;
		this.#lag.disable();
	}

	/**
	 * Waits for the next reading (at most two intervals), so what the processes last reported
	 * (their final round-trip counts) is recorded before they go. Returns at once when stopped.
	 */
	async nextReading(): Promise<void> {
		if (!this.#timer) return;
		await once(this, 'reading', { signal: AbortSignal.timeout(2 * this.intervalMs) }).catch(() => undefined);
	}

	#tick(): void {
		const now = performance.now();
		const seconds = Math.max(0.001, (now - this.#lastTick) / 1000);
		this.#lastTick = now;
		const ts = Date.now();
		const stats: GeneratorProcessStats[] = [];
		const signals: Signal[] = [];
		const { maxLagMs, maxProcessCpuPct, maxMachineCpuPct } = this.limits;

		// The runner: its lag is what matters (its CPU includes the in-process ClickHouse's threads).
		const runnerLag = this.#lag.percentile(99) / 1e6;
		this.#lag.reset();
		const cpu = process.cpuUsage(this.#lastRunnerCpu);
		this.#lastRunnerCpu = process.cpuUsage();
		signals.push({ key: 'runner:lag', process: 'runner', over: runnerLag > maxLagMs, describe: () => `event-loop lag p99 ${runnerLag.toFixed(0)} ms > ${maxLagMs} ms` });
		stats.push(
			entry('runner', 'runner', process.pid, ((cpu.user + cpu.system) / 1e6 / seconds) * 100, runnerLag, process.memoryUsage().rss, ts),
		);

		const table = processTable();
		const seen = new Set<number>();
		let maxLag = runnerLag;
		for (const watched of this.processes()) {
			const pids = watched.tree ? processTree(watched.pid, table) : [watched.pid];
			let total = 0;
			let rss = 0;
			let busiest = { pid: watched.pid, pct: 0 };
			for (const pid of pids) {
				const info = table.get(pid);
				if (!info) continue;
				seen.add(pid);
				const previous = this.#lastCpu.get(pid);
				this.#lastCpu.set(pid, info.cpuSeconds);
				rss += info.rssBytes;
				if (previous === undefined) continue;
				const pct = ((info.cpuSeconds - previous) / seconds) * 100;
				total += pct;
				if (pct > busiest.pct) busiest = { pid, pct };
			}
			const busy = busiest;
			signals.push({
				key: `${watched.id}:cpu:${busy.pid}`,
				process: watched.id,
				over: busy.pct > maxProcessCpuPct,
				describe: () => `${watched.tree ? `process ${busy.pid}` : 'CPU'} at ${busy.pct.toFixed(0)} % of a core > ${maxProcessCpuPct} %`,
			});
			if (watched.lagMs !== undefined) {
				const lag = watched.lagMs;
				maxLag = Math.max(maxLag, lag);
				signals.push({ key: `${watched.id}:lag`, process: watched.id, over: lag > maxLagMs, describe: () => `event-loop lag p99 ${lag.toFixed(0)} ms > ${maxLagMs} ms` });
			}
			stats.push(entry(watched.role, watched.id, watched.pid, total, watched.lagMs, rss, ts, watched.withheld));
		}
		for (const pid of this.#lastCpu.keys()) if (!seen.has(pid)) this.#lastCpu.delete(pid);

		const machine = machineCpu();
		const total = machine.totalSeconds - this.#lastMachine.totalSeconds;
		const machinePct = total > 0 ? ((machine.busySeconds - this.#lastMachine.busySeconds) / total) * 100 : null;
		this.#lastMachine = machine;
		if (machinePct !== null) {
			signals.push({
				key: 'machine:cpu',
				process: 'machine',
				over: machinePct > maxMachineCpuPct,
				describe: () => `machine CPU ${machinePct.toFixed(0)} % of ${machine.cores} cores > ${maxMachineCpuPct} %`,
			});
			stats.push(entry('machine', 'machine', 0, machinePct, undefined, 0, ts));
		}

		const saturatedProcesses = this.#judge(signals, ts);
		for (const s of stats) s.saturated = saturatedProcesses.has(s.id);
		this.#latest = { ts, stats, machineCpuPct: machinePct, runnerLagMs: runnerLag, maxLagMs: maxLag, saturated: saturatedProcesses.size > 0 };
		this.emit('reading', this.#latest);
	}

	/** The processes saturated now (over a limit for sustainMs); the first saturation is kept and announced. */
	#judge(signals: Signal[], ts: number): Set<string> {
		const saturated = new Set<string>();
		const live = new Set<string>();
		for (const signal of signals) {
			live.add(signal.key);
			if (!signal.over) {
				this.#overSince.delete(signal.key);
				continue;
			}
			const overSince = this.#overSince.get(signal.key) ?? ts;
			this.#overSince.set(signal.key, overSince);
			// A reading covers the interval before it; the part before judging began does not count.
			const overFor = ts - Math.max(overSince - this.intervalMs, this.#judgedFrom);
			if (overFor < this.limits.sustainMs) continue;
			saturated.add(signal.process);
			if (!this.#saturation) {
				this.#saturation = {
					at: Math.max(overSince, this.#judgedFrom),
					process: signal.process,
					reason: `${signal.process}: ${signal.describe()} for ${Math.round(overFor / 1000)} s`,
				};
				this.emit('saturated', this.#saturation);
			}
		}
		for (const key of this.#overSince.keys()) if (!live.has(key)) this.#overSince.delete(key);
		return saturated;
	}
}

function entry(
	role: GeneratorProcessStats['role'],
	id: string,
	pid: number,
	cpuPct: number,
	lagMs: number | undefined,
	rssBytes: number,
	ts: number,
	withheld?: WithheldFigures,
): GeneratorProcessStats {
	return {
		type: 'generator-process',
		id,
		timestamp: ts,
		role,
		pid,
		cpuPct: Math.max(0, Math.min(100_000, cpuPct)),
		...(lagMs === undefined ? {} : { lagMs: Math.min(3_600_000, lagMs) }),
		rssBytes,
		saturated: false,
		...(withheld ? processCounts(withheld, uint32) : {}),
	};
}

/** A count as the telemetry's UInt32 field holds it. */
function uint32(count: number): number {
	return Math.min(0xffff_ffff, count);
}

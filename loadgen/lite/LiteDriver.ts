import { fork, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import type { NetworkConditions } from '../../protocol/scenario.ts';
import { signalingUrlOf, type BotDriver, type DriverContext, type PreparePlan } from '../drivers.ts';
import type { WatchedProcess } from '../health/GeneratorMonitor.ts';
import type { Slot } from '../schedule/slots.ts';
import { newBatch, participantSource, type TelemetryBatch } from '../../protocol/telemetry.ts';
import type { WithheldFigures } from '../../protocol/api.ts';
import { sumWithheld } from '../../protocol/metrics.ts';
import { LiteReply, type LiteCommand } from './ipc.ts';
import { hostedKind, processShare } from './share.ts';

interface LiteProcess {
	child: ChildProcess;
	bots: Map<number, Slot>;
	byPeer: Map<string, Slot>;
	ready: Promise<void>;
	leaving: Map<number, () => void>;
	exited: boolean;
	/** Its last reported event-loop delay p99, ms. */
	lagMs: number | undefined;
	/** Its bots' judged and withheld figures so far, as it last reported them (it reports totals, so a lost report loses nothing). */
	withheld: WithheldFigures;
	label: string;
}

export interface LiteDriverOptions {
	/** Bots per process: a process is one event loop (the probe found ~75 pairs per process at most). */
	botsPerProcess: number;
	/** Viewers per process, when it holds only viewers; mixed, each kind takes its share. */
	viewersPerProcess?: number;
	/** Lite processes to spread bots over before any gets a second one (default: one per core). */
	processesPerMachine?: number;
}

const tsxLoader = import.meta.resolve('tsx');

/**
 * Lite bots: werift participants in child processes, many per process. A process that dies
 * turns its bots into fail events and the run goes on.
 */
export class LiteDriver implements BotDriver {
	readonly #processes: LiteProcess[] = [];
	readonly #where = new Map<number, LiteProcess>();
	#closed = false;

	private readonly options: Required<LiteDriverOptions>;

	constructor(
		private readonly context: DriverContext,
		options: LiteDriverOptions,
	) {
		this.options = { processesPerMachine: os.availableParallelism(), viewersPerProcess: 500, ...options };
	}

	/** Process ids, for tests and benchmarks. */
	get pids(): number[] {
		return this.#processes.filter((p) => !p.exited).map((p) => p.child.pid!);
	}

	processes(): WatchedProcess[] {
		return this.#processes
			.filter((p) => !p.exited && p.child.pid !== undefined)
			.map((p) => ({ role: 'lite', id: p.label, pid: p.child.pid!, lagMs: p.lagMs, tree: false, withheld: p.withheld }));
	}

	/** Round trips and jitter figures the bots of every process (gone ones included) judged, and how many were withheld. */
	withheldFigures(): WithheldFigures {
		return sumWithheld(this.#processes.map((p) => p.withheld));
	}

	processOf(slot: Slot): number | undefined {
		return this.#where.get(slot.index)?.child.pid;
	}

	/** Starts the processes the run's lite bots will spread over (one per core, or fewer for few bots) and waits until they are ready. */
	async prepare({ all }: PreparePlan): Promise<number> {
		const wanted = Math.min(this.options.processesPerMachine, all.length);
		const live = this.#processes.filter((p) => !p.exited).length;
		const started = Array.from({ length: Math.max(0, wanted - live) }, () => this.#spawn());
		await Promise.all(started.map((p) => p.ready));
		return started.length;
	}

	async join(slot: Slot): Promise<void> {
		const process = this.#processFor();
		// Counted at once, so joins arriving together spread over the processes.
		process.bots.set(slot.index, slot);
		process.byPeer.set(slot.peerId, slot);
		this.#where.set(slot.index, process);
		await process.ready;
		const network = this.context.relayGroups.has(slot.group.name) ? this.context.networkOf(slot.group.name) : null;
		this.#send(process, {
			op: 'join',
			slot: { bot: hostedKind(slot), index: slot.index, roomId: slot.roomId, peerId: slot.peerId, group: slot.group.name, publish: slot.group.publish, subscribe: slot.group.subscribe, layer: slot.group.layer, lastN: slot.group.lastN, audioTopN: slot.group.audioTopN },
			network,
		});
	}

	async leave(slot: Slot): Promise<void> {
		const process = this.#where.get(slot.index);
		if (!process) return;
		this.#where.delete(slot.index);
		if (process.exited) return;
		await new Promise<void>((resolve) => {
			const timer = setTimeout(resolve, 10_000);
			process.leaving.set(slot.index, () => {
				clearTimeout(timer);
				resolve();
			});
			this.#send(process, { op: 'leave', index: slot.index });
		});
		process.bots.delete(slot.index);
		process.byPeer.delete(slot.peerId);
	}

	async setNetwork(group: string, conditions: NetworkConditions): Promise<void> {
		if (!this.context.relayGroups.has(group)) return;
		for (const process of this.#processes) if (!process.exited) this.#send(process, { op: 'network', group, network: conditions });
	}

	async close(): Promise<void> {
		this.#closed = true;
		await Promise.all(
			this.#processes
				.filter((p) => !p.exited)
				.map(
					(p) =>
						new Promise<void>((resolve) => {
							const timer = setTimeout(() => {
								p.child.kill('SIGKILL');
								resolve();
							}, 15_000);
							p.child.once('exit', () => {
								clearTimeout(timer);
								resolve();
							});
							this.#send(p, { op: 'stop' });
						}),
				),
		);
	}

	/**
	 * The least-busy lite process with room, after one process per core exists: bots spread over
	 * every core instead of piling onto one event loop.
	 */
	#processFor(): LiteProcess {
		const live = this.#processes.filter((p) => !p.exited);
		const idle = live.find((p) => p.bots.size === 0);
		if (idle) return idle;
		if (live.length < this.options.processesPerMachine) return this.#spawn();
		const open = live.filter((p) => this.#load(p) < 1).sort((a, b) => this.#load(a) - this.#load(b))[0];
		return open ?? this.#spawn();
	}

	/** How full a process is, 1 meaning full: lite bots and viewers each take their share. */
	#load(process: LiteProcess): number {
		let load = 0;
		for (const slot of process.bots.values()) load += processShare(slot, this.options);
		return load;
	}

	#spawn(): LiteProcess {
		const child = fork(new URL('./process.ts', import.meta.url), [], {
			execArgv: ['--import', tsxLoader],
			stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
			serialization: 'advanced',
		});
		let markReady!: () => void;
		const process: LiteProcess = {
			child,
			bots: new Map(),
			byPeer: new Map(),
			ready: new Promise((resolve) => (markReady = resolve)),
			leaving: new Map(),
			exited: false,
			lagMs: undefined,
			withheld: sumWithheld([]),
			label: `lite-${this.#processes.length + 1}`,
		};
		child.on('message', (raw) => {
			const reply = LiteReply.safeParse(raw);
			if (!reply.success) return;
			const message = reply.data;
			if (message.op === 'ready') markReady();
			else if (message.op === 'log') this.context.log(`lite bots (pid ${child.pid}): ${message.message}`);
			else if (message.op === 'left') process.leaving.get(message.index)?.();
			else if (message.op === 'health') process.lagMs = message.lagMs;
			else if (message.op === 'withheld') process.withheld = message.counts;
			else this.#onBatch(process, message.batch);
		});
		child.on('exit', (code, signal) => {
			process.exited = true;
			markReady();
			for (const done of process.leaving.values()) done();
			if (this.#closed || process.bots.size === 0) return;
			const reason = `lite bot process ${child.pid} exited (${signal ?? `code ${code}`})`;
			this.context.log(reason);
			for (const slot of process.bots.values()) {
				const event = { type: 'fail' as const, ts: Date.now(), reason };
				this.context.onEvent(slot, event);
				this.context.sender.push(newBatch(this.context.runId, participantSource(hostedKind(slot), slot.roomId, slot.peerId), [], [event]));
			}
			process.bots.clear();
			process.byPeer.clear();
		});
		this.#processes.push(process);
		const e2e = this.context.e2e;
		this.#send(process, {
			op: 'start',
			runId: this.context.runId,
			signalingUrl: signalingUrlOf(this.context.target),
			statsIntervalMs: this.context.statsIntervalMs,
			...(e2e?.lite ? { e2e: { video: e2e.video, audio: e2e.audio, clockOffsetMs: e2e.clockOffsetMs } } : {}),
		});
		return process;
	}

	#onBatch(process: LiteProcess, batch: TelemetryBatch): void {
		const slot = process.byPeer.get(batch.source.peerId);
		if (slot) for (const event of batch.events ?? []) this.context.onEvent(slot, event);
		this.context.sender.push(batch);
	}

	#send(process: LiteProcess, command: LiteCommand): void {
		if (!process.exited && process.child.connected) process.child.send(command);
	}
}


import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import os from 'node:os';
import type { Collector } from '../../collector/index.ts';
import type { RunStatus, RunSummary, ThresholdResult } from '../../protocol/api.ts';
import { formatDuration } from '../../protocol/durations.ts';
import { networkPresets, publishProfiles, type NetworkConditions, type Scenario } from '../../protocol/scenario.ts';
import type { RunCoordination, ShardOutcome } from '../../protocol/shards.ts';
import { newBatch, serverSource, type ParticipantEvent } from '../../protocol/telemetry.ts';
import { abortDelay, abortsRun, thresholdExpressions, type ThresholdExpressions } from '../../protocol/thresholds.ts';
import { BrowserDriver } from '../browser/BrowserDriver.ts';
import { CollectorClient } from '../CollectorClient.ts';
import type { BotDriver, DriverContext, DriverTarget } from '../drivers.ts';
import { BotCostMeter, botRoleOf, type BotCost, type BotRole } from '../health/BotCostMeter.ts';
import { GeneratorMonitor, type GeneratorReading, type Saturation, type WatchedProcess } from '../health/GeneratorMonitor.ts';
import type { FigureCounts } from '../../protocol/api.ts';
import { sumWithheld } from '../../protocol/metrics.ts';
import { LiteDriver } from '../lite/LiteDriver.ts';
import { localAddressToward } from '../network/localAddress.ts';
import { scheduleDuration } from '../schedule/executors.ts';
import { Membership } from '../schedule/Membership.ts';
import { buildSlots, slotsOfShard, type Shard, type Slot } from '../schedule/slots.ts';
import { estimate, estimatedCoresEach, joinCpuSecondsOf } from '../sizing/preflight.ts';
import { TelemetrySender } from '../telemetry/TelemetrySender.ts';
import { ShardLink } from './ShardLink.ts';
import { SpeakerTurns } from './SpeakerTurns.ts';
import { senderMarkId } from '../../capture/marks.ts';
import { Infrastructure } from '../../infrastructure/Infrastructure.ts';
import { SfuReporter } from '../../infrastructure/SfuReporter.ts';
import type { TelemetryFormat } from '../../protocol/compact.ts';

export interface RunOptions {
	scenario: Scenario;
	/** Shared by every shard of a multi-machine run; generated when absent. */
	runId?: string;
	shard?: Shard;
	/** Epoch ms all shards start the schedule at (now when absent); "all-ready": when every shard has reported ready (a shard of several). */
	startAt?: number | 'all-ready';
	/** SFU base URL (http://host:port); the bundled SFU is started when absent and the scenario says "bundled". */
	sfuUrl?: string;
	/** For an app target: its URL instead of the scenario's (--target-url). */
	targetUrl?: string;
	/** Collector base URL; one is started in-process (embedded ClickHouse) when absent. */
	collectorUrl?: string;
	collectorToken?: string;
	/** How telemetry is encoded to the collector (default objects). */
	telemetryFormat?: TelemetryFormat;
	/** Embedded ClickHouse data and journal (default .callswarm). */
	dataDir?: string;
	/** Stats sample period override. */
	statsIntervalMs?: number;
	/** Also receives what the run logs (besides the "log" event). */
	log?: (message: string) => void;
	/** A shard of several: how long to wait, after its own part, for the run's one verdict (default 10 min). */
	verdictTimeoutMs?: number;
	/** A shard of several: how often it tells the collector it is alive (default 5 s). */
	heartbeatMs?: number;
}

export interface GeneratorStatus {
	machineCpuPct: number | null;
	/** Worst event-loop lag of the generator's Node processes in the last second, ms. */
	maxLagMs: number;
	/** Saturated now. */
	saturated: boolean;
}

export interface RunProgress {
	elapsedMs: number;
	durationMs: number;
	/** Participants the schedule wants in calls now (this shard). */
	target: number;
	joined: number;
	active: number;
	failed: number;
	rttP95Ms: number | null;
	lossPct: number | null;
	generator: GeneratorStatus | undefined;
	/** Set once the generator saturated: the run will be invalid. */
	overloaded: Overload | undefined;
}

/** The load generator saturated during the run: its figures are about the machine, not the call. */
export interface Overload extends Saturation {
	/** ms into the run. */
	elapsedMs: number;
}

/** How a run ended. */
export type StopReason =
	| { kind: 'completed' }
	| { kind: 'threshold'; metric: string; expression: string }
	| { kind: 'interrupted' }
	| { kind: 'requested'; reason: string };

export interface RunOutcome {
	runId: string;
	status: Extract<RunStatus, 'passed' | 'failed' | 'aborted' | 'invalid'>;
	/** What the status means in words (the registry's statusReason). */
	statusReason: string;
	stop: StopReason;
	overloaded: Overload | undefined;
	/**
	 * Round trips this machine's lite bots and viewers timed, and how many `rtt_ms` left out
	 * because a stall of their own process may have stretched them. Absent without such bots.
	 */
	roundTrips: FigureCounts | undefined;
	/** Likewise the received-jitter figures its lite bots reported, and how many `jitter_ms` left out. Absent without such bots. */
	jitterFigures: FigureCounts | undefined;
	/** Likewise the RTCP round trips of what its lite bots sent, and how many `media_rtt_ms` left out. Absent without such bots. */
	mediaRoundTrips: FigureCounts | undefined;
	/** The frames and audio packets its lite bots sent, and how many left late enough to grow the `jitter_ms` of their receivers. Absent without such bots. */
	framesSentLate: FigureCounts | undefined;
	/** What a browser bot, and a lite bot or viewer, cost this machine over the run, beside the preflight's estimate. */
	botCosts: BotCost[];
	thresholds: ThresholdResult[];
	summary: RunSummary;
	startedAt: number;
	endedAt: number;
	collectorUrl: string;
	dashboardUrl: string;
}

export interface LoadRunEvents {
	progress: [RunProgress];
	log: [string];
	/** Every participant event as the bots report it (join, first media, leave, fail, reconnect). */
	participant: [slot: Slot, event: ParticipantEvent];
	overloaded: [Overload];
	/** A shard of several, waiting for the others: where every shard is. */
	shards: [RunCoordination];
}

const tickMs = 250;
const abortCheckMs = 5000;

/**
 * One execution of a scenario: infrastructure (bundled SFU and collector unless given), the
 * schedule moving participants in and out, network changes, thresholds with abortOnFail, the
 * load generator watching itself, and at the end the exact threshold verdicts from the stored
 * data.
 */
export class LoadRun extends EventEmitter<LoadRunEvents> {
	readonly runId: string;
	/** This shard's participant places, in join order. */
	readonly slots: Slot[];
	readonly #total: number;
	readonly #myPeers: Set<string>;
	readonly #scenario: Scenario;
	readonly #membership: Membership;
	/** The scenario's threshold expressions, all and the abortOnFail ones, built once. */
	readonly #thresholds: { all: ThresholdExpressions; abort: ThresholdExpressions };
	#infrastructure: Infrastructure | undefined;
	#target!: DriverTarget;
	#turn = { listenIp: '127.0.0.1', relayIp: '127.0.0.1' };
	#client!: CollectorClient;
	#sender!: TelemetrySender;
	#sfuReporter: SfuReporter | undefined;
	#monitor: GeneratorMonitor | undefined;
	#overload: Overload | undefined;
	#startAt = 0;
	/** This machine's clock minus the collector's (end-to-end delay marks are in collector time). */
	#clockOffsetMs = 0;
	/** Every participant of the run (all shards) by the 16-bit id its video marks carry. */
	readonly #peerOfMark = new Map<number, string>();
	readonly #drivers = new Map<'browser' | 'lite', BotDriver>();
	readonly #network = new Map<string, NetworkConditions>();
	readonly #active = new Map<number, Promise<void>>();
	readonly #joinedPeers = new Set<string>();
	readonly #botCosts = new BotCostMeter();
	#speakerTurns: SpeakerTurns | undefined;
	readonly #failedPeers = new Set<string>();
	readonly #leftPeers = new Set<string>();
	#stopRequested: StopReason | undefined;
	/** Set for a shard of several: the line to the collector's coordinator. */
	#link: ShardLink | undefined;
	#latest: { rttP95Ms: number | null; lossPct: number | null } = { rttP95Ms: null, lossPct: null };

	constructor(private readonly options: RunOptions) {
		super();
		this.#scenario = options.scenario;
		this.runId = options.runId ?? `${options.scenario.name}-${new Date().toISOString().replace(/[-:]/g, '').slice(0, 15)}-${randomBytes(2).toString('hex')}`;
		const all = buildSlots(options.scenario);
		this.#total = all.length;
		this.slots = options.shard ? slotsOfShard(all, options.shard) : all;
		this.#myPeers = new Set(this.slots.map((s) => s.peerId));
		for (const slot of all) this.#peerOfMark.set(senderMarkId(slot.peerId), slot.peerId);
		this.#membership = new Membership(options.scenario.schedule, this.slots, this.#total);
		this.#thresholds = { all: thresholdExpressions(options.scenario.thresholds), abort: thresholdExpressions(options.scenario.thresholds, 'abort') };
		for (const group of options.scenario.participants) {
			this.#network.set(group.name, group.network ?? options.scenario.network ?? { ...networkPresets.perfect });
		}
	}

	get durationMs(): number {
		return scheduleDuration(this.#scenario.schedule);
	}

	/** Asks the run to end now: bots leave, telemetry is flushed, thresholds are evaluated. */
	stop(reason: string): void {
		this.#stopRequested ??= { kind: 'requested', reason };
	}

	/** Ctrl-C: as stop(), and the run counts as interrupted. */
	interrupt(): void {
		this.#stopRequested ??= { kind: 'interrupted' };
	}

	/** The in-process collector, if this run started one. */
	get collector(): Collector | undefined {
		return this.#infrastructure?.collector;
	}

	/** Where the bots' telemetry goes (once the run has started). */
	get telemetry(): TelemetrySender | undefined {
		return this.#sender as TelemetrySender | undefined;
	}

	/** The driver of a bot kind, if the run started one (tests and benchmarks use it). */
	driverOf(kind: 'browser' | 'lite'): BotDriver | undefined {
		return this.#drivers.get(kind);
	}

	/** Every participant of these groups gets new network conditions now (a scheduled change does this too). */
	async setNetwork(groups: readonly string[], network: NetworkConditions): Promise<void> {
		for (const group of groups) {
			this.#network.set(group, network);
			for (const driver of this.#drivers.values()) await driver.setNetwork(group, network);
		}
		this.#log(`network of ${groups.join(', ')} is now ${JSON.stringify(network)}`);
	}

	#log(message: string): void {
		this.options.log?.(message);
		this.emit('log', message);
	}

	/** Browser bots write and read end-to-end delay marks of some kind. */
	get #marksDelay(): boolean {
		return this.#scenario.e2e.video || this.#scenario.e2e.audio;
	}

	get #statsInterval(): number {
		return this.options.statsIntervalMs ?? this.#scenario.statsInterval;
	}

	async #startInfrastructure(): Promise<void> {
		const { scenario } = this.options;
		const app = typeof scenario.target === 'object' ? { ...scenario.target.app, ...(this.options.targetUrl ? { url: this.options.targetUrl } : {}) } : undefined;
		this.#infrastructure = await Infrastructure.start({
			sfuUrl: this.options.sfuUrl ?? (typeof scenario.target === 'string' && scenario.target !== 'bundled' ? scenario.target : undefined),
			withoutSfu: app !== undefined,
			collectorUrl: this.options.collectorUrl,
			dataDir: this.options.dataDir,
		});
		const infrastructure = this.#infrastructure;
		this.#target = app
			? { kind: 'app', app }
			: { kind: 'callswarm', signalingUrl: infrastructure.signalingUrl, botPageUrl: infrastructure.botPageUrl };
		// Relayed candidates must carry an address the SFU or the app's peers can reach.
		const far = new URL(app ? app.url.replace(/\{\w+\}/g, 'x') : infrastructure.sfuUrl!).hostname;
		this.#turn = { listenIp: '127.0.0.1', relayIp: await localAddressToward(far).catch(() => '127.0.0.1') };
		this.#client = new CollectorClient(this.#infrastructure.collectorUrl, this.options.collectorToken);
		this.#sender = new TelemetrySender(this.#client, {
			flushIntervalMs: Math.min(2000, this.#statsInterval),
			maxBatchesPerRequest: 500,
			maxBufferedBatches: 200_000,
			format: this.options.telemetryFormat,
		});
		this.#sender.on('retry', (error) => this.#log(`telemetry retry: ${error.message}`));
		this.#sender.on('dropped', (count, reason) => this.#log(`telemetry: ${count} batches dropped (${reason})`));
		this.#sender.on('rejected', (r) => this.#log(`telemetry: collector rejected a snapshot at ${r.path}: ${r.message}`));
		this.#sender.start();
		if (this.#infrastructure.sfu) {
			this.#sfuReporter = new SfuReporter(this.#infrastructure.sfu, (batch) => this.#sender.push(batch), this.runId, this.#statsInterval);
			this.#sfuReporter.start();
		}
		this.#startMonitor();
	}

	#startMonitor(): void {
		const { maxLagMs, maxProcessCpuPct, maxMachineCpuPct, sustain } = this.#scenario.overload;
		const monitor = new GeneratorMonitor(() => [...this.#drivers.values()].flatMap((d): WatchedProcess[] => d.processes()), {
			maxLagMs,
			maxProcessCpuPct,
			maxMachineCpuPct,
			sustainMs: sustain,
		});
		// Judged from the schedule's start (execute sets it): preparing the bots' processes is not the run.
		monitor.judgeFrom(Number.POSITIVE_INFINITY);
		const shard = this.options.shard;
		const generatorId = `generator:${os.hostname()}:${shard ? `${shard.index}of${shard.count}` : '1of1'}`;
		monitor.on('reading', (reading: GeneratorReading) => {
			this.#sender.push(newBatch(this.runId, serverSource('generator', generatorId), [{ ts: reading.ts, pc: '', stats: reading.stats }]));
			if (this.#startAt > 0 && reading.ts >= this.#startAt) this.#botCosts.add(reading, this.#inCallsByRole());
		});
		monitor.on('saturated', (saturation) => {
			this.#overload = { ...saturation, elapsedMs: Math.max(0, saturation.at - this.#startAt) };
			this.#log(`load generator overloaded at ${formatDuration(this.#overload.elapsedMs)}: ${saturation.reason}; the run will be marked invalid`);
			this.emit('overloaded', this.#overload);
		});
		monitor.start();
		this.#monitor = monitor;
	}

	#driver(bot: 'browser' | 'lite' | 'viewer'): BotDriver {
		// Viewers live in the lite-bot processes (one event loop per core, both kinds mixed).
		const kind = bot === 'viewer' ? 'lite' : bot;
		let driver = this.#drivers.get(kind);
		if (driver) return driver;
		const context: DriverContext = {
			runId: this.runId,
			target: this.#target,
			relayGroups: this.#relayGroups(),
			turn: this.#turn,
			statsIntervalMs: this.#statsInterval,
			sender: this.#sender,
			speakerTurns: this.#scenario.speaking !== undefined,
			networkOf: (group) => this.#network.get(group) ?? { ...networkPresets.perfect },
			onEvent: (slot, event) => this.#onEvent(slot, event),
			log: (message) => this.#log(message),
			...(this.#marksDelay ? { e2e: { ...this.#scenario.e2e, clockOffsetMs: this.#clockOffsetMs, peerOfMark: (mark: number) => this.#peerOfMark.get(mark) } } : {}),
		};
		driver =
			kind === 'lite'
				? new LiteDriver(context, { botsPerProcess: this.#scenario.liteBotsPerProcess, viewersPerProcess: this.#scenario.viewersPerProcess })
				: new BrowserDriver(context, this.#scenario.pagesPerBrowser);
		this.#drivers.set(kind, driver);
		return driver;
	}

	/** Groups whose participants get their own impairment relay: conditions now or later, or relay "always". */
	#relayGroups(): Set<string> {
		const s = this.#scenario;
		const groups = new Set<string>();
		for (const group of s.participants) if (group.network || s.network || (group.relay ?? s.relay) === 'always') groups.add(group.name);
		for (const change of s.networkChanges) for (const name of change.groups ?? s.participants.map((g) => g.name)) groups.add(name);
		return groups;
	}

	#onEvent(slot: Slot, event: ParticipantEvent): void {
		if (event.type === 'join') {
			this.#joinedPeers.add(slot.peerId);
			this.#botCosts.joined(botRoleOf(slot.group.bot), joinCpuSecondsOf(slot.group, this.#scenario));
		}
		if (event.type === 'fail') this.#failedPeers.add(slot.peerId);
		if (event.type === 'leave') this.#leftPeers.add(slot.peerId);
		this.#followSpeakerTurns(slot, event);
		this.emit('participant', slot, event);
	}

	/** Browser bots that send audio take speaker turns once joined (lite bots' audio carries no level to detect). */
	#followSpeakerTurns(slot: Slot, event: ParticipantEvent): void {
		const speaking = this.#scenario.speaking;
		if (!speaking || slot.group.bot !== 'browser' || !publishProfiles[slot.group.publish].audio) return;
		const driver = this.#drivers.get('browser');
		if (!driver?.setSpeaking) return;
		this.#speakerTurns ??= new SpeakerTurns(speaking, (s, on) => driver.setSpeaking!(s, on));
		if (event.type === 'join') this.#speakerTurns.add(slot);
		else if (event.type === 'leave' || event.type === 'fail') this.#speakerTurns.remove(slot);
	}

	/** This shard's bots in calls now (joined, not failed or gone), by the processes that carry them. */
	#inCallsByRole(): Record<BotRole, number> {
		const count: Record<BotRole, number> = { browser: 0, lite: 0 };
		for (const slot of this.slots) {
			const peer = slot.peerId;
			if (this.#joinedPeers.has(peer) && !this.#failedPeers.has(peer) && !this.#leftPeers.has(peer)) count[botRoleOf(slot.group.bot)]++;
		}
		return count;
	}

	#join(slot: Slot): void {
		if (this.#active.has(slot.index)) return;
		this.#active.set(
			slot.index,
			this.#driver(slot.group.bot)
				.join(slot)
				.catch((error: unknown) => {
					this.#onEvent(slot, { type: 'fail', ts: Date.now(), reason: String(error) });
					this.#log(`${slot.peerId}: ${(error as Error).message}`);
				}),
		);
	}

	async #leave(slot: Slot): Promise<void> {
		const joining = this.#active.get(slot.index);
		if (!joining) return;
		this.#active.delete(slot.index);
		await joining;
		await this.#driver(slot.group.bot).leave(slot);
	}

	#progress(t: number, target: number): RunProgress {
		let failed = 0;
		for (const peer of this.#failedPeers) if (this.#myPeers.has(peer)) failed++;
		const active = [...this.#joinedPeers].filter((p) => !this.#failedPeers.has(p) && !this.#leftPeers.has(p)).length;
		const reading = this.#monitor?.latest;
		return {
			elapsedMs: t,
			durationMs: this.durationMs,
			target,
			joined: this.#joinedPeers.size,
			active,
			failed,
			...this.#latest,
			generator: reading && { machineCpuPct: reading.machineCpuPct, maxLagMs: reading.maxLagMs, saturated: reading.saturated },
			overloaded: this.#overload,
		};
	}

	/** The newest p95 RTT and mean loss from the collector, for the status line. */
	async #refreshLatest(): Promise<void> {
		try {
			const series = await this.#client.timeseries(this.runId, ['rtt_ms', 'loss_pct'], 5);
			const rtt = series.series.rtt_ms?.at(-1);
			const loss = series.series.loss_pct?.at(-1);
			this.#latest = { rttP95Ms: rtt?.p95 ?? this.#latest.rttP95Ms, lossPct: loss?.avg ?? this.#latest.lossPct };
		} catch {
			// The status line keeps its last figures.
		}
	}

	/** A shard of several gets a line to the coordinator (before the start, for a start when all are ready). */
	#linkShard(): ShardLink | undefined {
		const shard = this.options.shard;
		if (!shard || shard.count < 2) return undefined;
		const link = new ShardLink(
			this.#client,
			this.runId,
			shard,
			{
				count: shard.count,
				generator: os.hostname(),
				scenario: this.#scenario.name,
				plannedParticipants: this.slots.length,
				heartbeatMs: this.options.heartbeatMs ?? 5000,
				thresholds: this.#thresholds.all,
			},
			() => ({ joined: [...this.#joinedPeers].filter((p) => this.#myPeers.has(p)).length, failed: [...this.#failedPeers].filter((p) => this.#myPeers.has(p)).length }),
		);
		link.on('abort', (abort) => {
			if (abort.shard !== shard.index) this.stop(`${abort.reason} (shard ${abort.shard} of ${shard.count} asked every shard to stop)`);
		});
		link.on('unreachable', (error) => this.#log(`heartbeat to the collector failed: ${error.message}`));
		return link;
	}

	/** Each kind of bot starts the processes the run needs at once, before the schedule starts (and before this shard says it is ready). */
	async #prepareDrivers(): Promise<void> {
		const plans = new Map<BotDriver, { all: Slot[] }>();
		for (const slot of this.slots) {
			const driver = this.#driver(slot.group.bot);
			const plan = plans.get(driver) ?? { all: [] };
			plan.all.push(slot);
			plans.set(driver, plan);
		}
		const started = Date.now();
		// A driver that cannot prepare leaves it to the joins, which fail with the reason.
		const counts = await Promise.all(
			[...plans].map(async ([driver, plan]) =>
				(driver.prepare?.(plan) ?? Promise.resolve(0)).catch((error: unknown) => {
					this.#log(`could not start bot processes: ${(error as Error).message}`);
					return 0;
				}),
			),
		);
		const count = counts.reduce((a, b) => a + b, 0);
		if (count > 0) this.#log(`${count} bot processes started in ${formatDuration(Date.now() - started)}, before the schedule`);
	}

	/** abortOnFail thresholds that fail on data (not on a metric with no samples yet). */
	async #abortingThreshold(): Promise<ThresholdResult | undefined> {
		await this.#sender.flush(false);
		const results = await this.#client.evaluate(this.runId, this.#thresholds.abort).catch(() => []);
		return results.find(abortsRun);
	}

	async execute(): Promise<RunOutcome> {
		await this.#startInfrastructure();
		if (this.#marksDelay) {
			const clock = await this.#client.clockOffset().catch(() => undefined);
			this.#clockOffsetMs = clock?.offsetMs ?? 0;
			if (clock && Math.abs(clock.offsetMs) > 5) this.#log(`this machine's clock is ${clock.offsetMs.toFixed(0)} ms off the collector's (round trip ${clock.roundTripMs} ms): delay marks are corrected for it`);
		}
		await this.#prepareDrivers();
		const link = this.#linkShard();
		let startAt: number;
		if (this.options.startAt === 'all-ready') {
			if (!link) throw new Error('a start "when all are ready" needs --shard i/n with n > 1');
			this.#log(`waiting until all ${this.options.shard!.count} shards are ready`);
			startAt = await link.ready(this.options.verdictTimeoutMs ?? 900_000, (s) => this.emit('shards', s));
		} else {
			startAt = this.options.startAt ?? Date.now();
		}
		this.#startAt = startAt;
		this.#monitor?.judgeFrom(startAt);
		await this.#client.registerRun(this.runId, {
			scenario: this.#scenario.name,
			status: 'running',
			startedAt: startAt,
			plannedParticipants: this.#total,
			config: this.#scenario as unknown as Record<string, unknown>,
		});
		if (link) {
			await link.start(startAt);
			this.#link = link;
		}
		const pendingChanges = [...this.#scenario.networkChanges].sort((a, b) => a.at - b.at);
		const abortFrom = abortDelay(this.#scenario.thresholds);
		let lastStatus = 0;
		let lastAbortCheck = 0;
		let stop: StopReason = { kind: 'completed' };
		const duration = this.durationMs;
		for (;;) {
			const t = Date.now() - startAt;
			if (this.#stopRequested) {
				stop = this.#stopRequested;
				break;
			}
			if (t >= duration) break;
			while (pendingChanges.length && pendingChanges[0]!.at <= t) {
				const change = pendingChanges.shift()!;
				await this.setNetwork(change.groups ?? this.#scenario.participants.map((g) => g.name), change.network);
			}
			const wanted = this.#membership.wanted(t);
			for (const [position, slot] of this.slots.entries()) {
				if (position >= wanted.from && position < wanted.to) this.#join(slot);
				else if (this.#active.has(slot.index)) void this.#leave(slot);
			}
			if (Date.now() - lastStatus >= 1000) {
				lastStatus = Date.now();
				if (t > 3000) void this.#refreshLatest();
				this.emit('progress', this.#progress(t, wanted.to - wanted.from));
			}
			if (abortFrom !== undefined && t >= abortFrom && Date.now() - lastAbortCheck >= abortCheckMs) {
				lastAbortCheck = Date.now();
				const failing = await this.#abortingThreshold();
				if (failing) {
					stop = { kind: 'threshold', metric: failing.metric, expression: failing.expression };
					await this.#link?.requestAbort(describeStop(stop)).catch((error: unknown) => this.#log(`could not tell the other shards to stop: ${(error as Error).message}`));
					break;
				}
			}
			await new Promise((r) => setTimeout(r, tickMs));
		}
		return this.#finish(startAt, stop);
	}

	async #finish(startAt: number, stop: StopReason): Promise<RunOutcome> {
		this.#log(stop.kind === 'completed' ? 'schedule done: participants leave' : `stopping: ${describeStop(stop)}`);
		this.#speakerTurns?.close();
		await Promise.all(this.slots.filter((slot) => this.#active.has(slot.index)).map((slot) => this.#leave(slot)));
		// The processes' final withheld-figure counts (sent with their bots' leaves) reach the collector before the processes go.
		if ([...this.#drivers.values()].some((driver) => driver.withheldFigures)) await this.#monitor?.nextReading();
		for (const driver of this.#drivers.values()) await driver.close();
		const measured = [...this.#drivers.values()].flatMap((driver) => driver.withheldFigures?.() ?? []);
		const withheld = measured.length > 0 ? sumWithheld(measured) : undefined;
		this.#sfuReporter?.stop();
		this.#monitor?.stop();
		await this.#sender.close();
		await this.#infrastructure?.collector?.flush();
		const endedAt = Date.now();
		const overload = this.#overload;
		const decided = this.#link ? await this.#coordinatedVerdict(stop, overload) : await this.#ownVerdict(startAt, endedAt, stop, overload);
		const { status, statusReason, thresholds } = decided;
		const summary = await this.#client.summary(this.runId, true);
		const collectorUrl = this.#infrastructure!.collectorUrl;
		return {
			runId: this.runId,
			status,
			statusReason,
			stop,
			overloaded: overload,
			roundTrips: withheld?.roundTrips,
			jitterFigures: withheld?.jitterFigures,
			mediaRoundTrips: withheld?.mediaRoundTrips,
			framesSentLate: withheld?.framesSentLate,
			botCosts: this.#botCosts.costs(estimatedCoresEach(estimate(this.#scenario, { shard: this.options.shard, bundledSfu: false, localCollector: false }))),
			thresholds,
			summary,
			startedAt: startAt,
			endedAt,
			collectorUrl,
			dashboardUrl: `${collectorUrl}/#/runs/${encodeURIComponent(this.runId)}`,
		};
	}

	/** A run of one machine decides by itself: the thresholds over its data, and its status in the registry. */
	async #ownVerdict(startAt: number, endedAt: number, stop: StopReason, overload: Overload | undefined): Promise<Pick<RunOutcome, 'status' | 'statusReason' | 'thresholds'>> {
		const thresholds = Object.keys(this.#thresholds.all).length ? await this.#client.evaluate(this.runId, this.#thresholds.all) : [];
		const status: RunOutcome['status'] = overload
			? 'invalid'
			: stop.kind === 'threshold'
				? 'failed'
				: stop.kind !== 'completed'
					? 'aborted'
					: thresholds.every((t) => t.ok)
						? 'passed'
						: 'failed';
		const statusReason = overload
			? `load generator overloaded at ${formatDuration(overload.elapsedMs)} (${overload.reason})`
			: stop.kind === 'completed'
				? ''
				: describeStop(stop);
		await this.#client.registerRun(this.runId, {
			scenario: this.#scenario.name,
			status,
			statusReason,
			startedAt: startAt,
			endedAt,
			plannedParticipants: this.#total,
			config: this.#scenario as unknown as Record<string, unknown>,
			verdict: thresholds,
		});
		return { status, statusReason, thresholds };
	}

	/** A shard of several reports how its part ended, then waits for the collector's one verdict over every shard. */
	async #coordinatedVerdict(stop: StopReason, overload: Overload | undefined): Promise<Pick<RunOutcome, 'status' | 'statusReason' | 'thresholds'>> {
		const link = this.#link!;
		const outcome: ShardOutcome = overload
			? { status: 'invalid', reason: `load generator overloaded at ${formatDuration(overload.elapsedMs)} (${overload.reason})` }
			: stop.kind === 'completed'
				? { status: 'completed', reason: '' }
				: stop.kind === 'interrupted'
					? { status: 'interrupted', reason: 'interrupted' }
					: { status: 'stopped', reason: describeStop(stop) };
		await link.finish(outcome);
		this.#log(`shard ${this.options.shard!.index} of ${this.options.shard!.count} done: waiting for the others and the run's verdict`);
		const state = await link.verdict(this.options.verdictTimeoutMs ?? 600_000, (s) =>
			this.emit('shards', s),
		);
		const verdict = state.verdict;
		if (!verdict) {
			const waiting = state.shards.filter((s) => s.state === 'running').map((s) => s.index);
			return { status: 'aborted', statusReason: `no verdict yet: shard(s) ${waiting.join(', ')} still running; callswarm wait ${this.runId}`, thresholds: [] };
		}
		return { status: verdict.status === 'running' || verdict.status === 'finished' ? 'aborted' : verdict.status, statusReason: verdict.statusReason, thresholds: verdict.thresholds };
	}

	/** Stops what the run started (SFU, collector) unless kept for the dashboard. */
	async close(options: { keepCollector?: boolean } = {}): Promise<void> {
		this.#speakerTurns?.close();
		for (const driver of this.#drivers.values()) await driver.close().catch(() => undefined);
		this.#sfuReporter?.stop();
		this.#monitor?.stop();
		this.#link?.stop();
		await this.#infrastructure?.close(options);
	}
}

export function describeStop(stop: StopReason): string {
	switch (stop.kind) {
		case 'completed':
			return 'completed';
		case 'threshold':
			return `threshold ${stop.metric} ${stop.expression} failed (abortOnFail)`;
		case 'interrupted':
			return 'interrupted';
		case 'requested':
			return stop.reason;
	}
}

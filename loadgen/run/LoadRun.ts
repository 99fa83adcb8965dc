import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Collector } from '../../collector/index.ts';
import type { RunSummary, RunStatus, ThresholdResult } from '../../protocol/api.ts';
import type { MetricName } from '../../protocol/metrics.ts';
import { networkPresets, type NetworkConditions, type Scenario } from '../../protocol/scenario.ts';
import type { ParticipantEvent } from '../../protocol/telemetry.ts';
import { BrowserDriver } from '../browser/BrowserDriver.ts';
import { LiteDriver } from '../lite/LiteDriver.ts';
import { CollectorClient } from '../CollectorClient.ts';
import type { BotDriver, DriverContext } from '../drivers.ts';
import { arrivalsBy, scheduleDuration, targetAt } from '../schedule/executors.ts';
import { buildSlots, slotsOfShard, type Shard, type Slot } from '../schedule/slots.ts';
import { TelemetrySender } from '../telemetry/TelemetrySender.ts';
import { Infrastructure } from './Infrastructure.ts';
import { SfuReporter } from './SfuReporter.ts';

export interface RunOptions {
	scenario: Scenario;
	/** Shared by every shard of a multi-machine run; generated when absent. */
	runId?: string;
	shard?: Shard;
	/** Epoch ms all shards start the schedule at (now when absent). */
	startAt?: number;
	/** SFU base URL (http://host:port); the bundled SFU is started when absent and the scenario says "bundled". */
	sfuUrl?: string;
	/** Collector base URL; one is started in-process (embedded ClickHouse) when absent. */
	collectorUrl?: string;
	collectorToken?: string;
	/** Embedded ClickHouse data and spool (default .callswarm). */
	dataDir?: string;
	/** Stats sample period override. */
	statsIntervalMs?: number;
	/** Also receives what the run logs (besides the "log" event). */
	log?: (message: string) => void;
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
}

export interface RunOutcome {
	runId: string;
	status: Extract<RunStatus, 'passed' | 'failed' | 'aborted'>;
	/** Why the run stopped early, if it did. */
	abortReason?: string;
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
}

const tickMs = 250;

/**
 * One execution of a scenario: infrastructure (bundled SFU and collector unless given), the
 * schedule moving participants in and out, network changes, thresholds with abortOnFail, and at
 * the end the exact threshold verdicts from the stored data.
 */
export class LoadRun extends EventEmitter<LoadRunEvents> {
	readonly runId: string;
	readonly slots: Slot[];
	readonly #allSlots: Slot[];
	readonly #myPeers: Set<string>;
	readonly #scenario: Scenario;
	#infrastructure: Infrastructure | undefined;
	#client!: CollectorClient;
	#sender!: TelemetrySender;
	#sfuReporter: SfuReporter | undefined;
	readonly #drivers = new Map<'browser' | 'lite', BotDriver>();
	readonly #network = new Map<string, NetworkConditions>();
	readonly #active = new Map<number, Promise<void>>();
	readonly #arrivedAt = new Map<number, number>();
	readonly #joinedPeers = new Set<string>();
	readonly #failedPeers = new Set<string>();
	readonly #leftPeers = new Set<string>();
	#stopRequested: string | undefined;
	#latest: { rttP95Ms: number | null; lossPct: number | null } = { rttP95Ms: null, lossPct: null };

	constructor(private readonly options: RunOptions) {
		super();
		this.#scenario = options.scenario;
		this.runId = options.runId ?? `${options.scenario.name}-${new Date().toISOString().replace(/[-:]/g, '').slice(0, 15)}-${randomBytes(2).toString('hex')}`;
		this.#allSlots = buildSlots(options.scenario);
		this.slots = options.shard ? slotsOfShard(this.#allSlots, options.shard) : this.#allSlots;
		this.#myPeers = new Set(this.slots.map((s) => s.peerId));
		for (const group of options.scenario.participants) {
			this.#network.set(group.name, group.network ?? options.scenario.network ?? { ...networkPresets.perfect });
		}
	}

	get durationMs(): number {
		return scheduleDuration(this.#scenario.schedule);
	}

	/** Asks the run to end now: bots leave, telemetry is flushed, thresholds are evaluated. */
	stop(reason: string): void {
		this.#stopRequested ??= reason;
	}

	#log(message: string): void {
		this.options.log?.(message);
		this.emit('log', message);
	}

	async #startInfrastructure(): Promise<void> {
		const { scenario } = this.options;
		this.#infrastructure = await Infrastructure.start({
			sfuUrl: this.options.sfuUrl ?? (scenario.target !== 'bundled' ? scenario.target : undefined),
			collectorUrl: this.options.collectorUrl,
			dataDir: this.options.dataDir,
		});
		this.#client = new CollectorClient(this.#infrastructure.collectorUrl, this.options.collectorToken);
		this.#sender = new TelemetrySender(this.#client, {
			flushIntervalMs: Math.min(2000, this.#statsInterval),
			maxBatchesPerRequest: 500,
			maxBufferedBatches: 200_000,
		});
		this.#sender.on('retry', (error) => this.#log(`telemetry retry: ${error.message}`));
		this.#sender.on('dropped', (count, reason) => this.#log(`telemetry: ${count} batches dropped (${reason})`));
		this.#sender.on('rejected', (r) => this.#log(`telemetry: collector rejected a snapshot at ${r.path}: ${r.message}`));
		this.#sender.start();
		if (this.#infrastructure.sfu) {
			this.#sfuReporter = new SfuReporter(this.#infrastructure.sfu, this.#sender, this.runId, this.#statsInterval);
			this.#sfuReporter.start();
		}
	}

	get #statsInterval(): number {
		return this.options.statsIntervalMs ?? this.#scenario.statsInterval;
	}

	#driver(kind: 'browser' | 'lite'): BotDriver {
		let driver = this.#drivers.get(kind);
		if (driver) return driver;
		const context: DriverContext = {
			runId: this.runId,
			signalingUrl: this.#infrastructure!.signalingUrl,
			botPageUrl: this.#infrastructure!.botPageUrl,
			statsIntervalMs: this.#statsInterval,
			sender: this.#sender,
			networkOf: (group) => this.#network.get(group) ?? { ...networkPresets.perfect },
			onEvent: (slot, event) => this.#onEvent(slot, event),
			log: (message) => this.#log(message),
		};
		driver =
			kind === 'lite'
				? new LiteDriver(context, { botsPerProcess: this.#scenario.liteBotsPerProcess, impairedGroups: this.#impairedGroups() })
				: new BrowserDriver(context, this.#scenario.pagesPerBrowser);
		this.#drivers.set(kind, driver);
		return driver;
	}

	/** Groups that have network conditions now or will get them (lite bots then use relays). */
	#impairedGroups(): Set<string> {
		const s = this.#scenario;
		const groups = new Set<string>();
		for (const group of s.participants) if (group.network || s.network) groups.add(group.name);
		for (const change of s.networkChanges) for (const name of change.groups ?? s.participants.map((g) => g.name)) groups.add(name);
		return groups;
	}

	/** The driver of a bot kind, if the run started one (tests and benchmarks use it). */
	driverOf(kind: 'browser' | 'lite'): BotDriver | undefined {
		return this.#drivers.get(kind);
	}

	#onEvent(slot: Slot, event: ParticipantEvent): void {
		if (event.type === 'join') this.#joinedPeers.add(slot.peerId);
		if (event.type === 'fail') this.#failedPeers.add(slot.peerId);
		if (event.type === 'leave') this.#leftPeers.add(slot.peerId);
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

	/** The slots of this shard that should be in calls at t. */
	#wanted(t: number): Set<number> {
		const schedule = this.#scenario.schedule;
		const wanted = new Set<number>();
		if (schedule.executor === 'ramping-arrival-rate') {
			const arrived = Math.min(arrivalsBy(schedule, t), this.#allSlots.length);
			for (const slot of this.slots) {
				if (slot.index >= arrived) break;
				if (!this.#arrivedAt.has(slot.index)) this.#arrivedAt.set(slot.index, t);
				const since = this.#arrivedAt.get(slot.index)!;
				if (schedule.holdTime === undefined || t - since < schedule.holdTime) wanted.add(slot.index);
			}
			return wanted;
		}
		const target = Math.min(targetAt(schedule, t), this.#allSlots.length);
		for (const slot of this.slots) {
			if (slot.index >= target) break;
			wanted.add(slot.index);
		}
		return wanted;
	}

	#progress(t: number, target: number): RunProgress {
		let failed = 0;
		for (const peer of this.#failedPeers) if (this.#myPeers.has(peer)) failed++;
		const active = [...this.#joinedPeers].filter((p) => !this.#failedPeers.has(p) && !this.#leftPeers.has(p)).length;
		return {
			elapsedMs: t,
			durationMs: this.durationMs,
			target,
			joined: this.#joinedPeers.size,
			active,
			failed,
			...this.#latest,
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

	#abortThresholds(): Partial<Record<MetricName, string[]>> | undefined {
		const out: Partial<Record<MetricName, string[]>> = {};
		let any = false;
		for (const [metric, list] of Object.entries(this.#scenario.thresholds)) {
			const due = (list ?? []).filter((t) => t.abortOnFail);
			if (due.length) {
				out[metric as MetricName] = due.map((t) => t.threshold);
				any = true;
			}
		}
		return any ? out : undefined;
	}

	async execute(): Promise<RunOutcome> {
		await this.#startInfrastructure();
		const startAt = this.options.startAt ?? Date.now();
		await this.#client.registerRun(this.runId, {
			scenario: this.#scenario.name,
			status: 'running',
			startedAt: startAt,
			plannedParticipants: this.#allSlots.length,
			config: this.#scenario as unknown as Record<string, unknown>,
		});
		const pendingChanges = [...this.#scenario.networkChanges].sort((a, b) => a.at - b.at);
		const abortChecks = this.#abortThresholds();
		const abortDelay = Math.min(
			...Object.values(this.#scenario.thresholds).flatMap((list) => (list ?? []).filter((t) => t.abortOnFail).map((t) => t.delayAbortEval)),
		);
		let lastStatus = 0;
		let lastAbortCheck = 0;
		let abortReason: string | undefined;
		const duration = this.durationMs;
		for (;;) {
			const t = Date.now() - startAt;
			if (this.#stopRequested) {
				abortReason = this.#stopRequested;
				break;
			}
			if (t >= duration) break;
			while (pendingChanges.length && pendingChanges[0]!.at <= t) {
				const change = pendingChanges.shift()!;
				for (const group of change.groups ?? this.#scenario.participants.map((g) => g.name)) {
					this.#network.set(group, change.network);
					for (const driver of this.#drivers.values()) await driver.setNetwork(group, change.network);
				}
				this.#log(`network of ${change.groups?.join(', ') ?? 'every group'} is now ${JSON.stringify(change.network)}`);
			}
			const wanted = this.#wanted(t);
			for (const slot of this.slots) {
				if (wanted.has(slot.index)) this.#join(slot);
				else if (this.#active.has(slot.index)) void this.#leave(slot);
			}
			if (Date.now() - lastStatus >= 1000) {
				lastStatus = Date.now();
				if (t > 3000) void this.#refreshLatest();
				this.emit('progress', this.#progress(t, wanted.size));
			}
			if (abortChecks && t >= abortDelay && Date.now() - lastAbortCheck >= 5000) {
				lastAbortCheck = Date.now();
				await this.#sender.flush(false);
				const failing = (await this.#client.evaluate(this.runId, abortChecks).catch(() => [])).filter((r) => !r.ok);
				if (failing.length) {
					abortReason = `threshold ${failing[0]!.metric} ${failing[0]!.expression} failed (abortOnFail)`;
					break;
				}
			}
			await new Promise((r) => setTimeout(r, tickMs));
		}
		return this.#finish(startAt, abortReason);
	}

	async #finish(startAt: number, abortReason: string | undefined): Promise<RunOutcome> {
		this.#log(abortReason ? `stopping: ${abortReason}` : 'schedule done: participants leave');
		await Promise.all([...this.#active.keys()].map((index) => this.#leave(this.slots.find((s) => s.index === index)!)));
		for (const driver of this.#drivers.values()) await driver.close();
		this.#sfuReporter?.stop();
		await this.#sender.close();
		await this.#infrastructure?.collector?.flush();
		const endedAt = Date.now();
		const thresholdMap: Partial<Record<MetricName, string[]>> = {};
		for (const [metric, list] of Object.entries(this.#scenario.thresholds)) {
			if (list?.length) thresholdMap[metric as MetricName] = list.map((t) => t.threshold);
		}
		const thresholds = Object.keys(thresholdMap).length ? await this.#client.evaluate(this.runId, thresholdMap) : [];
		const status: RunOutcome['status'] =
			abortReason && !abortReason.startsWith('threshold') ? 'aborted' : thresholds.every((t) => t.ok) ? 'passed' : 'failed';
		await this.#client.registerRun(this.runId, {
			scenario: this.#scenario.name,
			status,
			startedAt: startAt,
			endedAt,
			plannedParticipants: this.#allSlots.length,
			config: this.#scenario as unknown as Record<string, unknown>,
			verdict: thresholds,
		});
		const summary = await this.#client.summary(this.runId, true);
		return {
			runId: this.runId,
			status,
			abortReason,
			thresholds,
			summary,
			startedAt: startAt,
			endedAt,
			collectorUrl: this.#infrastructure!.collectorUrl,
			dashboardUrl: `${this.#infrastructure!.collectorUrl}/#/runs/${encodeURIComponent(this.runId)}`,
		};
	}

	/** Stops what the run started (SFU, collector) unless kept for the dashboard. */
	async close(options: { keepCollector?: boolean } = {}): Promise<void> {
		for (const driver of this.#drivers.values()) await driver.close().catch(() => undefined);
		this.#sfuReporter?.stop();
		await this.#infrastructure?.close(options);
	}

	/** The in-process collector, if this run started one. */
	get collector(): Collector | undefined {
		return this.#infrastructure?.collector;
	}
}

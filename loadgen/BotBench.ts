import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Collector } from '../collector/index.ts';
import { networkPresets, Scenario, type EndToEnd, type NamedParticipantGroup, type PublishProfile } from '../protocol/scenario.ts';
import type { ParticipantEvent } from '../protocol/telemetry.ts';
import type { Sfu, SfuOptionsInput } from '../sfu/index.ts';
import { BrowserDriver } from './browser/BrowserDriver.ts';
import { CollectorClient } from './CollectorClient.ts';
import type { DriverContext } from './drivers.ts';
import { Infrastructure } from '../infrastructure/Infrastructure.ts';
import { LiteDriver } from './lite/LiteDriver.ts';
import type { Slot } from './schedule/slots.ts';
import { TelemetrySender } from './telemetry/TelemetrySender.ts';

/**
 * A bundled SFU, a collector in a temporary directory and bot drivers on a perfect network:
 * what `callswarm capacity` and bench:lite measure with.
 */
export class BotBench {
	private constructor(
		readonly sfu: Sfu,
		readonly collector: Collector,
		readonly sender: TelemetrySender,
		private readonly work: string,
		private readonly log: (message: string) => void,
	) {}

	/** A "sender" group publishing `publish` and receiving nothing, and a "receiver" group receiving everything. */
	static groups(publish: PublishProfile, senders: number, receivers: number): [sender: NamedParticipantGroup, receiver: NamedParticipantGroup] {
		const [sender, receiver] = Scenario.parse({
			name: 'lite-bench',
			participants: [
				{ name: 'sender', bot: 'lite', count: senders, publish, subscribe: 'none' },
				{ name: 'receiver', bot: 'lite', count: receivers, publish: 'none', subscribe: 'all' },
			],
			schedule: { executor: 'constant-vus', vus: 1, duration: '1s' },
		}).participants;
		return [sender!, receiver!];
	}

	static async start(options: { sfu: SfuOptionsInput; flushIntervalMs: number; log: (message: string) => void }): Promise<BotBench> {
		const work = mkdtempSync(path.join(os.tmpdir(), 'callswarm-lite-bench-'));
		const infrastructure = await Infrastructure.start({
			dataDir: work,
			sfu: { logLevel: 'none', ...options.sfu },
			collector: { logLevel: 'silent', flushIntervalMs: 300 },
		});
		const sfu = infrastructure.sfu!;
		const collector = infrastructure.collector!;
		const sender = new TelemetrySender(new CollectorClient(collector.url), {
			flushIntervalMs: options.flushIntervalMs,
			maxBatchesPerRequest: 500,
			maxBufferedBatches: 100_000,
		});
		sender.start();
		return new BotBench(sfu, collector, sender, work, options.log);
	}

	/**
	 * Lite bots and viewers, `botsPerProcess` lite bots (or `viewersPerProcess` viewers) to a
	 * process; with `e2e`, lite bots send delay marks of those kinds.
	 */
	driver(
		runId: string,
		options: { botsPerProcess: number; viewersPerProcess?: number; onEvent?: (slot: Slot, event: ParticipantEvent) => void; e2e?: EndToEnd },
	): LiteDriver {
		const context = this.#context(runId, options.onEvent);
		return new LiteDriver(options.e2e ? { ...context, e2e: { ...options.e2e, clockOffsetMs: 0, peerOfMark: () => undefined } } : context, options);
	}

	/** Browser bots, `pagesPerBrowser` to a Chromium process. */
	browserDriver(runId: string, pagesPerBrowser: number, onEvent?: (slot: Slot, event: ParticipantEvent) => void): BrowserDriver {
		return new BrowserDriver(this.#context(runId, onEvent), pagesPerBrowser);
	}

	#context(runId: string, onEvent: ((slot: Slot, event: ParticipantEvent) => void) | undefined): DriverContext {
		return {
			runId,
			target: { kind: 'callswarm', signalingUrl: this.sfu.wsUrl, botPageUrl: this.sfu.botPageUrl },
			relayGroups: new Set(),
			turn: { listenIp: '127.0.0.1', relayIp: '127.0.0.1' },
			statsIntervalMs: 2000,
			sender: this.sender,
			networkOf: () => ({ ...networkPresets.perfect }),
			onEvent: onEvent ?? (() => undefined),
			log: this.log,
		};
	}

	async close(): Promise<void> {
		await this.sender.close();
		await this.collector.close();
		await this.sfu.close();
		rmSync(this.work, { recursive: true, force: true, maxRetries: 10, retryDelay: 200 });
	}
}

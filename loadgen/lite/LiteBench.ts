import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Collector } from '../../collector/index.ts';
import { networkPresets, Scenario, type NamedParticipantGroup, type PublishProfile } from '../../protocol/scenario.ts';
import type { Sfu, SfuOptionsInput } from '../../sfu/index.ts';
import { CollectorClient } from '../CollectorClient.ts';
import { Infrastructure } from '../../infrastructure/Infrastructure.ts';
import { TelemetrySender } from '../telemetry/TelemetrySender.ts';
import { LiteDriver } from './LiteDriver.ts';

/**
 * A bundled SFU, a collector in a temporary directory and lite-bot drivers on a perfect network:
 * what `callswarm capacity` and bench:lite measure with.
 */
export class LiteBench {
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

	static async start(options: { sfu: SfuOptionsInput; flushIntervalMs: number; log: (message: string) => void }): Promise<LiteBench> {
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
		return new LiteBench(sfu, collector, sender, work, options.log);
	}

	driver(runId: string, botsPerProcess: number): LiteDriver {
		return new LiteDriver(
			{
				runId,
				target: { kind: 'callswarm', signalingUrl: this.sfu.wsUrl, botPageUrl: this.sfu.botPageUrl },
				relayGroups: new Set(),
				turn: { listenIp: '127.0.0.1', relayIp: '127.0.0.1' },
				statsIntervalMs: 2000,
				sender: this.sender,
				networkOf: () => ({ ...networkPresets.perfect }),
				onEvent: () => undefined,
				log: this.log,
			},
			{ botsPerProcess },
		);
	}

	async close(): Promise<void> {
		await this.sender.close();
		await this.collector.close();
		await this.sfu.close();
		rmSync(this.work, { recursive: true, force: true });
	}
}

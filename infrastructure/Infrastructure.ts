import path from 'node:path';
import { startCollector, type Collector, type CollectorOptionsInput } from '../collector/index.ts';
import { dashboardDir } from '../dashboard/bundle.ts';
import { startSfu, type Sfu, type SfuOptionsInput } from '../sfu/index.ts';

export interface InfrastructureOptions {
	/** A running SFU (http://host:port); the bundled one is started when absent. */
	sfuUrl?: string;
	/** A running collector (http://host:port); one with embedded ClickHouse is started when absent. */
	collectorUrl?: string;
	/** The in-process collector's data directory (embedded ClickHouse and journal); default .callswarm. */
	dataDir?: string;
	sfu?: SfuOptionsInput;
	collector?: CollectorOptionsInput;
	/** Skip the SFU entirely (a target that is not a callswarm SFU). */
	withoutSfu?: boolean;
}

/**
 * What a run or a benchmark talks to: the SFU and the collector, either given by URL or started
 * in this process (the bundled SFU on any free port, a collector on the data directory). The
 * load generator only uses the URLs; the in-process handles are for status and shutdown.
 */
export class Infrastructure {
	private constructor(
		readonly sfu: Sfu | undefined,
		readonly collector: Collector | undefined,
		readonly sfuUrl: string | undefined,
		readonly collectorUrl: string,
	) {}

	static async start(options: InfrastructureOptions = {}): Promise<Infrastructure> {
		let sfu: Sfu | undefined;
		let collector: Collector | undefined;
		try {
			if (!options.sfuUrl && !options.withoutSfu) sfu = await startSfu({ port: 0, logLevel: 'error', ...options.sfu });
			if (!options.collectorUrl) collector = await startLocalCollector(options.dataDir ?? '.callswarm', options.collector);
		} catch (error) {
			await sfu?.close();
			throw error;
		}
		return new Infrastructure(
			sfu,
			collector,
			options.sfuUrl?.replace(/\/$/, '') ?? sfu?.url,
			options.collectorUrl?.replace(/\/$/, '') ?? collector!.url,
		);
	}

	/** ws://host:port/ws of the SFU. */
	get signalingUrl(): string {
		return `${this.#sfuBase().replace(/^http/, 'ws')}/ws`;
	}

	/** http://host:port/bot/ of the SFU. */
	get botPageUrl(): string {
		return `${this.#sfuBase()}/bot/`;
	}

	#sfuBase(): string {
		if (!this.sfuUrl) throw new Error('this run has no callswarm SFU');
		return this.sfuUrl;
	}

	/** Stops what was started here; the collector may stay up (for the dashboard). */
	async close(options: { keepCollector?: boolean } = {}): Promise<void> {
		await this.sfu?.close();
		if (!options.keepCollector) await this.collector?.close();
	}
}

/**
 * A collector on loopback, any free port, with its data (embedded ClickHouse, journal) in `dataDir`.
 * It shares the load generator's machine, whose cores are the bots': its ingest stays on its own
 * thread (a run's own telemetry is small), with no worker threads competing with the bots.
 */
export function startLocalCollector(dataDir: string, options: CollectorOptionsInput = {}): Promise<Collector> {
	return startCollector({
		port: 0,
		logLevel: 'error',
		flushIntervalMs: 500,
		ingestWorkers: 0,
		dashboardDir,
		...options,
		dataDir: path.resolve(dataDir),
	});
}

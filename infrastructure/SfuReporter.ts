import os from 'node:os';
import type { Sfu } from '../sfu/index.ts';
import { newBatch, serverSource, type ObjectBatchInput } from '../protocol/telemetry.ts';

/** Server-side load of the in-process SFU as telemetry (source kind "sfu"), every interval. */
export class SfuReporter {
	#timer: NodeJS.Timeout | undefined;
	readonly #id = `sfu-${os.hostname()}-${process.pid}`;

	constructor(
		private readonly sfu: Sfu,
		private readonly send: (batch: ObjectBatchInput) => void,
		private readonly runId: string,
		private readonly intervalMs: number,
	) {}

	start(): void {
		void this.report();
		this.#timer = setInterval(() => void this.report(), this.intervalMs);
	}

	async report(): Promise<void> {
		const ts = Date.now();
		const workers = await this.sfu.workerLoad();
		this.send(
			newBatch(this.runId, serverSource('sfu', this.#id), [
				{
					ts,
					pc: '',
					stats: workers
						.filter((w) => w.alive)
						.map((w) => ({
							type: 'sfu-worker',
							id: `worker-${w.worker}`,
							timestamp: ts,
							worker: w.worker,
							pid: w.pid,
							cpuSeconds: w.cpuSeconds,
							maxRssBytes: w.maxRssBytes,
							rooms: w.rooms,
							peers: w.peers,
							producers: w.producers,
							consumers: w.consumers,
						})),
				},
			]),
		);
	}

	stop(): void {
		clearInterval(this.#timer);
	}
}

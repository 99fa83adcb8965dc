/** Public figures of the bundled SFU (apart from the implementation, so plugins and users need not import it). */

export interface WorkerLoad {
	worker: number;
	pid: number;
	alive: boolean;
	cpuSeconds: number;
	maxRssBytes: number;
	rooms: number;
	peers: number;
	producers: number;
	consumers: number;
}

export interface SfuTotals {
	rooms: number;
	peers: number;
	transports: number;
	producers: number;
	consumers: number;
	/** Consumers media flows on: neither they nor their producer paused (last-N pauses the rest). */
	forwardingConsumers: number;
}

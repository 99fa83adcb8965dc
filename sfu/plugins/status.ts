import type { FastifyPluginAsync } from 'fastify';
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { RoomSnapshot } from '../Room.ts';
import type { SfuTotals, WorkerLoad } from '../types.ts';

/** What the status endpoints read from the SFU. */
export interface StatusSource {
	totals(): SfuTotals;
	workerLoad(): Promise<WorkerLoad[]>;
	liveWorkers(): number;
	roomSnapshots(): RoomSnapshot[];
	on(event: 'workerreplaced', listener: () => void): unknown;
}

/** /healthz, /metrics (Prometheus text) and /v1/rooms (JSON snapshot). */
export const statusPlugin: FastifyPluginAsync<{ source: StatusSource }> = async (app, { source: sfu }) => {
	const registry = new Registry();
	collectDefaultMetrics({ register: registry, prefix: 'callswarm_sfu_process_' });
	const totals = new Gauge({
		name: 'callswarm_sfu_entities',
		help: 'Rooms, peers, transports, producers and consumers on this SFU',
		labelNames: ['entity'],
		registers: [registry],
		collect() {
			const t = sfu.totals();
			for (const [entity, value] of Object.entries(t)) this.set({ entity }, value);
		},
	});
	void totals;
	const workerCpu = new Gauge({
		name: 'callswarm_sfu_worker_cpu_seconds_total',
		help: 'CPU time (user+system) used by each mediasoup worker process',
		labelNames: ['worker', 'pid'],
		registers: [registry],
	});
	const workerRss = new Gauge({
		name: 'callswarm_sfu_worker_max_rss_bytes',
		help: 'Peak resident memory of each mediasoup worker process',
		labelNames: ['worker', 'pid'],
		registers: [registry],
	});
	const workerLoad = new Gauge({
		name: 'callswarm_sfu_worker_load',
		help: 'Rooms, peers and consumers placed on each mediasoup worker',
		labelNames: ['worker', 'pid', 'entity'],
		registers: [registry],
	});
	const restarts = new Counter({
		name: 'callswarm_sfu_worker_restarts_total',
		help: 'mediasoup workers that died and were replaced',
		registers: [registry],
	});
	sfu.on('workerreplaced', () => restarts.inc());

	app.get('/healthz', async (_request, reply) => {
		const live = sfu.liveWorkers();
		return reply.code(live > 0 ? 200 : 503).send({ ok: live > 0, workers: live, rooms: sfu.totals().rooms });
	});

	app.get('/metrics', async (_request, reply) => {
		workerCpu.reset();
		workerRss.reset();
		workerLoad.reset();
		for (const w of await sfu.workerLoad()) {
			const labels = { worker: String(w.worker), pid: String(w.pid) };
			workerCpu.set(labels, w.cpuSeconds);
			workerRss.set(labels, w.maxRssBytes);
			workerLoad.set({ ...labels, entity: 'rooms' }, w.rooms);
			workerLoad.set({ ...labels, entity: 'peers' }, w.peers);
			workerLoad.set({ ...labels, entity: 'consumers' }, w.consumers);
		}
		return reply.type(registry.contentType).send(await registry.metrics());
	});

	app.get('/v1/rooms', async () => ({ rooms: sfu.roomSnapshots() }));
};

/**
 * The collector side of bench:ingest, in its own process so that its CPU time is measured
 * apart from the client's. Driven over IPC by bench/ingest.ts.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { startCollector } from '../collector/index.ts';
import { Normalizer } from '../collector/normalize/Normalizer.ts';
import { TelemetryBatch, type TelemetryBatchInput } from '../protocol/telemetry.ts';

const dataDir = process.argv[2]!;
const journalSync = process.argv[3] !== 'no-sync';
const number = (arg: string | undefined) => (arg === undefined || arg === '' ? undefined : Number(arg));
const ingestWorkers = number(process.argv[4]);
const flushIntervalMs = number(process.argv[5]);
const flushRows = number(process.argv[6]);
// The collector's own flush settings unless told otherwise: how often the journal is sealed
// sets the size of each insert, and small inserts cost the engine several times more.
const collector = await startCollector({
	ingestWorkers,
	port: 0,
	logLevel: 'silent',
	dataDir,
	journalSync,
	...(flushIntervalMs === undefined ? {} : { flushIntervalMs }),
	...(flushRows === undefined ? {} : { flushRows }),
	maxPendingRows: 2_000_000,
});

type Message =
	| { op: 'cpu' }
	| { op: 'drain' }
	| { op: 'baseline'; batches: TelemetryBatchInput[]; chunkRows: number }
	| { op: 'seed'; runId: string; samples: number; peers: number; rooms: number }
	| { op: 'stop' };

const send = (m: unknown) => process.send!(m);
const ticksPerSecond = 100;
/**
 * CPU seconds of this process's threads by part: the collector's own thread, its other Node
 * threads (ingest workers, libuv's pool where the engine's insert calls run, V8's helpers and GC)
 * and the embedded engine's threads (they have names of their own); and of each part, the
 * seconds spent in the kernel (page faults and I/O, whose cost depends on the machine and its
 * hypervisor: part of why one machine's figures are not another's).
 */
const threadCpu = (): { threads: Record<string, number>; kernel: Record<string, number> } => {
	const threads: Record<string, number> = { 'main thread': 0, 'other node threads': 0, 'engine threads': 0 };
	const kernel: Record<string, number> = { ...threads };
	for (const tid of readdirSync('/proc/self/task')) {
		try {
			const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
			const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
			const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
			const part = Number(tid) === process.pid ? 'main thread' : comm === 'node' ? 'other node threads' : 'engine threads';
			threads[part]! += (Number(fields[11]) + Number(fields[12])) / ticksPerSecond;
			kernel[part]! += Number(fields[12]) / ticksPerSecond;
		} catch {
			// A thread that ended meanwhile.
		}
	}
	return { threads, kernel };
};
const cpuSeconds = () => {
	const u = process.cpuUsage();
	return (u.user + u.system) / 1e6;
};

process.on('message', async (message: Message) => {
	switch (message.op) {
		case 'cpu':
			send({ cpu: cpuSeconds(), ...threadCpu() });
			break;
		case 'drain': {
			while (collector.writer.pendingRows > 0) await collector.flush();
			await collector.flush();
			send({ drained: true, cpu: cpuSeconds(), ...threadCpu() });
			break;
		}
		case 'baseline': {
			// The rows our pipeline stored for these batches, inserted the plain @clickhouse/client way.
			const normalizer = new Normalizer();
			// DateTime64 from JSON: an ISO string for the same instant as our epoch milliseconds.
			const rows = message.batches
				.flatMap((b) => normalizer.normalize(TelemetryBatch.parse(b)).samples)
				.map((r) => ({ ...r, ts: new Date(r.ts).toISOString() }));
			const cpu0 = cpuSeconds();
			const t0 = performance.now();
			for (let i = 0; i < rows.length; i += message.chunkRows) {
				await collector.store.client.insert({
					table: 'callswarm.samples',
					values: rows.slice(i, i + message.chunkRows),
					format: 'JSONEachRow',
					clickhouse_settings: { date_time_input_format: 'best_effort' },
				});
			}
			send({ rows: rows.length, wallS: (performance.now() - t0) / 1000, cpuS: cpuSeconds() - cpu0 });
			break;
		}
		case 'seed': {
			const t0 = performance.now();
			await seed(message.runId, message.samples, message.peers, message.rooms);
			const wallS = (performance.now() - t0) / 1000;
			// Latency is measured on a settled store: the seed's background merges would otherwise be measured with it.
			const t1 = performance.now();
			await settle();
			send({ seeded: true, wallS, settleS: (performance.now() - t1) / 1000 });
			break;
		}
		case 'stop':
			await collector.close();
			process.exit(0);
	}
});

/**
 * `samples` synthetic samples for a run of `peers` participants, straight into the engine
 * (INSERT ... SELECT, so the materialized views fill as in real ingest), plus their events.
 */
async function seed(runId: string, samples: number, peers: number, rooms: number): Promise<void> {
	const db = collector.store.database;
	const perTick = peers * 10; // 10 streams per participant per 2 s snapshot
	const start = Date.now() - Math.ceil(samples / perTick) * 2000;
	const chunk = 2_000_000;
	for (let offset = 0; offset < samples; offset += chunk) {
		await collector.store.command(
			// Columns by name: the table gains columns over time (they take their defaults here).
			`INSERT INTO ${db}.samples (run_id, ts, room_id, peer_id, bot_id, source_kind, pc, kind, direction, stream_id, ssrc,
				interval_ms, packets, packets_delta, bytes, bytes_delta, packets_lost, lost_delta, loss_pct, bitrate_bps, rtt_ms, jitter_ms,
				fps, width, height, frames_delta, freeze_count, freeze_ms_delta, freeze_pct, jitter_buffer_ms, concealment_pct,
				nack_count, pli_count, quality_limitation, available_outgoing_bps, mos)
			SELECT {run:String} AS run_id,
				fromUnixTimestamp64Milli(toInt64({start:Int64} + intDiv(n, {perTick:UInt32}) * 2000)) AS ts,
				concat('room-', toString((n % {peers:UInt32}) % {rooms:UInt32})) AS room_id,
				concat('peer-', toString(n % {peers:UInt32})) AS peer_id,
				concat('bot-', toString(n % {peers:UInt32})) AS bot_id,
				'browser' AS source_kind,
				if(s < 5, 'recv', 'send') AS pc,
				['audio', 'video', ''][1 + s % 3] AS kind,
				['inbound', 'inbound', 'candidate-pair', 'inbound', 'inbound', 'outbound', 'outbound', 'candidate-pair', 'remote-inbound', 'remote-inbound'][1 + s] AS direction,
				concat('IT', toString(s)) AS stream_id, toUInt32(1000 + s) AS ssrc,
				2000 AS interval_ms, NULL, 200, NULL, 40000, NULL, rand() % 3, (rand() % 300) / 100.0 AS loss_pct,
				160000 + rand() % 80000 AS bitrate_bps, 5 + (rand() % 5000) / 100.0 AS rtt_ms, (rand() % 3000) / 100.0 AS jitter_ms,
				25 + rand() % 6 AS fps, 640, 360, 60, 0, 0, 0, 20 + rand() % 40 AS jitter_buffer_ms, (rand() % 200) / 100.0,
				0, 0, 'none', 1500000, 3.5 + (rand() % 100) / 100.0 AS mos
			FROM (SELECT number + {offset:UInt64} AS n, (number + {offset:UInt64}) % 10 AS s FROM numbers(least({chunk:UInt64}, {total:UInt64} - {offset:UInt64})))`,
			{ run: runId, start, perTick, peers, rooms, offset, chunk, total: samples },
		);
	}
	await collector.store.command(
		`INSERT INTO ${db}.events (run_id, ts, room_id, peer_id, bot_id, source_kind, type, duration_ms, reason, media_kind, attempt)
		SELECT {run:String}, fromUnixTimestamp64Milli(toInt64({start:Int64} + number * 50 + e * 700)),
			concat('room-', toString(number % {rooms:UInt32})), concat('peer-', toString(number)), concat('bot-', toString(number)),
			'browser', ['join', 'first-media'][e + 1], 400 + rand() % 1500, '', if(e = 1, 'video', ''), 1
		FROM numbers({peers:UInt32}) ARRAY JOIN [0, 1] AS e`,
		{ run: runId, start, peers, rooms },
	);
	await collector.ingest.registerRun(runId, { scenario: 'bench-10m', status: 'passed', startedAt: start, endedAt: Date.now() });
}

/** Waits (at most 3 minutes) until the engine runs no merge in callswarm's database. */
async function settle(): Promise<void> {
	const deadline = Date.now() + 180_000;
	while (Date.now() < deadline) {
		const [row] = await collector.store.query<{ n: number }>(`SELECT count() AS n FROM system.merges WHERE database = {db:String}`, { db: collector.store.database });
		if (Number(row?.n ?? 0) === 0) return;
		await new Promise((r) => setTimeout(r, 500));
	}
}

send({ url: collector.url, ingestWorkers: collector.ingestWorkers?.size ?? 0, flushIntervalMs: collector.options.flushIntervalMs, flushRows: collector.options.flushRows });

import type { DelayMatrix, EventList, PeerList, RoomList } from '../../protocol/api.ts';
import type { QueryParams } from '../store/ClickHouseStore.ts';
import { rollupLevels } from '../store/schema.ts';
import { equalities, finiteOrNull, type Sql } from './sql.ts';

/** The run's rooms, its participants with their averages, and a participant's events. */
export class DrillDown {
	constructor(private readonly sql: Sql) {}

	async rooms(runId: string): Promise<RoomList> {
		const rows = await this.sql.rows<{ room_id: string; n: number }>(
			`SELECT room_id, uniqExact(peer_id) AS n FROM ${this.sql.db}.events
			WHERE run_id = {run:String} GROUP BY room_id ORDER BY room_id`,
			{ run: runId },
		);
		return { rooms: rows.map((r) => ({ roomId: r.room_id, participants: Number(r.n) })) };
	}

	/** End-to-end delay per sender → receiver and kind (raw e2e samples: their sort-key prefix keeps it cheap). */
	async delayMatrix(runId: string, room?: string): Promise<DelayMatrix> {
		const params: QueryParams = { run: runId, ...(room ? { room } : {}) };
		const rows = await this.sql.rows<{ receiver: string; sender: string; kind: string; q: number[]; n: number; marks: number | null }>(
			`SELECT peer_id AS receiver, stream_id AS sender, kind, quantilesExactInclusive(0.5, 0.95)(e2e_ms) AS q, count() AS n,
				avg(e2e_marks_pct) AS marks
			FROM ${this.sql.db}.samples
			WHERE run_id = {run:String} ${room ? 'AND room_id = {room:String}' : ''} AND direction = 'e2e' AND e2e_ms IS NOT NULL
			GROUP BY receiver, sender, kind ORDER BY receiver, sender, kind`,
			params,
		);
		return {
			cells: rows.map((r) => ({
				receiver: r.receiver,
				sender: r.sender,
				kind: r.kind,
				p50: finiteOrNull(r.q[0]),
				p95: finiteOrNull(r.q[1]),
				samples: Number(r.n),
				marksPct: finiteOrNull(r.marks),
			})),
		};
	}

	async peers(runId: string, room?: string): Promise<PeerList> {
		const db = this.sql.db;
		const params: QueryParams = { run: runId, ...(room ? { room } : {}) };
		const roomFilter = room ? 'AND room_id = {room:String}' : '';
		const rows = await this.sql.rows<{
			peer_id: string;
			room_id: string;
			source_kind: string;
			samples: number;
			rtt: number;
			jitter: number;
			loss: number;
			mos: number;
			joined: number;
			failed: number;
		}>(
			`SELECT p.peer_id AS peer_id, p.room_id AS room_id, p.sk AS source_kind, p.samples AS samples,
				p.rtt AS rtt, p.jitter AS jitter, p.loss AS loss, p.mos AS mos,
				ifNull(e.joined, 0) AS joined, ifNull(e.failed, 0) AS failed
			FROM (
				SELECT peer_id, room_id, any(source_kind) AS sk, countMerge(samples) AS samples,
					avgMerge(rtt_ms) AS rtt, avgMerge(jitter_ms) AS jitter, avgMerge(loss_pct) AS loss, avgMerge(mos) AS mos
				FROM ${db}.peer_rollup_${rollupLevels.at(-1)}s WHERE run_id = {run:String} ${roomFilter} AND source_kind NOT IN ('sfu', 'generator')
				GROUP BY peer_id, room_id
			) AS p
			LEFT JOIN (
				SELECT peer_id, max(type = 'join') AS joined, max(type = 'fail') AS failed
				FROM ${db}.events WHERE run_id = {run:String} ${roomFilter} GROUP BY peer_id
			) AS e ON e.peer_id = p.peer_id
			ORDER BY p.room_id, p.peer_id`,
			params,
		);
		return {
			peers: rows.map((r) => ({
				peerId: r.peer_id,
				roomId: r.room_id,
				sourceKind: r.source_kind,
				samples: Number(r.samples),
				rttMs: finiteOrNull(r.rtt),
				jitterMs: finiteOrNull(r.jitter),
				lossPct: finiteOrNull(r.loss),
				mos: finiteOrNull(r.mos),
				joined: Boolean(r.joined),
				failed: Boolean(r.failed),
			})),
		};
	}

	async events(runId: string, filter: { peer?: string; type?: string; limit: number }): Promise<EventList> {
		const params: QueryParams = { run: runId, limit: filter.limit };
		const where = ['run_id = {run:String}', ...equalities(params, { peer_id: filter.peer, type: filter.type })];
		const rows = await this.sql.rows<{ t: number; room_id: string; peer_id: string; type: string; duration_ms: number | null; reason: string }>(
			`SELECT toUnixTimestamp64Milli(ts) AS t, room_id, peer_id, type, duration_ms, reason
			FROM ${this.sql.db}.events WHERE ${where.join(' AND ')} ORDER BY ts LIMIT {limit:UInt32}`,
			params,
		);
		return {
			events: rows.map((r) => ({
				t: Number(r.t),
				roomId: r.room_id,
				peerId: r.peer_id,
				type: r.type,
				durationMs: finiteOrNull(r.duration_ms),
				reason: r.reason,
			})),
		};
	}
}

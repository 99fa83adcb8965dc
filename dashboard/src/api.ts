/** The collector API from the browser: every reply is checked against protocol/api.ts. */
import type { z } from 'zod';
import { EventList, PeerList, RoomList, RunList, RunView, Timeseries } from '../../protocol/api.ts';
import { describeZodError } from '../../protocol/issues.ts';

export class ApiUnavailable extends Error {}

async function get<S extends z.ZodType>(path: string, schema: S): Promise<z.output<S>> {
	let response: Response;
	try {
		response = await fetch(path, { headers: { accept: 'application/json' } });
	} catch (error) {
		throw new ApiUnavailable(`the collector does not answer (${(error as Error).message})`);
	}
	const body: unknown = await response.json().catch(() => ({}));
	if (!response.ok) {
		const message = (body as { message?: string }).message ?? response.statusText;
		throw new Error(`${response.status}: ${message}`);
	}
	const parsed = schema.safeParse(body);
	if (!parsed.success) throw new Error(`unexpected reply from ${path}: ${describeZodError(parsed.error)}`);
	return parsed.data;
}

const run = (id: string) => `/v1/runs/${encodeURIComponent(id)}`;

export const api = {
	runs: async () => (await get('/v1/runs?limit=200', RunList)).runs,
	view: (id: string) => get(`${run(id)}/view`, RunView),
	rooms: (id: string) => get(`${run(id)}/rooms`, RoomList),
	peers: (id: string, room?: string) => get(`${run(id)}/peers${room ? `?room=${encodeURIComponent(room)}` : ''}`, PeerList),
	events: (id: string, peer: string) => get(`${run(id)}/events?peer=${encodeURIComponent(peer)}&limit=500`, EventList),
	timeseries: (id: string, metrics: string[], filter: { room?: string; peer?: string }) => {
		const query = new URLSearchParams({ metrics: metrics.join(',') });
		if (filter.room) query.set('room', filter.room);
		if (filter.peer) query.set('peer', filter.peer);
		return get(`${run(id)}/timeseries?${query}`, Timeseries);
	},
};

/** The collector API from the browser (protocol/endpoints.ts): every reply is checked against its schema. */
import { collectorEndpoints, endpointPath, type CollectorEndpoint, type EndpointReply } from '../../protocol/endpoints.ts';
import { describeZodError } from '../../protocol/issues.ts';

export class ApiUnavailable extends Error {}

/** Beyond loopback the collector wants a read token; the dashboard asks once and keeps it here. */
const tokenKey = 'callswarm.readToken';

async function get<E extends CollectorEndpoint>(
	endpoint: E,
	params: Record<string, string> = {},
	query: Record<string, string | number | undefined> = {},
): Promise<EndpointReply<E>> {
	const path = endpointPath(endpoint, params, query);
	const token = localStorage.getItem(tokenKey);
	let response: Response;
	try {
		response = await fetch(path, { headers: { accept: 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) } });
	} catch (error) {
		throw new ApiUnavailable(`the collector does not answer (${(error as Error).message})`);
	}
	if (response.status === 401) {
		const given = prompt('This collector needs a read token (callswarm serve --read-token). Token:');
		if (given) {
			localStorage.setItem(tokenKey, given.trim());
			return get(endpoint, params, query);
		}
	}
	const body: unknown = await response.json().catch(() => ({}));
	if (!response.ok) {
		const message = (body as { message?: string }).message ?? response.statusText;
		throw new Error(`${response.status}: ${message}`);
	}
	const parsed = collectorEndpoints[endpoint].response.safeParse(body);
	if (!parsed.success) throw new Error(`unexpected reply from ${path}: ${describeZodError(parsed.error)}`);
	return parsed.data as EndpointReply<E>;
}

export const api = {
	apps: async () => (await get('apps')).apps,
	appView: (appId: string, range: '1h' | '1d' | '7d') => get('appView', { appId }, { range }),
	calls: async (appId: string) => (await get('runs', {}, { limit: 100, kind: 'call', app: appId })).runs,
	runs: async () => (await get('runs', {}, { limit: 200 })).runs,
	view: (runId: string) => get('view', { runId }),
	coordination: (runId: string) => get('coordination', { runId }),
	rooms: (runId: string) => get('rooms', { runId }),
	peers: (runId: string, room?: string) => get('peers', { runId }, { room }),
	delayMatrix: (runId: string, room?: string) => get('delayMatrix', { runId }, { room }),
	events: (runId: string, peer: string) => get('events', { runId }, { peer, limit: 500 }),
	timeseries: (runId: string, metrics: string[], filter: { room?: string; peer?: string }) =>
		get('timeseries', { runId }, { metrics: metrics.join(','), room: filter.room, peer: filter.peer }),
};

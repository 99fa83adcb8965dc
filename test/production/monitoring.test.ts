/**
 * Production monitoring end to end: a real app page (the team-call fixture, not callswarm's bot
 * page) on its own origin loads the SDK from the collector, joins the bundled SFU in headless
 * Chromium with two participants, and its call shows up in the app view. Ingest keys, CORS,
 * alerts on an impaired participant (through a relay in front of a real TURN server), privacy
 * (nothing personal anywhere in ClickHouse), erasure of a user, and retention read back.
 */
import http from 'node:http';
import { mkdtempSync, readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCollector, type Collector } from '../../collector/index.ts';
import type { QueryParams } from '../../collector/store/ClickHouseStore.ts';
import { dashboardDir } from '../../dashboard/bundle.ts';
import { launchChromium, type LaunchedBrowser } from '../../loadgen/browser/chromium.ts';
import { ImpairmentRelay } from '../../loadgen/network/ImpairmentRelay.ts';
import { TurnServer } from '../../loadgen/network/TurnServer.ts';
import type { AlertList, AlertNotification, AppInfo, AppKeyInfo, AppView, DeletionReport } from '../../protocol/apps.ts';
import type { RunList } from '../../protocol/api.ts';
import { networkPresets } from '../../protocol/scenario.ts';
import { startSfu, type Sfu } from '../../sfu/index.ts';
import { startSfuApp } from '../fixtures/apps/sfu/server.ts';
import { chromiumFixture, batch } from '../helpers/telemetry.ts';
import { waitFor } from '../helpers/signaling.ts';
import { removeDir } from '../helpers/tempDir.ts';

const token = 'an-admin-run-token-for-tests';
const admin = { authorization: `Bearer ${token}` };
const work = mkdtempSync(path.join(os.tmpdir(), 'callswarm-production-'));
const appId = 'teamcall';
const callId = 'standup-room-7f3c';
const users = { alice: 'alice.raw-user-id@example.com', bob: 'bob.raw-user-id@example.com' };

let sfu: Sfu;
let sfuApp: { url: string; close(): Promise<void> };
let collector: Collector;
let chromium: LaunchedBrowser;
let turn: TurnServer;
let relay: ImpairmentRelay;
let key: AppKeyInfo;
const pages = new Map<string, Page>();
const webhook: { received: AlertNotification[]; url: string; close(): Promise<void> } = { received: [], url: '', close: async () => undefined };

async function api<T>(method: string, urlPath: string, body?: unknown, headers: Record<string, string> = admin): Promise<{ status: number; body: T }> {
	const response = await fetch(`${collector.url}${urlPath}`, {
		method,
		headers: body === undefined ? headers : { ...headers, 'content-type': 'application/json' },
		...(body === undefined ? {} : { body: JSON.stringify(body) }),
	});
	return { status: response.status, body: (await response.json()) as T };
}

const query = <R>(sql: string, params: QueryParams = {}) => collector.store.query<R>(sql, params);

/** The page of a participant: the app joined with the SDK monitoring it (bob relays through the impairing relay). */
async function join(name: keyof typeof users, relayed: boolean): Promise<Page> {
	const page = await chromium.browser.newPage();
	// Every connection the page makes, unwrapped, so the test knows the addresses the stats really carried.
	await page.evaluateOnNewDocument(() => {
		const Native = window.RTCPeerConnection;
		const seen: RTCPeerConnection[] = [];
		(window as unknown as { __seenConnections: RTCPeerConnection[] }).__seenConnections = seen;
		window.RTCPeerConnection = class extends Native {
			constructor(configuration?: RTCConfiguration) {
				super(configuration);
				seen.push(this);
			}
		};
	});
	const params = new URLSearchParams({
		room: callId,
		ws: sfu.wsUrl,
		collector: collector.url,
		app: appId,
		key: key.key!,
		user: users[name],
		interval: '1000',
		stats: 'full',
		version: name === 'alice' ? '2.4.0' : '2.5.0-beta',
		region: name === 'alice' ? 'eu-west' : 'us-east',
	});
	if (relayed) {
		const server = turn.iceServer(relay.address);
		params.set('turn', server.urls);
		params.set('turnUser', server.username);
		params.set('turnPass', server.credential);
	}
	await page.goto(`${sfuApp.url}/?${params}`, { waitUntil: 'load' });
	await page.type('#display-name', name);
	await page.click('button[type=submit]');
	pages.set(name, page);
	return page;
}

/** Everything personal the pages' real getStats() reports held. */
async function personalValues(page: Page): Promise<string[]> {
	return page.evaluate(async () => {
		const out = new Set<string>();
		for (const pc of (window as unknown as { __seenConnections: RTCPeerConnection[] }).__seenConnections) {
			const report = await pc.getStats().catch(() => undefined);
			for (const stat of (report?.values() ?? []) as IterableIterator<Record<string, unknown>>) {
				for (const field of ['address', 'ip', 'relatedAddress', 'url', 'usernameFragment', 'fingerprint', 'base64Certificate']) {
					const value = stat[field];
					if (typeof value === 'string' && value.length >= 4) out.add(value);
				}
			}
			for (const line of (pc.localDescription?.sdp ?? '').split('\r\n')) {
				const ufrag = /^a=ice-ufrag:(.+)$/.exec(line)?.[1];
				if (ufrag && ufrag.length >= 4) out.add(ufrag);
			}
		}
		return [...out];
	});
}

/** Every string column of every table telemetry goes to (the registries hold the admin's own configuration: origins, webhooks). */
async function stringColumns(): Promise<Array<{ table: string; name: string }>> {
	return query<{ table: string; name: string }>(
		`SELECT table, name FROM system.columns WHERE database = 'callswarm' AND type LIKE '%String%'
		AND table NOT IN ('schema_migrations', 'apps', 'app_keys', 'alert_rules')`,
	);
}

/** The tables and columns any of `values` appears in (substring, case-insensitive). */
async function whereStored(values: string[]): Promise<string[]> {
	const found: string[] = [];
	for (const { table, name } of await stringColumns()) {
		const [row] = await query<{ hits: string[] }>(
			`SELECT groupUniqArrayArray(arrayFilter(n -> positionCaseInsensitive(toString(\`${name}\`), n) > 0, {values:Array(String)})) AS hits
			FROM callswarm.\`${table}\``,
			{ values },
		);
		for (const hit of row?.hits ?? []) found.push(`${table}.${name}: ${hit}`);
	}
	return found;
}

beforeAll(async () => {
	sfu = await startSfu({ port: 0, logLevel: 'none' });
	sfuApp = await startSfuApp();
	collector = await startCollector({
		port: 0,
		token,
		dataDir: path.join(work, 'data'),
		keepRawReports: true,
		dashboardDir,
		logLevel: 'silent',
		alertIntervalMs: 1000,
		callSweepIntervalMs: 500,
		flushIntervalMs: 200,
	});
	turn = await TurnServer.start();
	relay = await ImpairmentRelay.open(turn.address, { ...networkPresets.perfect });
	chromium = await launchChromium();
	const received = webhook.received;
	const server = http.createServer((request, response) => {
		let body = '';
		request.on('data', (chunk) => (body += chunk));
		request.on('end', () => {
			received.push(JSON.parse(body) as AlertNotification);
			response.writeHead(204).end();
		});
	});
	await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
	webhook.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
	webhook.close = () => new Promise((resolve) => server.close(() => resolve()));
});

afterAll(async () => {
	for (const page of pages.values()) await page.close().catch(() => undefined);
	await chromium?.close();
	await relay?.close();
	await turn?.stop();
	await webhook.close();
	await collector?.close();
	await sfuApp?.close();
	await sfu?.close();
	removeDir(work);
});

describe('apps and ingest keys', () => {
	it('creates an app and its keys with the run token only', async () => {
		const app = { appId, name: 'Team call', origins: [sfuApp.url], retentionDays: 14, rawRetentionDays: 3, callIdleMinutes: 1 };
		expect((await api('POST', '/v1/apps', app, {})).status).toBe(401);
		const bad = await api<{ message: string }>('POST', '/v1/apps', { ...app, appId: 'Team Call!' });
		expect(bad.status).toBe(400);
		expect(bad.body.message).toMatch(/appId/);
		const created = await api<AppInfo>('POST', '/v1/apps', app);
		expect(created.status).toBe(201);
		expect(created.body).toMatchObject({ appId, retentionDays: 14, origins: [sfuApp.url] });
		expect((await api('POST', '/v1/apps', app)).status).toBe(409);
		const made = await api<AppKeyInfo>('POST', `/v1/apps/${appId}/keys`);
		expect(made.status).toBe(201);
		key = made.body;
		expect(key.key).toMatch(/^csk_[0-9a-f]{8}_[0-9a-f]{40}$/);
		// The key is shown once: listings carry only its id.
		const listed = await api<{ keys: AppKeyInfo[] }>('GET', `/v1/apps/${appId}/keys`);
		expect(listed.body.keys).toEqual([{ keyId: key.keyId, createdAt: key.createdAt, revokedAt: null }]);
		// An ingest key is no admin credential.
		expect((await api('POST', `/v1/apps/${appId}/keys`, undefined, { authorization: `Bearer ${key.key}` })).status).toBe(401);
	});
});

describe('a real app monitored by the SDK', () => {
	it('shows the call of two participants (from another origin) in the app view', async () => {
		await join('alice', false);
		await join('bob', true);
		const peers = async () =>
			query<{ peer: string; video: number; rtt: number }>(
				`SELECT peer_id AS peer, countIf(direction = 'inbound' AND kind = 'video' AND frames_delta > 0) AS video,
					countIf(direction = 'candidate-pair' AND rtt_ms IS NOT NULL) AS rtt
				FROM callswarm.samples WHERE app_id = {app:String} GROUP BY peer_id`,
				{ app: appId },
			);
		// Both participants decode each other's video (counted from their own data, not a clock).
		let seen: unknown = [];
		await waitFor(async () => {
			await collector.flush();
			const rows = await peers();
			seen = rows;
			return rows.length === 2 && rows.every((r) => r.video >= 3 && r.rtt >= 3);
		}, 'decoded video and RTT from both participants', 90_000).catch((error: Error) => {
			throw new Error(`${error.message}; last seen per peer: ${JSON.stringify(seen)}`);
		});
		const events = await query<{ type: string; n: number }>(
			`SELECT type, uniqExact(peer_id) AS n FROM callswarm.events WHERE app_id = {app:String} GROUP BY type`,
			{ app: appId },
		);
		expect(Object.fromEntries(events.map((e) => [e.type, Number(e.n)]))).toMatchObject({ join: 2, 'first-media': 2 });

		const view = await api<AppView>('GET', `/v1/apps/${appId}/view?range=1h`);
		expect(view.status).toBe(200);
		expect(view.body.calls.total).toBe(1);
		expect(view.body.calls.active).toBe(1);
		expect(Math.max(...view.body.calls.points.map((p) => p.participants))).toBe(2);
		for (const metric of ['rtt_ms', 'jitter_ms', 'loss_pct', 'mos']) expect(view.body.series[metric]!.length, metric).toBeGreaterThan(0);
		expect(view.body.bands.good + view.body.bands.degraded + view.body.bands.bad).toBe(1);
		expect(view.body.breakdown.version!.map((v) => v.value).sort()).toEqual(['2.4.0', '2.5.0-beta']);
		expect(view.body.breakdown.region!.map((v) => v.value).sort()).toEqual(['eu-west', 'us-east']);
		expect(view.body.breakdown.browser![0]).toMatchObject({ participants: 2 });
		expect(view.body.breakdown.browser![0]!.value).toMatch(/^Chrome \d+ \/ Linux$/);
		expect(view.body.worstCalls[0]).toMatchObject({ participants: 2 });

		// The call is a run of kind "call": the run view and its drill-downs work for it.
		const calls = await api<RunList>('GET', `/v1/runs?kind=call&app=${appId}`);
		expect(calls.body.runs).toHaveLength(1);
		const call = calls.body.runs[0]!;
		expect(call).toMatchObject({ kind: 'call', appId, status: 'running', participants: 2 });
		expect(call.runId).toMatch(new RegExp(`^${appId}\\.[0-9a-f]{16}$`));
		const runView = await api<{ summary: { participants: { joined: number } } }>('GET', `/v1/runs/${call.runId}/view`);
		expect(runView.status).toBe(200);
		// Load-test listings are not flooded with production calls.
		expect((await api<RunList>('GET', '/v1/runs')).body.runs.some((r) => r.kind === 'call')).toBe(false);
	});

	it('draws the app view in the dashboard', async () => {
		const page = await chromium.browser.newPage();
		try {
			await page.goto(`${collector.url}/#/apps/${appId}`, { waitUntil: 'load' });
			await page.waitForSelector('#app[data-state=ready]', { timeout: 30_000 });
			expect(await page.$eval('#total-calls', (e) => e.textContent)).toBe('1');
			for (const chart of ['app-participants', 'app-rtt', 'app-mos', 'app-bands']) {
				expect(Number(await page.$eval(`#${chart}`, (c) => (c as HTMLElement).dataset.points)), chart).toBeGreaterThan(0);
			}
			expect(await page.$$eval('table.calls a', (links) => links.map((l) => l.getAttribute('href')))).toHaveLength(1);
		} finally {
			await page.close();
		}
	});

	it('answers the CORS preflight for the app origin only, and needs a valid key', async () => {
		const url = `${collector.url}/v1/apps/${appId}/telemetry`;
		const preflight = (origin: string) =>
			fetch(url, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type,x-callswarm-key' } });
		const allowed = await preflight(sfuApp.url);
		expect(allowed.status).toBe(204);
		expect(allowed.headers.get('access-control-allow-origin')).toBe(sfuApp.url);
		expect(allowed.headers.get('access-control-allow-headers')).toMatch(/x-callswarm-key/);
		const refused = await preflight('https://evil.example.com');
		expect(refused.status).toBe(403);
		expect(refused.headers.get('access-control-allow-origin')).toBeNull();

		const body = JSON.stringify({ batchId: 'cors-batch-0001', callId: 'c', userId: 'u', sessionId: 's1', snapshots: [], events: [] });
		const post = (headers: Record<string, string>, query = '') => fetch(`${url}${query}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
		expect((await post({ origin: 'https://evil.example.com', 'x-callswarm-key': key.key! })).status).toBe(403);
		expect((await post({ 'x-callswarm-key': 'csk_00000000_' + '0'.repeat(40) })).status).toBe(401);
		expect((await post({})).status).toBe(401);
		// The run token is not an ingest key.
		expect((await post({ authorization: `Bearer ${token}` })).status).toBe(401);
		// sendBeacon's way: text/plain, the key in the URL.
		const beacon = await fetch(`${url}?key=${key.key}`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body });
		expect(beacon.status).toBe(202);
		const bad = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', 'x-callswarm-key': key.key! }, body: JSON.stringify({ batchId: 'x', callId: '' }) });
		expect(bad.status).toBe(400);
		expect(((await bad.json()) as { message: string }).message).toMatch(/batchId|callId/);

		// A second key, revoked: refused from then on, the first one still works.
		const second = (await api<AppKeyInfo>('POST', `/v1/apps/${appId}/keys`)).body;
		expect((await post({ 'x-callswarm-key': second.key! })).status).toBe(202);
		const revoked = await api<AppKeyInfo>('DELETE', `/v1/apps/${appId}/keys/${second.keyId}`);
		expect(revoked.body.revokedAt).toBeGreaterThan(0);
		expect((await post({ 'x-callswarm-key': second.key! })).status).toBe(401);
		expect((await post({ 'x-callswarm-key': key.key! })).status).toBe(202);
	});

	it('fires an alert into a webhook when a participant’s network is impaired, and resolves it after', async () => {
		const made = await api<{ ruleId: string }>('POST', `/v1/apps/${appId}/alerts`, {
			name: 'slow network',
			metric: 'rtt_ms',
			threshold: 'p(90)<120',
			window: '10s',
			webhook: webhook.url,
		});
		expect(made.status).toBe(201);
		const rule = made.body.ruleId;
		const state = async () => (await api<AlertList>('GET', `/v1/apps/${appId}/alerts`)).body.rules.find((r) => r.ruleId === rule)!;
		await waitFor(async () => (await state()).state === 'ok', 'the rule evaluated ok on the healthy call', 60_000);
		// The window may still hold the joins' first seconds: on a loaded machine their RTT went past the
		// threshold once (CI), and the rule fired at once and resolved the next second. That pair is the
		// rule doing its job; the impairment below is what this test follows. (A rule is ok before its
		// resolving notification has been posted.)
		if (webhook.received.length > 0) await waitFor(() => webhook.received.some((n) => n.state === 'resolved'), 'the early alert resolved', 30_000);
		const early = webhook.received.splice(0);
		expect(early.map((n) => n.state)).toEqual(early.length === 0 ? [] : ['firing', 'resolved']);

		relay.setConditions({ delayMs: 150, jitterMs: 0, lossPct: 0, rateKbps: 0 });
		const firing = await waitFor(() => webhook.received.find((n) => n.state === 'firing'), 'the firing notification', 90_000);
		expect(firing).toMatchObject({ app: appId, rule: 'slow network', metric: 'rtt_ms', threshold: 'p(90)<120', windowMs: 10_000 });
		expect(firing.value).toBeGreaterThan(120);
		expect(firing.text).toMatch(/FIRING/);
		expect((await state()).state).toBe('firing');

		relay.setConditions({ ...networkPresets.perfect });
		const resolved = await waitFor(() => webhook.received.find((n) => n.state === 'resolved'), 'the resolving notification', 90_000);
		expect(resolved.value).toBeLessThan(120);
		// The history records each change once its notification was sent.
		const list = await waitFor(async () => {
			const body = (await api<AlertList>('GET', `/v1/apps/${appId}/alerts`)).body;
			return body.history.length >= 2 + early.length && body;
		}, 'both changes in the history');
		expect(list.history.filter((h) => h.ruleId === rule).map((h) => h.state)).toEqual(['resolved', 'firing', ...early.map((n) => n.state).reverse()]);
		expect(list.history.every((h) => h.delivered)).toBe(true);
		// The app view shows the rule with its state.
		expect((await api<AppView>('GET', `/v1/apps/${appId}/view`)).body.alerts.find((a) => a.ruleId === rule)?.state).toBe('ok');
	});
});

describe('privacy', () => {
	it('stores no address, ICE username, fingerprint or raw id from the pages or from a raw-report upload', async () => {
		const personal = new Set<string>();
		for (const page of pages.values()) for (const value of await personalValues(page)) personal.add(value);
		// What Chromium reported here: host addresses, the TURN relay's, ufrags, fingerprints.
		expect([...personal].some((v) => /^\d+\.\d+\.\d+\.\d+$/.test(v))).toBe(true);
		expect([...personal].some((v) => /^[0-9A-F]{2}(:[0-9A-F]{2}){31}$/.test(v))).toBe(true);
		// A captured report with public and IPv6 addresses, posted whole (raw reports on) by a load test.
		const fixture = chromiumFixture();
		const sent = await fetch(`${collector.url}/v1/telemetry`, { method: 'POST', headers: { ...admin, 'content-type': 'application/json' }, body: JSON.stringify(batch('privacy-run', 'p0', fixture.snapshots)) });
		expect(sent.status).toBe(202);
		const fixtureText = readFileSync('test/fixtures/chromium-stats.json', 'utf8');
		for (const match of fixtureText.matchAll(/"(?:address|ip|usernameFragment|fingerprint|relatedAddress)": ?"([^"]{4,})"/g)) personal.add(match[1]!);
		personal.add(users.alice);
		personal.add(users.bob);
		personal.add(callId);
		// Short random ufrags could match hex ids by chance: the fields themselves must not be stored at all.
		for (const value of [...personal]) if (value.length < 8 && !value.includes('.')) personal.delete(value);
		for (const field of ['usernameFragment', 'relatedAddress', '"address"', '"ip"', '"fingerprint"', 'base64Certificate']) personal.add(field);
		await collector.flush();
		const [raw] = await query<{ n: number }>(`SELECT count() AS n FROM callswarm.raw_reports WHERE app_id = {app:String}`, { app: appId });
		expect(Number(raw!.n)).toBeGreaterThan(0);
		// What is kept of a candidate: its kind and whether its address was private or public.
		const [candidate] = await query<{ report: string }>(
			`SELECT report FROM callswarm.raw_reports WHERE run_id = 'privacy-run' AND position(report, 'local-candidate') > 0 LIMIT 1`,
		);
		expect(candidate!.report).toMatch(/"addressScope":"(public|private|loopback)"/);
		expect(await whereStored([...personal])).toEqual([]);
	});
});

describe('retention and erasure', () => {
	it('sets each table’s TTL, and rows carry their app’s retention', async () => {
		const tables = await query<{ name: string; engine_full: string }>(
			`SELECT name, engine_full FROM system.tables WHERE database = 'callswarm' AND engine LIKE '%MergeTree'`,
		);
		const ttl = Object.fromEntries(tables.map((t) => [t.name, /TTL (.+?)(?: SETTINGS|$)/.exec(t.engine_full)?.[1] ?? '']));
		for (const table of ['samples', 'events', 'raw_reports']) expect(ttl[table], table).toMatch(/toDateTime\(ts\) \+ toIntervalDay\(retention_days\)/);
		expect(ttl.call_participants).toMatch(/toDateTime\(last_seen\) \+ toIntervalDay\(retention_days\)/);
		for (const table of ['rollup_5s', 'peer_rollup_300s', 'app_rollup_3600s']) expect(ttl[table], table).toMatch(/bucket \+ toIntervalDay\(30\)/);
		expect(ttl.alert_events).toMatch(/toIntervalDay\(90\)/);
		const kept = await query<{ t: string; days: number[] }>(
			`SELECT 'samples' AS t, groupUniqArray(retention_days) AS days FROM callswarm.samples WHERE app_id = {app:String}
			UNION ALL SELECT 'events', groupUniqArray(retention_days) FROM callswarm.events WHERE app_id = {app:String}
			UNION ALL SELECT 'raw_reports', groupUniqArray(retention_days) FROM callswarm.raw_reports WHERE app_id = {app:String}
			UNION ALL SELECT 'call_participants', groupUniqArray(retention_days) FROM callswarm.call_participants WHERE app_id = {app:String}`,
			{ app: appId },
		);
		expect(Object.fromEntries(kept.map((k) => [k.t, k.days.map(Number)]))).toEqual({ samples: [14], events: [14], raw_reports: [3], call_participants: [14] });
	});

	it('deletes a user from every table and rollup, and keeps the other participant', async () => {
		// Leaving the call: the SDK sends what is left, then the page goes.
		for (const page of pages.values()) {
			await page.evaluate(() => (window as unknown as { monitorSession: { stop(): Promise<void> } }).monitorSession.stop());
			await page.close();
		}
		pages.clear();
		await collector.flush();
		const peerOf = async (user: string) => {
			const [row] = await query<{ peer: string }>(
				`SELECT any(peer_id) AS peer FROM callswarm.call_participants WHERE app_id = {app:String} AND user_id = {user:String}`,
				{ app: appId, user: collector.production.registry.userHash(collector.production.registry.get(appId)!, user) },
			);
			return row!.peer;
		};
		const [bob, alice] = [await peerOf(users.bob), await peerOf(users.alice)];
		const counts = async (peer: string) => {
			const [row] = await query<Record<string, number>>(
				`SELECT (SELECT count() FROM callswarm.samples WHERE peer_id = {peer:String}) AS samples,
					(SELECT count() FROM callswarm.events WHERE peer_id = {peer:String}) AS events,
					(SELECT count() FROM callswarm.raw_reports WHERE peer_id = {peer:String}) AS raw_reports,
					(SELECT uniqExact(run_id, peer_id) FROM callswarm.call_participants WHERE peer_id = {peer:String}) AS call_participants,
					(SELECT countMerge(samples) FROM callswarm.peer_rollup_5s WHERE peer_id = {peer:String}) AS peer_rollup`,
				{ peer },
			);
			return Object.fromEntries(Object.entries(row!).map(([k, v]) => [k, Number(v)]));
		};
		const before = await counts(bob);
		const aliceBefore = await counts(alice);
		expect(Math.min(...Object.values(before))).toBeGreaterThan(0);

		const report = await api<DeletionReport>('POST', `/v1/apps/${appId}/deletions`, { userId: users.bob });
		expect(report.status).toBe(200);
		expect(report.body).toMatchObject({ appId, what: 'user', calls: 1 });
		expect(report.body.rows).toMatchObject({ samples: before.samples, events: before.events, raw_reports: before.raw_reports });
		expect(report.body.rows.call_participants).toBeGreaterThan(0);
		expect(report.body.rebuilt).toEqual(['run rollups', 'peer rollups', 'app rollups']);

		expect(await counts(bob)).toEqual({ samples: 0, events: 0, raw_reports: 0, call_participants: 0, peer_rollup: 0 });
		expect(await counts(alice)).toEqual(aliceBefore);
		// The aggregates hold exactly what is left: the rollups count the remaining samples.
		const [check] = await query<{ samples: number; run_rollup: number; app_rollup: number }>(
			`SELECT (SELECT count() FROM callswarm.samples WHERE app_id = {app:String}) AS samples,
				(SELECT countMerge(samples) FROM callswarm.rollup_300s WHERE run_id IN (SELECT run_id FROM callswarm.runs WHERE app_id = {app:String})) AS run_rollup,
				(SELECT countMerge(samples) FROM callswarm.app_rollup_3600s WHERE app_id = {app:String}) AS app_rollup`,
			{ app: appId },
		);
		expect(Number(check!.run_rollup)).toBe(Number(check!.samples));
		expect(Number(check!.app_rollup)).toBe(Number(check!.samples));
		// Erasing a whole call removes the rest, and the call itself.
		const wholeCall = await api<DeletionReport>('POST', `/v1/apps/${appId}/deletions`, { callId });
		expect(wholeCall.body.rows.samples).toBe(aliceBefore.samples);
		expect(await counts(alice)).toEqual({ samples: 0, events: 0, raw_reports: 0, call_participants: 0, peer_rollup: 0 });
		const erased = collector.production.registry.callKey(collector.production.registry.get(appId)!, callId);
		expect((await api<RunList>('GET', `/v1/runs?kind=call&app=${appId}`)).body.runs.map((r) => r.runId)).not.toContain(erased);
		const bad = await api<{ message: string }>('POST', `/v1/apps/${appId}/deletions`, { userId: '' });
		expect(bad.status).toBe(400);
	});
});

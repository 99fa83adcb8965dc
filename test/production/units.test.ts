import { describe, expect, it } from 'vitest';
import { translateAppBatch } from '../../collector/apps/AppBatch.ts';
import { edgeHashed } from '../../collector/apps/AppRegistry.ts';
import { CallTracker } from '../../collector/apps/CallTracker.ts';
import { AppViews, callBand } from '../../collector/queries/AppViews.ts';
import type { AppRow } from '../../collector/store/tables.ts';
import { AlertRuleCreate, AppTelemetryBatch, DeletionRequest, parseAlertRuleText } from '../../protocol/apps.ts';
import { classifyAddress, coarseUserAgent, redactStats, statsAllowList } from '../../protocol/redaction.ts';
import { GeneratorProcessStats } from '../../protocol/telemetry.ts';
import { callSampledIn, edgeHashInput, edgeHashPrefix } from '../../protocol/sdk.ts';
import { chromiumFixture } from '../helpers/telemetry.ts';

describe('redaction', () => {
	const stats = chromiumFixture().snapshots.flatMap((s) => s.stats as Array<Record<string, unknown>>);

	it('keeps no address, port, ICE username, fingerprint or certificate of a real report', () => {
		for (const mode of ['known', 'full'] as const) {
			const text = JSON.stringify(redactStats(stats, mode));
			for (const personal of ['192.0.2.2', 'fd00::2', '127.0.0.1', 'usernameFragment', 'relatedAddress', '"port"', '"address"', '"ip"', '"url"', 'base64Certificate', 'fingerprint"']) {
				expect(text, `${mode}: ${personal}`).not.toContain(personal);
			}
			// Certificate ids are made of the fingerprint in Chromium.
			expect(text).not.toMatch(/[0-9A-F]{2}(:[0-9A-F]{2}){31}/);
		}
	});

	it('keeps what quality analysis needs of a candidate: type, protocol, family and scope', () => {
		const candidates = redactStats(stats, 'full').filter((s) => s.type === 'local-candidate' || s.type === 'remote-candidate');
		expect(candidates.length).toBeGreaterThan(0);
		for (const c of candidates) {
			expect(c).toHaveProperty('candidateType');
			expect(['ipv4', 'ipv6', 'mdns', 'unknown']).toContain(c.addressFamily);
		}
		expect(new Set(candidates.map((c) => c.addressScope))).toEqual(new Set(['public', 'private', 'loopback']));
	});

	it('drops types and fields nobody listed (what a future browser adds stays home)', () => {
		const out = redactStats([{ type: 'inbound-rtp', id: 'a', packetsReceived: 1, deviceLabel: 'Jane’s AirPods' }, { type: 'media-device', label: 'FaceTime HD' }], 'full');
		expect(out).toEqual([{ type: 'inbound-rtp', id: 'a', packetsReceived: 1 }]);
		expect(Object.values(statsAllowList).flat()).not.toContain('label');
	});

	it('keeps every field of callswarm\'s own generator health (listed by hand there: pages bundle the list without zod)', () => {
		expect(statsAllowList['generator-process']).toEqual(expect.arrayContaining(Object.keys(GeneratorProcessStats.shape)));
	});

	it('classifies addresses without keeping them', () => {
		expect(classifyAddress('10.1.2.3')).toEqual({ addressFamily: 'ipv4', addressScope: 'private' });
		expect(classifyAddress('100.64.0.1').addressScope).toBe('private');
		expect(classifyAddress('8.8.8.8')).toEqual({ addressFamily: 'ipv4', addressScope: 'public' });
		expect(classifyAddress('169.254.1.1').addressScope).toBe('link-local');
		expect(classifyAddress('2a00:1450::1')).toEqual({ addressFamily: 'ipv6', addressScope: 'public' });
		expect(classifyAddress('fd00::2').addressScope).toBe('private');
		expect(classifyAddress('fe80::1').addressScope).toBe('link-local');
		expect(classifyAddress('::ffff:192.168.1.4').addressScope).toBe('private');
		expect(classifyAddress('0f3c9a1e-8b7d.local')).toEqual({ addressFamily: 'mdns', addressScope: 'mdns' });
		expect(classifyAddress(undefined).addressFamily).toBe('unknown');
	});

	it('cuts user agents down to browser major version and OS', () => {
		expect(coarseUserAgent('Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.6778.85 Safari/537.36')).toBe('Chrome 131 / Linux');
		expect(coarseUserAgent('Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0')).toBe('Firefox 128 / Windows');
		expect(coarseUserAgent('Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1')).toBe('Safari 17 / iOS');
		expect(coarseUserAgent('Mozilla/5.0 (Windows NT 10.0) AppleWebKit/537.36 Chrome/120.0 Safari/537.36 Edg/120.0.1')).toBe('Edge 120 / Windows');
		expect(coarseUserAgent(undefined)).toBe('');
	});
});

describe('ids and sampling', () => {
	it('hashes ids at the collector exactly as the SDK does in the page', async () => {
		const digest = await globalThis.crypto.subtle.digest('SHA-256', new TextEncoder().encode(edgeHashInput('acme', 'user-42')));
		const inPage = edgeHashPrefix + Buffer.from(digest).toString('hex');
		expect(edgeHashed('acme', 'user-42')).toBe(inPage);
		expect(edgeHashed('acme', inPage)).toBe(inPage);
		expect(edgeHashed('other-app', 'user-42')).not.toBe(inPage);
	});

	it('samples a share of calls, the same answer for every participant of a call', () => {
		const ids = Array.from({ length: 20_000 }, (_, i) => edgeHashed('acme', `call-${i}`));
		const share = ids.filter((id) => callSampledIn(id, 0.25)).length / ids.length;
		expect(share).toBeGreaterThan(0.23);
		expect(share).toBeLessThan(0.27);
		expect(ids.every((id) => callSampledIn(id, 0.25) === callSampledIn(id, 0.25))).toBe(true);
		expect(callSampledIn(ids[0]!, 1)).toBe(true);
		expect(callSampledIn(ids[0]!, 0)).toBe(false);
	});
});

describe('calls end by themselves', () => {
	it('ends a call after its app’s idle time, keeps its start when it resumes', () => {
		const tracker = new CallTracker((app) => (app === 'slow' ? 600_000 : 60_000));
		const ended: string[] = [];
		tracker.on('ended', (call) => ended.push(`${call.callKey}:${call.participants}`));
		expect(tracker.touch('acme', 'acme.1', 'p1', 1000, 1000)).toEqual({ fresh: true, startedAt: 1000, peerFirstSeen: 1000 });
		expect(tracker.touch('acme', 'acme.1', 'p2', 5000, 5000).fresh).toBe(false);
		tracker.touch('slow', 'slow.1', 'p1', 1000, 1000);
		expect(tracker.active('acme')).toBe(1);
		tracker.sweep(60_000);
		expect(ended).toEqual([]);
		tracker.sweep(65_001);
		expect(ended).toEqual(['acme.1:2']);
		expect(tracker.active('acme')).toBe(0);
		expect(tracker.active('slow')).toBe(1);
		// Data again: the call runs again, from its first start; a participant keeps when it was first seen.
		expect(tracker.touch('acme', 'acme.1', 'p1', 70_000, 70_000)).toEqual({ fresh: true, startedAt: 1000, peerFirstSeen: 1000 });
	});
});

describe('a page clock gone wrong', () => {
	it('holds neither the call open nor its participant row past the retention with times the normaliser refuses', () => {
		const now = Date.now();
		const day = 86_400_000;
		const app: AppRow = { app_id: 'acme', name: 'Acme', salt: 's'.repeat(32), origins: '[]', retention_days: 14, raw_retention_days: 3, sample_share: 1, call_idle_minutes: 5, created_at: now, updated_at: now, deleted: 0 };
		const page = AppTelemetryBatch.parse({
			batchId: 'batch-0001',
			callId: 'call-1',
			userId: 'user-1',
			sessionId: 's1',
			snapshots: [now - 20 * day, now - 60_000, now + 3 * day].map((ts) => ({ ts, pc: 'pc0', stats: [] })),
			events: [{ type: 'join', ts: now - 30_000 }, { type: 'join', ts: now + 365 * day }],
		});
		const translated = translateAppBatch(app, page, undefined, now)!;
		expect([translated.call.firstTs, translated.call.lastTs]).toEqual([now - 60_000, now - 30_000]);
		// Nothing taken: the call is placed at the time it arrived.
		const none = translateAppBatch(app, { ...page, snapshots: [], events: [{ type: 'join', ts: now + 2 * day }] }, undefined, now)!;
		expect([none.call.firstTs, none.call.lastTs]).toEqual([now, now]);
	});
});

describe('alert rules', () => {
	it('reads "metric: threshold over window" and checks it as a scenario threshold', () => {
		expect(parseAlertRuleText('mos: p(5)>3.5 over 5m')).toEqual({ metric: 'mos', threshold: 'p(5)>3.5', window: '5m' });
		expect(parseAlertRuleText('join_failed: rate<0.02 over 10m')).toEqual({ metric: 'join_failed', threshold: 'rate<0.02', window: '10m' });
		expect(parseAlertRuleText('mos p(5)>3.5')).toBeUndefined();
		expect(AlertRuleCreate.parse({ name: 'n', metric: 'loss_pct', threshold: 'avg<2', window: '1m' }).window).toBe(60_000);
		const rate = AlertRuleCreate.safeParse({ name: 'n', metric: 'loss_pct', threshold: 'rate<2', window: '1m' });
		expect(rate.success).toBe(false);
		expect(rate.error!.issues[0]!.path).toEqual(['threshold']);
		expect(AlertRuleCreate.safeParse({ name: 'n', metric: 'mos', threshold: 'p(5)>3.5', window: '5s' }).error?.issues[0]?.message).toMatch(/at least 10s/);
		expect(AlertRuleCreate.safeParse({ name: 'n', metric: 'nope', threshold: 'avg<1', window: '1m' }).success).toBe(false);
		expect(DeletionRequest.safeParse({ userId: 'u', callId: 'c' }).success).toBe(false);
	});
});

describe('app view windows', () => {
	it('reads the finest app rollup that keeps a chart under 200 points', () => {
		expect(AppViews.resolution(3600_000)).toEqual({ bucket: 60, level: 60 });
		expect(AppViews.resolution(86_400_000)).toEqual({ bucket: 900, level: 900 });
		expect(AppViews.resolution(7 * 86_400_000)).toEqual({ bucket: 3600, level: 3600 });
		expect(AppViews.resolution(90 * 86_400_000).bucket).toBe(39_600);
		expect(AppViews.window({ range: '1d' }, 100 * 86_400_000)).toEqual({ from: 99 * 86_400_000, to: 100 * 86_400_000 });
		expect(AppViews.window({ from: 1000, to: 2000 })).toEqual({ from: 1000, to: 61_000 });
	});

	it('puts a call in the worst band any of its averages reaches', () => {
		expect(callBand({ mos: 4.3, lossPct: 0.1, rttMs: 40, jitterMs: 5 })).toBe('good');
		expect(callBand({ mos: 4.3, lossPct: 2, rttMs: 40, jitterMs: 5 })).toBe('degraded');
		expect(callBand({ mos: 3.2, lossPct: 0, rttMs: 40, jitterMs: 5 })).toBe('bad');
		expect(callBand({ mos: null, lossPct: null, rttMs: 400, jitterMs: null })).toBe('bad');
	});
});

/**
 * How a run's verdict reads when it is not about the call: an abortOnFail threshold on a metric
 * that has no data yet, a load generator that saturates, a scenario too big for the machine.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { botCosts } from '../../loadgen/sizing/costs.ts';
import { estimate, receiveCores, receivedProfile } from '../../loadgen/sizing/preflight.ts';
import { Scenario } from '../../protocol/scenario.ts';
import { removeDir } from '../helpers/tempDir.ts';

const exec = promisify(execFile);
const work = mkdtempSync(path.join(os.tmpdir(), 'callswarm-verdicts-'));
afterAll(() => removeDir(work));

async function callswarm(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
	return exec(process.execPath, ['bin/callswarm.js', ...args], { timeout: 240_000, maxBuffer: 16 << 20 }).then(
		(r) => ({ code: 0, ...r }),
		(e: { code?: number; stdout?: string; stderr?: string }) => ({ code: e.code ?? -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' }),
	);
}

interface Summary {
	status: string;
	statusReason: string;
	stop: { kind: string };
	overloaded?: { process: string; reason: string };
	thresholds: Array<{ metric: string; ok: boolean; value: number | null; samples: number }>;
}

const summaryOf = (out: string) => JSON.parse(readFileSync(path.join(out, 'summary.json'), 'utf8')) as Summary;

describe('abortOnFail', () => {
	it('does not abort on a metric with no data; the end-of-run verdict still fails it', async () => {
		const out = path.join(work, 'no-data');
		const { code, stdout } = await callswarm(['run', 'test/fixtures/scenarios/abort-no-data.ts', '--data-dir', path.join(work, 'data'), '--out', out]);
		const summary = summaryOf(out);
		expect(summary.stop.kind, stdout).toBe('completed');
		expect(stdout).not.toContain('stopping:');
		expect(summary.thresholds.find((t) => t.metric === 'fps')).toMatchObject({ ok: false, value: null, samples: 0 });
		expect(summary.status).toBe('failed');
		expect(code).toBe(99);
	});
});

describe('a saturated load generator', () => {
	it('marks the run invalid (exit 3) and names the runner, not the call', async () => {
		const out = path.join(work, 'busy');
		const { code, stdout } = await callswarm(['run', 'test/fixtures/scenarios/busy-runner.ts', '--data-dir', path.join(work, 'data'), '--out', out]);
		expect(code, stdout).toBe(3);
		expect(stdout).toContain('INVALID');
		expect(stdout).toContain('the load generator itself saturated');
		const summary = summaryOf(out);
		expect(summary.status).toBe('invalid');
		expect(summary.overloaded).toMatchObject({ process: 'runner', reason: expect.stringContaining('event-loop lag') });
		expect(summary.statusReason).toMatch(/^load generator overloaded at \d/);
		expect(readFileSync(path.join(out, 'junit.xml'), 'utf8')).toContain('name="load generator not saturated"');
	});
});

describe('preflight sizing', () => {
	const big = Scenario.parse({
		name: 'thirty-browsers',
		rooms: { count: 5 },
		participants: [{ bot: 'browser', count: 6, publish: '360p30' }],
		schedule: { executor: 'constant-vus', vus: 30, duration: '1m' },
	});

	it('says a 30-browser-bot scenario does not fit a 2-core machine, and what would', () => {
		const sizing = estimate(big, { bundledSfu: true, localCollector: true, machine: { cores: 2, memoryBytes: 24 * 2 ** 30 } });
		expect(sizing.peakParticipants).toBe(30);
		expect(sizing.fits).toBe(false);
		expect(sizing.cores).toBeGreaterThan(5);
		expect(sizing.machinesNeeded).toBeGreaterThan(3);
		expect(sizing.advice).toContain('lite bots');
		expect(sizing.advice).toContain(`--shard i/${sizing.machinesNeeded}`);
		// Cost grows with room size: the same 30 bots in rooms of 2 need less.
		const pairs = estimate(Scenario.parse({ ...big, rooms: { count: 15 }, participants: [{ bot: 'browser', count: 2, publish: '360p30' }] }), {
			bundledSfu: true,
			localCollector: true,
			machine: { cores: 2, memoryBytes: 24 * 2 ** 30 },
		});
		expect(pairs.cores).toBeLessThan(sizing.cores);
		// A browser pays most for the first stream of each kind: in rooms of 6 each bot receives 4 more videos and 4 more voices than in pairs.
		const botsCores = (s: typeof sizing) => s.lines.filter((l) => l.bots?.role === 'browser' && l.bots.count > 0).reduce((sum, l) => sum + l.cores, 0);
		const { receiveAudioCores, receiveVideoCores, e2eExtra } = botCosts.browser;
		// Delay marks on video, the default, add their share to all of a bot's cost.
		const marked = 1 + e2eExtra.video;
		expect(botsCores(sizing) - botsCores(pairs)).toBeCloseTo(30 * 4 * (receiveVideoCores['360p30'].further + receiveAudioCores.further) * marked, 10);
		expect(botsCores(pairs)).toBeCloseTo(30 * (botCosts.browser.sendCores['360p30'] + receiveVideoCores['360p30'].first + receiveAudioCores.first) * marked, 10);
		// A shard carries its own part.
		const shard = estimate(big, { shard: { index: 1, count: 4 }, bundledSfu: false, localCollector: false, machine: { cores: 2, memoryBytes: 24 * 2 ** 30 } });
		expect(shard.peakParticipants).toBe(8);
		// Last-N and top-N audio: streams held back at the SFU cost receivers nothing.
		const selective = estimate(Scenario.parse({ ...big, participants: [{ bot: 'browser', count: 6, publish: '360p30', lastN: 1, audioTopN: 1 }] }), {
			bundledSfu: true,
			localCollector: true,
			machine: { cores: 2, memoryBytes: 24 * 2 ** 30 },
		});
		const sfuConsumers = (s: typeof sizing) => Number(/bundled SFU \((\d+) consumers\)/.exec(s.lines.map((l) => l.what).join(' '))?.[1]);
		// Each of 30 receives 1 of 5 cameras and 1 of 5 microphones.
		expect(sfuConsumers(sizing)).toBe(300);
		expect(sfuConsumers(selective)).toBe(60);
		expect(selective.cores).toBeLessThan(sizing.cores);
	});

	it("prices a browser's first stream of each kind above each one more, whatever the order of profiles; lite bots and viewers pay alike for each", () => {
		const { receiveAudioCores: audio, receiveVideoCores: video } = botCosts.browser;
		expect(receiveCores('browser', [])).toBe(0);
		expect(receiveCores('browser', ['audio'])).toBeCloseTo(audio.first, 10);
		expect(receiveCores('browser', Array.from({ length: 8 }, () => 'audio' as const))).toBeCloseTo(audio.first + 7 * audio.further, 10);
		// A 720p30 stream beside 180p15 ones: each one more's price, and the larger premium of a first once, in any order.
		const premium = (p: '180p15' | '720p30') => video[p].first - video[p].further;
		const mixed = video['180p15'].further * 2 + video['720p30'].further + Math.max(premium('180p15'), premium('720p30'));
		expect(receiveCores('browser', ['180p15', '720p30', '180p15'])).toBeCloseTo(mixed, 10);
		expect(receiveCores('browser', ['720p30', '180p15', '180p15'])).toBeCloseTo(mixed, 10);
		expect(receiveCores('lite', ['360p30', '360p30'])).toBeCloseTo(2 * botCosts.lite.receiveVideoCores['360p30'], 10);
		expect(receiveCores('viewer', ['audio', 'audio', 'audio'])).toBeCloseTo(3 * botCosts.viewer.receiveAudioCores, 10);
	});

	it("prices a layer below a simulcast or SVC sender's top as the profile a rung down per step, never below the smallest", () => {
		const [camera360, camera720, svc360, single360] = Scenario.parse({
			name: 'layers',
			participants: [
				{ name: 'camera360', bot: 'browser', count: 1, publish: '360p30', simulcast: true },
				{ name: 'camera720', bot: 'browser', count: 1, publish: '720p30', simulcast: true },
				{ name: 'svc360', bot: 'browser', count: 1, publish: '360p30', simulcast: true, codec: 'VP9' },
				{ name: 'single360', bot: 'browser', count: 1, publish: '360p30' },
			],
			schedule: { executor: 'constant-vus', vus: 4, duration: '1m' },
		}).participants;
		// 640x360 in two simulcast layers: the low one (and "medium", the middle of two rounded down) is 320x180.
		expect(['low', 'medium', 'high', 'auto'].map((layer) => receivedProfile(camera360!, layer as 'low'))).toEqual(['180p15', '180p15', '360p30', '360p30']);
		// 1280x720 in three: 320x180, 640x360, 1280x720.
		expect(['low', 'medium', 'high', 'auto'].map((layer) => receivedProfile(camera720!, layer as 'low'))).toEqual(['180p15', '360p30', '720p30', '720p30']);
		// VP9 SVC has three spatial layers at any size: 360p's low one (90p) is priced as the smallest profile.
		expect(['low', 'medium', 'auto'].map((layer) => receivedProfile(svc360!, layer as 'low'))).toEqual(['180p15', '180p15', '360p30']);
		// One layer: every receiver gets all of it.
		expect(receivedProfile(single360!, 'low')).toBe('360p30');

		// Lite viewers of a simulcast speaker's low layer pay for a 180p stream, not the speaker's 360p30.
		const viewers = (layer: 'low' | 'auto') =>
			estimate(
				Scenario.parse({
					name: 'thumbnails',
					participants: [
						{ name: 'speaker', bot: 'browser', count: 1, publish: '360p30', simulcast: true, subscribe: 'none' },
						{ name: 'viewers', bot: 'lite', count: 10, publish: 'none', subscribe: 'video', layer },
					],
					schedule: { executor: 'constant-vus', vus: 11, duration: '1m' },
				}),
				{ bundledSfu: false, localCollector: false, machine: { cores: 2, memoryBytes: 8 * 2 ** 30 } },
			).lines.find((line) => line.what.includes('"viewers"'))!.cores;
		expect(viewers('low')).toBeCloseTo(10 * botCosts.lite.receiveVideoCores['180p15'], 10);
		expect(viewers('auto')).toBeCloseTo(10 * botCosts.lite.receiveVideoCores['360p30'], 10);
	});

	it('sizes viewers at their own cost, a fraction of a lite receiver', () => {
		const audience = (bot: 'viewer' | 'lite') =>
			estimate(
				Scenario.parse({
					name: 'audience',
					participants: [{ name: 'stage', bot: 'lite', count: 1, publish: '180p15' }, { name: 'audience', bot, count: 200, publish: 'none' }],
					schedule: { executor: 'constant-vus', vus: 201, duration: '1m' },
				}),
				{
					bundledSfu: false,
					localCollector: false,
					machine: { cores: 2, memoryBytes: 24 * 2 ** 30 },
				},
			).lines.find((l) => l.what.includes('"audience"'))!;
		const viewers = audience('viewer');
		const lite = audience('lite');
		expect(viewers.what).toContain('200 viewer bots');
		// 200 × (audio 0.0013 + 180p15 video 0.0007) cores.
		expect(viewers.cores).toBeCloseTo(0.4, 5);
		expect(viewers.cores).toBeLessThan(lite.cores / 3);
		expect(viewers.mib).toBeLessThan(lite.mib);
	});

	it('counts what delay marks cost: browser bots by the kinds they mark, lite bots only when they send marked media', () => {
		const machine = { cores: 2, memoryBytes: 24 * 2 ** 30 };
		const groupOf = (e2e: unknown, bot: 'browser' | 'lite') =>
			estimate(Scenario.parse({ ...big, participants: [{ name: 'g', bot, count: 6, publish: '360p30' }], ...(e2e === undefined ? {} : { e2e }) }), {
				bundledSfu: false,
				localCollector: false,
				machine,
			}).lines.find((l) => l.what.includes('"g"'))!;
		const unmarked = groupOf(false, 'browser');
		// Video marks are on by default.
		expect(groupOf(undefined, 'browser').cores / unmarked.cores).toBeCloseTo(1.075, 5);
		expect(groupOf(true, 'browser').cores / unmarked.cores).toBeCloseTo(1.245, 5);
		expect(groupOf({ video: false, audio: true }, 'browser').cores / unmarked.cores).toBeCloseTo(1.17, 5);
		// Lite bots send shared pre-encoded media unless the scenario names e2e.
		const lite = groupOf(false, 'lite');
		expect(groupOf(undefined, 'lite')).toEqual(lite);
		const marked = groupOf(true, 'lite');
		expect(marked.cores).toBeGreaterThan(lite.cores);
		// Six in each of five rooms.
		expect(marked.mib - lite.mib).toBeCloseTo(30 * 2.7, 5);
		expect(groupOf({ video: true, lite: false }, 'lite')).toEqual(lite);
	});

	it("counts a browser's own processes beyond what its pages' figures hold: a page to a browser costs more than four", () => {
		const pages = (pagesPerBrowser: number, count = 4) =>
			estimate(Scenario.parse({ name: 'pages', pagesPerBrowser, participants: [{ bot: 'browser', count, publish: '360p30' }], schedule: { executor: 'constant-vus', vus: count, duration: '1m' } }), {
				bundledSfu: false,
				localCollector: false,
				machine: { cores: 8, memoryBytes: 24 * 2 ** 30 },
			});
		const shared = pages(4);
		const alone = pages(1);
		const browsersLine = (sizing: ReturnType<typeof estimate>) => sizing.lines.find((l) => /^\d+ browsers? \(/.test(l.what))!;
		expect(browsersLine(shared).cores).toBe(0);
		expect(browsersLine(alone).what).toMatch(/^4 browsers/);
		expect(browsersLine(alone).cores).toBeCloseTo(4 * 0.75 * botCosts.browser.browserWideCores['360p30'], 5);
		expect(alone.cores - shared.cores).toBeCloseTo(3 * botCosts.browser.browserWideCores['360p30'], 5);
		// More pages than were measured to a browser are not counted below their figures.
		expect(browsersLine(pages(8, 8)).cores).toBe(0);
	});

	it('finds the peak of a messenger-sized arrival-rate run: the rate times the hold, and a shard its share', () => {
		// 36 000 places arriving at 10 a second for an hour, each staying 10 minutes: 6 000 in calls at once from 10 min on.
		const crowd = Scenario.parse({
			name: 'crowd',
			rooms: { count: 360 },
			participants: [{ bot: 'viewer', count: 100, subscribe: 'audio' }],
			schedule: { executor: 'ramping-arrival-rate', startRate: 10, timeUnit: '1s', stages: [{ duration: '1h', target: 10 }], holdTime: '10m' },
		});
		const options = { bundledSfu: false, localCollector: false, machine: { cores: 2, memoryBytes: 24 * 2 ** 30 } };
		// Arrivals are seen on the preflight's grid (1.8 s here), so a few more or fewer may be in at the peak.
		const whole = estimate(crowd, options).peakParticipants;
		expect(whole).toBeGreaterThanOrEqual(5_980);
		expect(whole).toBeLessThanOrEqual(6_020);
		const shard = estimate(crowd, { ...options, shard: { index: 2, count: 100 } }).peakParticipants;
		expect(shard).toBeGreaterThanOrEqual(59);
		expect(shard).toBeLessThanOrEqual(61);
	});

	it('counts bot processes as the drivers start them: browsers by what they publish, lite bots and viewers sharing processes', () => {
		const sizing = estimate(
			Scenario.parse({
				name: 'processes',
				pagesPerBrowser: 4,
				participants: [
					{ name: 'wifi', bot: 'browser', count: 2, publish: '180p15', network: 'wifi' },
					{ name: 'mobile', bot: 'browser', count: 2, publish: '180p15', network: '4g' },
					{ name: 'voice', bot: 'browser', count: 1, publish: 'audio-only' },
					{ name: 'stage', bot: 'lite', count: 10, publish: '180p15' },
					{ name: 'audience', bot: 'viewer', count: 1200, publish: 'none' },
				],
				schedule: { executor: 'constant-vus', vus: 1215, duration: '1m' },
			}),
			{ bundledSfu: false, localCollector: false, machine: { cores: 2, memoryBytes: 24 * 2 ** 30 } },
		);
		const line = (start: string) => sizing.lines.find((l) => l.what.includes(start))!;
		// The two 180p15 groups fill one browser together; the audio-only page gets its own.
		expect(line('browsers (').what).toMatch(/^2 browsers/);
		expect(line('browsers (').mib).toBe(2 * 450);
		// The 180p15 browser's four pages hold its own processes' cost; the lone audio-only page holds a quarter of its browser's.
		expect(line('browsers (').cores).toBeCloseTo(0.75 * botCosts.browser.browserWideCores['audio-only'], 5);
		// 10 lite bots at 50 a process and 1200 viewers at 500: 0.2 + 2.4 of a process, so 3.
		expect(line('lite-bot process').what).toMatch(/^3 lite-bot processes/);
		expect(line('lite-bot process').mib).toBe(3 * 90);
		// Group lines carry the bots' own memory only.
		expect(line('"audience"').mib).toBe(1200 * 1);
		expect(line('"wifi"').mib).toBe(2 * 62);
		// Few lite bots still get one process per core, as the driver starts them before the schedule.
		const few = estimate(Scenario.parse({ name: 'few', participants: [{ bot: 'lite', count: 3, publish: 'audio-only' }], schedule: { executor: 'constant-vus', vus: 3, duration: '1m' } }), {
			bundledSfu: false,
			localCollector: false,
			machine: { cores: 2, memoryBytes: 24 * 2 ** 30 },
		});
		expect(few.lines.find((l) => l.what.includes('lite-bot process'))!.what).toMatch(/^2 lite-bot processes/);
		expect(few.lines.some((l) => l.what.includes('browser'))).toBe(false);
	});

	describe('joins close together', () => {
		const twoCores = { bundledSfu: true, localCollector: true, machine: { cores: 2, memoryBytes: 24 * 2 ** 30 } };
		const four = (schedule: unknown, bot = 'browser') =>
			Scenario.parse({ name: 'four', rooms: { count: 1 }, participants: [{ bot, count: 4, publish: '180p15' }], schedule });
		const atOnce = { executor: 'constant-vus', vus: 4, duration: '1m30s' };

		it('says four browser bots joining at once do not fit a 2-core machine, though the call does, and how many joins would', () => {
			const sizing = estimate(four(atOnce), twoCores);
			expect(sizing.fits).toBe(true);
			const { joins } = sizing;
			expect(joins).toMatchObject({ count: 4, atMs: 0, windowMs: 5000, limitCores: 1.9, fits: false, fitting: 2 });
			// 4 × 1.85 CPU s over 5 s, and the four calls in progress.
			expect(joins.cores).toBeCloseTo(4 * 0.37 + sizing.cores, 5);
			expect(joins).toMatchObject({ byKind: { browser: 4, lite: 0, viewer: 0 } });
			expect(joins.cpuSeconds).toBeCloseTo(4 * 1.85, 5);
			expect(joins.advice).toMatch(/^4 browser bots join within 5s \(at the start\)\. A browser bot's join costs about 1\.85 CPU seconds at once/);
			expect(joins.advice).toContain('at most 2 browser joins per 5s here');
		});

		it('finds the densest window mid-run, and lets joins that come far enough apart through', () => {
			// 2 early, then 2 within the same second at 30 s: the burst is the second pair.
			const late = estimate(
				four({ executor: 'ramping-vus', stages: [{ duration: '20s', target: 2 }, { duration: '10s', target: 2 }, { duration: '1s', target: 4 }, { duration: '30s', target: 4 }] }),
				twoCores,
			);
			expect(late.joins.count).toBe(2);
			expect(late.joins.atMs).toBeGreaterThanOrEqual(30_000);
			expect(late.joins.atMs).toBeLessThan(31_000);
			// What the shipped impaired-3g does: 6 s apart, one join per window.
			const spread = estimate(four({ executor: 'ramping-vus', stages: [{ duration: '24s', target: 4 }, { duration: '1m', target: 4 }] }), twoCores);
			expect(spread.joins).toMatchObject({ count: 1, fits: true, advice: '' });
			// A lone join's window still says what that join costs.
			expect(spread.joins.cpuSeconds).toBeCloseTo(botCosts.browser.joinCpuSeconds, 5);
			// A bigger machine carries the burst; four lite bots' joins are light.
			expect(estimate(four(atOnce), { ...twoCores, machine: { cores: 8, memoryBytes: 24 * 2 ** 30 } }).joins.fits).toBe(true);
			const lite = estimate(four(atOnce, 'lite'), twoCores).joins;
			expect(lite).toMatchObject({ count: 4, byKind: { browser: 0, lite: 4, viewer: 0 }, fits: true, advice: '' });
			expect(lite.cpuSeconds).toBeCloseTo(4 * botCosts.lite.joinCpuSeconds, 5);
			// A shard counts its own joins: two of the four here.
			expect(estimate(four(atOnce), { ...twoCores, shard: { index: 1, count: 2 } }).joins.count).toBe(2);
		});

		it('weighs every kind of join by its cost: lite bots encoding their marked media, a crowd of viewers beside browsers', () => {
			// Ten lite bots marking 360p30 media encode it as they join: 0.9 CPU s each.
			const marked = Scenario.parse({
				name: 'marked',
				e2e: { video: true, lite: true },
				participants: [{ bot: 'lite', count: 10, publish: '360p30', subscribe: 'none' }],
				schedule: { ...atOnce, vus: 10 },
			});
			const joins = estimate(marked, twoCores).joins;
			expect(joins).toMatchObject({ count: 10, byKind: { lite: 10 }, fits: false });
			expect(joins.cpuSeconds).toBeCloseTo(10 * botCosts.lite.e2eJoinCpuSeconds['360p30'], 5);
			expect(joins.advice).toMatch(/^10 lite bots join within 5s \(at the start\)\. A lite bot's join costs about 0\.9 CPU seconds at once/);
			expect(joins.advice).toMatch(/at most [1-9] lite joins per 5s here/);
			// Without marks the same joins are a ninth of that and fit.
			expect(estimate({ ...marked, e2e: { video: true, audio: false, lite: false } }, twoCores).joins).toMatchObject({ count: 10, fits: true });

			// Two browsers and 90 viewers at once: the call fits, the browsers' joins alone would
			// (3.7 CPU s over 5 s beside it), the viewers' 0.9 CPU s more tips it over.
			const crowd = (schedule: unknown) =>
				Scenario.parse({
					name: 'crowd',
					participants: [
						{ name: 'stage', bot: 'browser', count: 2, publish: '180p15' },
						{ name: 'audience', bot: 'viewer', count: 90 },
					],
					schedule,
				});
			const together = estimate(crowd({ executor: 'constant-vus', vus: 92, duration: '1m' }), twoCores);
			expect(together.fits).toBe(true);
			const mixed = together.joins;
			expect(mixed).toMatchObject({ count: 92, byKind: { browser: 2, lite: 0, viewer: 90 }, fits: false });
			expect(mixed.cpuSeconds).toBeCloseTo(2 * 1.85 + 90 * botCosts.viewer.joinCpuSeconds, 5);
			expect((2 * 1.85) / 5 + together.cores).toBeLessThan(mixed.limitCores);
			expect(mixed.advice).toMatch(/^2 browser bots and 90 viewers join within 5s \(at the start\)\. A browser bot's join costs about 1\.85 CPU seconds at once, a viewer's 0\.01,/);
			expect(mixed.advice).toMatch(/at most \d+ joins of that mix per 5s here/);
			// The same crowd arriving over a minute fits.
			const arriving = estimate(crowd({ executor: 'ramping-vus', stages: [{ duration: '1m', target: 92 }, { duration: '1m', target: 92 }] }), twoCores).joins;
			expect(arriving.fits).toBe(true);
			expect(arriving.count).toBeLessThan(15);
		});

		it('with --strict-capacity refuses a burst of browser joins the calls alone would fit', async () => {
			const file = path.join(work, 'four-at-once.json');
			const { writeFileSync } = await import('node:fs');
			writeFileSync(file, JSON.stringify({ name: 'four-at-once', rooms: { count: 1 }, participants: [{ bot: 'browser', count: 4, publish: '180p15' }], schedule: atOnce }));
			const dataDir = path.join(work, 'burst-data');
			const { code, stderr } = await callswarm(['run', file, '--strict-capacity', '--data-dir', dataDir]);
			expect(code).toBe(2);
			expect(stderr).toContain('preflight: peak 4 participants');
			expect(stderr).not.toContain('this needs about');
			expect(stderr).toContain('refused (--strict-capacity): 4 browser bots join within 5s (at the start)');
			expect(existsSync(dataDir)).toBe(false);
		});
	});

	it('warns before the run, and with --strict-capacity refuses to start', async () => {
		const file = path.join(work, 'thirty.json');
		const { writeFileSync } = await import('node:fs');
		writeFileSync(file, JSON.stringify({ name: 'thirty', rooms: { count: 5 }, participants: [{ bot: 'browser', count: 6, publish: '360p30' }], schedule: { executor: 'constant-vus', vus: 30, duration: '1m' } }));
		const dataDir = path.join(work, 'strict-data');
		const { code, stderr } = await callswarm(['run', file, '--strict-capacity', '--data-dir', dataDir]);
		expect(code).toBe(2);
		expect(stderr).toContain('preflight: peak 30 participants');
		expect(stderr).toContain('refused (--strict-capacity)');
		expect(existsSync(dataDir)).toBe(false);
	});
});

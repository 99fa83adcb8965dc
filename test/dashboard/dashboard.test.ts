import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startCollector, type Collector } from '../../collector/index.ts';
import { dashboardDir } from '../../dashboard/bundle.ts';
import { launchChromium, type LaunchedBrowser } from '../../loadgen/browser/chromium.ts';
import { CollectorClient } from '../../loadgen/CollectorClient.ts';
import { writeReport } from '../../cli/output/report.ts';
import { main } from '../../cli/main.ts';
import { LoadRun } from '../../loadgen/run/LoadRun.ts';
import { Scenario } from '../../protocol/scenario.ts';
import { removeDir } from '../helpers/tempDir.ts';
import { batch, chromiumFixture, post } from '../helpers/telemetry.ts';
import { serverSource } from '../../protocol/telemetry.ts';

const work = mkdtempSync(path.join(os.tmpdir(), 'callswarm-dashboard-test-'));
const screenshots = path.resolve('artifacts/screenshots');
let collector: Collector;
let chromium: LaunchedBrowser;
const runIds: string[] = [];

/** A real short run: two browser bots in one room, optionally on a bad network. */
async function realRun(name: string, network?: { delayMs: number; lossPct: number }): Promise<string> {
	const scenario = Scenario.parse({
		name,
		participants: [{ bot: 'browser', count: 2, publish: '180p15', ...(network ? { network } : {}) }],
		schedule: { executor: 'constant-vus', vus: 2, duration: '14s' },
		statsInterval: '1s',
		thresholds: { rtt_ms: ['p(95)<150'], join_failed: ['rate<0.01'] },
	});
	const run = new LoadRun({ scenario, collectorUrl: collector.url });
	const outcome = await run.execute();
	await run.close();
	return outcome.runId;
}

async function open(hash: string, name: string): Promise<{ page: Page; errors: string[] }> {
	const page = await chromium.browser.newPage();
	await page.setViewport({ width: 1400, height: 1000 });
	const errors: string[] = [];
	page.on('console', (m) => {
		if (m.type() === 'error') errors.push(m.text());
	});
	page.on('pageerror', (e) => errors.push(String(e)));
	await page.goto(`${collector.url}/${hash}`, { waitUntil: 'load' });
	await page.waitForFunction(() => document.getElementById('app')?.dataset.state !== undefined, { polling: 100, timeout: 30_000 });
	await new Promise((r) => setTimeout(r, 300));
	await page.screenshot({ path: path.join(screenshots, `${name}.png`), fullPage: true });
	return { page, errors };
}

const chartPoints = (page: Page) =>
	page.evaluate(() => Object.fromEntries([...document.querySelectorAll('canvas')].map((c) => [c.id, Number(c.dataset.points ?? 0)])));

beforeAll(async () => {
	mkdirSync(screenshots, { recursive: true });
	collector = await startCollector({
		port: 0,
		logLevel: 'silent',
		dataDir: work,
		dashboardDir,
	});
	chromium = await launchChromium();
}, 60_000);

afterAll(async () => {
	await chromium?.close();
	await collector?.close();
	removeDir(work);
});

describe('dashboard', () => {
	it('shows the empty state before any run', async () => {
		const { page, errors } = await open('#/', 'runs-empty');
		expect(await page.$eval('#app', (e) => e.textContent)).toContain('No runs yet');
		expect(errors).toEqual([]);
		await page.close();
	});

	it('lists runs and shows a run view where every chart has data', async () => {
		runIds.push(await realRun('dash-clean'));
		runIds.push(await realRun('dash-impaired', { delayMs: 90, lossPct: 5 }));
		const list = await open('#/', 'runs');
		const rows = await list.page.$$eval('table.runs tbody tr', (trs) => trs.map((tr) => tr.textContent ?? ''));
		expect(rows).toHaveLength(2);
		expect(rows.join(' ')).toContain('dash-clean');
		expect(list.errors).toEqual([]);
		await list.page.close();

		const { page, errors } = await open(`#/runs/${runIds[0]}`, 'run-view');
		const points = await chartPoints(page);
		expect(Object.keys(points).sort()).toEqual(
			['chart-bandwidth', 'chart-bitrate', 'chart-e2e', 'chart-first-media', 'chart-fps', 'chart-freeze', 'chart-generator', 'chart-jitter', 'chart-layer', 'chart-limited', 'chart-loss', 'chart-mos', 'chart-participants', 'chart-quality', 'chart-rtt', 'chart-sfu'].sort(),
		);
		for (const [id, n] of Object.entries(points)) expect(n, id).toBeGreaterThan(0);
		const text = (await page.$eval('#app', (e) => e.textContent)) ?? '';
		expect(text).toContain('Thresholds');
		expect(text).toContain('rtt_ms p(95)<150');
		expect(errors).toEqual([]);

		// Drill-down into the room: its charts come from raw samples.
		const room = await page.$eval('#room option:nth-child(2)', (o) => (o as HTMLOptionElement).value);
		await page.select('#room', room);
		await page.waitForSelector('#drill-rtt', { timeout: 15_000 });
		await new Promise((r) => setTimeout(r, 300));
		expect((await chartPoints(page))['drill-rtt']).toBeGreaterThan(0);
		// The room's sender × receiver delay matrix: every cell off the diagonal has a figure.
		const matrix = await page.$$eval('table.matrix tbody td', (tds) => tds.map((td) => td.textContent ?? ''));
		expect(matrix.filter((t) => /\d+ ms/.test(t)).length).toBeGreaterThan(0);
		await page.screenshot({ path: path.join(screenshots, 'run-view-room.png'), fullPage: true });
		expect(errors).toEqual([]);
		await page.close();
	});

	it('compares two runs with deltas, the impaired one flagged as a regression', async () => {
		const { page, errors } = await open(`#/compare/${runIds[0]}/${runIds[1]}`, 'compare');
		const deltas = await page.$$eval('table.compare tbody tr', (trs) =>
			trs.map((tr) => ({ metric: tr.querySelector('th')?.textContent ?? '', delta: tr.querySelector('.delta')?.textContent ?? '', cls: tr.className })),
		);
		expect(deltas.length).toBeGreaterThan(4);
		expect(deltas.filter((d) => d.delta !== '–').length).toBeGreaterThan(4);
		const rtt = deltas.find((d) => d.metric.startsWith('Round-trip time') && d.metric.includes('p95'))!;
		expect(rtt.cls).toBe('worse');
		expect(rtt.delta).toMatch(/^\+/);
		for (const [id, n] of Object.entries(await chartPoints(page))) expect(n, id).toBeGreaterThan(0);
		expect(errors).toEqual([]);
		await page.close();
	});

	it('lists, compares and reports the same runs from the CLI', async () => {
		const lines: string[] = [];
		const log = vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => void lines.push(args.join(' ')));
		try {
			expect(await main(['runs', '--collector', collector.url])).toBe(0);
			expect(lines.join('\n')).toContain(runIds[1]);
			lines.length = 0;
			// B (impaired) against A: a regression, exit 1.
			expect(await main(['compare', runIds[0]!, runIds[1]!, '--collector', collector.url])).toBe(1);
			expect(lines.join('\n')).toMatch(/rtt_ms\s+p95.*REGRESSION/);
			const file = path.join(work, 'cli-report.html');
			expect(await main(['report', runIds[0]!, '--collector', collector.url, '--out', file])).toBe(0);
			expect(readFileSync(file, 'utf8')).toContain('__CALLSWARM_REPORT__');
		} finally {
			log.mockRestore();
		}
	});

	it('shows a run without samples as such', async () => {
		await new CollectorClient(collector.url).registerRun('dash-empty', { scenario: 'nothing', status: 'aborted', startedAt: Date.now() - 5000, endedAt: Date.now() });
		const { page, errors } = await open('#/runs/dash-empty', 'run-empty');
		expect(await page.$eval('#app', (e) => e.textContent)).toContain('This run has no samples');
		expect(errors).toEqual([]);
		await page.close();
	});

	it('says a run is invalid, and why, when its load generator saturated', async () => {
		await new CollectorClient(collector.url).registerRun('dash-invalid', {
			scenario: 'too-big',
			status: 'invalid',
			statusReason: 'load generator overloaded at 0:42 (lite-1: event-loop lag p99 180 ms > 50 ms for 3 s)',
			startedAt: Date.now() - 60_000,
			endedAt: Date.now(),
		});
		const { page, errors } = await open('#/runs/dash-invalid', 'run-invalid');
		const alert = await page.$eval('.alert', (e) => e.textContent ?? '');
		expect(alert).toContain('No verdict on the call');
		expect(alert).toContain('overloaded at 0:42');
		expect(await page.$eval('.badge', (e) => e.textContent)).toBe('invalid');
		expect(errors).toEqual([]);
		await page.close();
	});

	/**
	 * A run of the Chromium fixture's samples whose load-generator processes report these totals
	 * (round trips judged and withheld, then jitter figures, then RTCP round trips of sent media, then
	 * frames due and sent late), in two readings.
	 */
	type Totals = [number, number] | [number, number, number, number] | [number, number, number, number, number, number] | [number, number, number, number, number, number, number, number];
	async function runWithRoundTrips(runId: string, last: Record<string, Totals | undefined>): Promise<void> {
		const client = new CollectorClient(collector.url);
		const fixture = chromiumFixture();
		const t0 = Date.now() - 60_000;
		const shift = t0 - fixture.snapshots[0]!.ts;
		await client.registerRun(runId, { scenario: 'viewers', status: 'passed', startedAt: t0, endedAt: t0 + 30_000 });
		const reading = (ts: number, counts: Record<string, Totals | undefined>) => ({
			ts,
			pc: '',
			stats: Object.entries(counts).map(([id, c], i) => ({
				type: 'generator-process' as const,
				id,
				timestamp: ts,
				role: id.startsWith('lite') ? ('lite' as const) : ('browser' as const),
				pid: 100 + i,
				cpuPct: 40,
				lagMs: 5,
				rssBytes: 80e6,
				saturated: false,
				...(c ? { roundTripsJudged: c[0], roundTripsWithheld: c[1], jitterJudged: c[2] ?? 0, jitterWithheld: c[3] ?? 0, mediaRoundTripsJudged: c[4] ?? 0, mediaRoundTripsWithheld: c[5] ?? 0, framesDue: c[6] ?? 0, framesSentLate: c[7] ?? 0 } : {}),
			})),
		});
		const first = Object.fromEntries(Object.entries(last).map(([id, c]) => [id, c && (c.map((n, i) => Math.floor(n / (i % 2 ? 20 : 3))) as Totals)]));
		const generator = { source: serverSource('generator', 'generator:test:1of1') };
		const reply = await post(collector.url, {
			batches: [
				batch(runId, 'p0', fixture.snapshots.map((s) => ({ ...s, ts: s.ts + shift })), [{ type: 'join', ts: t0, durationMs: 300, attempt: 1 }]),
				// Totals so far: the last reading of each process is what counts.
				batch(runId, '-', [reading(t0 + 5000, first)], [], generator),
				batch(runId, '-', [reading(t0 + 25_000, last)], [], generator),
			],
		});
		expect(reply.status).toBe(202);
		await collector.flush();
	}

	it('says per load-generator process how many round trips rtt_ms and jitter figures jitter_ms left out, and the frames it sent late, in the run view and the report', async () => {
		const runId = 'dash-withheld';
		const client = new CollectorClient(collector.url);
		await runWithRoundTrips(runId, { 'lite-1': [300, 40, 200, 30, 60, 1, 9000, 30], 'lite-2': [400, 1, 600, 6, 0, 0, 3000, 66], 'browser-1': undefined });

		const view = await client.view(runId);
		const counts = Object.fromEntries(
			view.generator.processes.map((p) => [
				p.processId,
				[p.roundTripsJudged, p.roundTripsWithheld, p.jitterJudged, p.jitterWithheld, p.mediaRoundTripsJudged, p.mediaRoundTripsWithheld, p.framesDue, p.framesSentLate],
			]),
		);
		expect(counts).toEqual({ 'browser-1': [0, 0, 0, 0, 0, 0, 0, 0], 'lite-1': [300, 40, 200, 30, 60, 1, 9000, 30], 'lite-2': [400, 1, 600, 6, 0, 0, 3000, 66] });

		const cells = (page: Page, column: number) =>
			page.$$eval('table.generator tbody tr', (rows, at) => Object.fromEntries(rows.map((r) => [r.children[1]!.textContent, r.children[at]!.innerHTML.trim()])), column);
		const notes = (page: Page) => page.$$eval('table.generator ~ p.note', (ps) => ps.map((e) => e.textContent ?? ''));
		const check = async (page: Page) => {
			const rtt = await cells(page, 6);
			expect(rtt['browser-1']).toBe('–');
			expect(rtt['lite-2']).toBe('1 of 400 (0.3 %)');
			// Above 10 % a process's figures are flagged.
			expect(rtt['lite-1']).toBe('<span class="badge invalid">40 of 300 (13.3 %)</span>');
			const jitter = await cells(page, 7);
			expect(jitter['browser-1']).toBe('–');
			expect(jitter['lite-2']).toBe('6 of 600 (1.0 %)');
			expect(jitter['lite-1']).toBe('<span class="badge invalid">30 of 200 (15.0 %)</span>');
			const media = await cells(page, 8);
			expect(media['lite-1']).toBe('1 of 60 (1.7 %)');
			expect(media['lite-2']).toBe('–');
			// Frames sent late are flagged above 1 in 100: the process's, not yet the run's.
			const late = await cells(page, 9);
			expect(late['browser-1']).toBe('–');
			expect(late['lite-1']).toBe('30 of 9000 (0.3 %)');
			expect(late['lite-2']).toBe('<span class="badge invalid">66 of 3000 (2.2 %)</span>');
			const [rttNote, jitterNote, mediaNote, lateNote, ...more] = await notes(page);
			expect(more).toEqual([]);
			expect(lateNote).toContain('jitter_ms takes in 96 of 12000 frames and audio packets lite bots sent, late by more than 40 ms (0.8 %): their own process stood still');
			expect(lateNote).not.toContain('--shard');
			expect(mediaNote).toContain('media_rtt_ms leaves out 1 of 60 RTCP round trips of what lite bots sent (1.7 %)');
			expect(rttNote).toContain('rtt_ms leaves out 41 of 700 round trips lite bots and viewers timed (5.9 %)');
			expect(jitterNote).toContain('jitter_ms leaves out 36 of 800 jitter figures lite bots reported (4.5 %)');
			for (const text of [rttNote, jitterNote, mediaNote]) expect(text).not.toContain('--shard');
		};
		const { page, errors } = await open(`#/runs/${runId}`, 'run-withheld');
		await check(page);
		expect(errors).toEqual([]);
		await page.close();

		const file = path.join(work, 'report-withheld.html');
		await writeReport(client, runId, file);
		const report = await chromium.browser.newPage();
		await report.goto(`file://${file}`, { waitUntil: 'load' });
		await report.waitForFunction(() => document.getElementById('app')?.dataset.state === 'ready', { polling: 100, timeout: 10_000 });
		await check(report);
		await report.close();
	});

	it('gives no verdict on a comparison whose figures are in doubt, and says why, in the compare view and the CLI', async () => {
		const lines: string[] = [];
		const log = vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => void lines.push(args.join(' ')));
		try {
			// Against a run whose load generator saturated: every figure is in doubt, exit 3.
			const invalid = await open(`#/compare/${runIds[0]}/dash-invalid`, 'compare-invalid');
			const alert = await invalid.page.$eval('.alert', (e) => e.textContent ?? '');
			expect(alert).toContain('B is invalid: load generator overloaded at 0:42');
			expect(await invalid.page.$eval('.verdict', (e) => e.textContent ?? '')).toMatch(/^no verdict/);
			const classes = await invalid.page.$$eval('table.compare tbody tr', (trs) => trs.map((tr) => tr.className));
			expect(classes.length).toBeGreaterThan(4);
			for (const cls of classes) expect(cls).toContain('doubted');
			expect(invalid.errors).toEqual([]);
			await invalid.page.close();
			const json = path.join(work, 'compare-invalid.json');
			expect(await main(['compare', runIds[0]!, 'dash-invalid', '--collector', collector.url, '--json', json])).toBe(3);
			const written = JSON.parse(readFileSync(json, 'utf8')) as { b: { status: string }; verdict: string; doubts: { side: string; metric: string | null }[]; rows: { doubted: boolean }[] };
			expect(written.b.status).toBe('invalid');
			expect(written.verdict).toBe('inconclusive');
			expect(written.doubts).toEqual([expect.objectContaining({ side: 'B', metric: null })]);
			expect(written.rows.length).toBeGreaterThan(4);
			for (const row of written.rows) expect(row.doubted).toBe(true);
			expect(lines.join('\n')).toContain('in doubt: B is invalid: load generator overloaded at 0:42');
			expect(lines.join('\n')).toMatch(/no verdict: the figures are in doubt/);

			// Against a run that withheld 30 % of its round trips: rtt_ms alone is in doubt.
			await runWithRoundTrips('dash-withheld-many', { 'lite-1': [300, 90] });
			const withheld = await open('#/compare/dash-withheld/dash-withheld-many', 'compare-withheld');
			expect(await withheld.page.$eval('.alert', (e) => e.textContent ?? '')).toContain("B's rtt_ms leaves out 90 of 300 round trips lite bots and viewers timed (30.0 %)");
			const rows = await withheld.page.$$eval('table.compare tbody tr', (trs) =>
				trs.map((tr) => ({ metric: tr.querySelector('th')?.textContent ?? '', doubted: tr.classList.contains('doubted'), mark: tr.querySelector('.doubt') !== null })),
			);
			const doubted = rows.filter((r) => r.doubted);
			expect(doubted.map((r) => r.metric)).toEqual(['Round-trip time p50', 'Round-trip time p95']);
			for (const r of doubted) expect(r.mark).toBe(true);
			expect(rows.length).toBeGreaterThan(doubted.length);
			// The same samples on both sides: nothing moved, so no regression.
			expect(await withheld.page.$eval('.verdict', (e) => e.textContent ?? '')).toBe('no regression');
			expect(withheld.errors).toEqual([]);
			await withheld.page.close();
			lines.length = 0;
			expect(await main(['compare', 'dash-withheld', 'dash-withheld-many', '--collector', collector.url])).toBe(0);
			expect(lines.join('\n')).toContain("in doubt: B's rtt_ms leaves out 90 of 300 round trips lite bots and viewers timed (30.0 %)");
		} finally {
			log.mockRestore();
		}
	});

	it('lists each run with the round trips rtt_ms and jitter figures jitter_ms left out, flagging the runs where that puts them in doubt, in the runs list and the CLI', async () => {
		// Many jitter figures withheld and few round trips: jitter_ms alone is in doubt.
		await runWithRoundTrips('dash-jitter-withheld', { 'lite-1': [100, 0, 300, 60] });
		// Few jitter figures withheld, but 2 in 100 frames sent late: jitter_ms is in doubt all the same.
		await runWithRoundTrips('dash-frames-late', { 'lite-1': [100, 0, 300, 0, 0, 0, 5000, 100] });
		// Every run's processes sent two readings of their totals: the list adds up each process's last, not every reading.
		const { page, errors } = await open('#/', 'runs-withheld');
		const cells = await page.$$eval('table.runs tbody tr', (rows) =>
			Object.fromEntries(rows.map((r) => [r.children[2]!.textContent, [7, 8, 10].map((at) => r.children[at]!.innerHTML.trim())])),
		);
		expect(cells['dash-withheld']).toEqual(['41 of 700 (5.9 %)', '36 of 800 (4.5 %)', '96 of 12000 (0.8 %)']);
		expect(cells['dash-withheld-many']).toEqual(['<span class="badge invalid">90 of 300 (30.0 %)</span>', '–', '–']);
		expect(cells['dash-jitter-withheld']).toEqual(['0 of 100 (0.0 %)', '<span class="badge invalid">60 of 300 (20.0 %)</span>', '–']);
		expect(cells['dash-frames-late']).toEqual(['0 of 100 (0.0 %)', '0 of 300 (0.0 %)', '<span class="badge invalid">100 of 5000 (2.0 %)</span>']);
		// A run of browser bots only judged none.
		expect(cells[runIds[0]!]).toEqual(['–', '–', '–']);
		expect(errors).toEqual([]);
		await page.close();

		const client = new CollectorClient(collector.url);
		expect(await client.run('dash-withheld')).toMatchObject({
			roundTrips: { judged: 700, withheld: 41 },
			jitterFigures: { judged: 800, withheld: 36 },
			mediaRoundTrips: { judged: 60, withheld: 1 },
			framesSentLate: { judged: 12000, withheld: 96 },
		});
		expect((await client.view('dash-withheld-many')).run).toMatchObject({ roundTrips: { judged: 300, withheld: 90 }, jitterFigures: { judged: 0, withheld: 0 } });

		const lines: string[] = [];
		const log = vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => void lines.push(args.join(' ')));
		try {
			expect(await main(['runs', '--collector', collector.url])).toBe(0);
			const line = (runId: string) => lines.join('\n').split('\n').find((l) => l.includes(` ${runId} `)) ?? '';
			expect(line('dash-withheld')).toContain('41 of 700 (5.9 %)');
			expect(line('dash-withheld')).toContain('36 of 800 (4.5 %)');
			expect(line('dash-withheld')).not.toContain(' !');
			expect(line('dash-withheld-many')).toContain('90 of 300 (30.0 %) !');
			expect(line('dash-jitter-withheld')).toContain('60 of 300 (20.0 %) !');
			expect(line('dash-frames-late')).toContain('100 of 5000 (2.0 %) !');
			expect(lines.slice(-3)).toEqual([
				expect.stringMatching(/^! rtt_ms is in doubt: .*--shard/),
				expect.stringMatching(/^! jitter_ms is in doubt: jitter_ms rests on fewer figures .*--shard/),
				expect.stringMatching(/^! jitter_ms is in doubt: jitter_ms takes in this machine's waits: .*--shard/),
			]);
		} finally {
			log.mockRestore();
		}
	});

	it('writes a self-contained report that shows the same charts from disk with the network off', async () => {
		const file = path.join(work, 'report.html');
		await writeReport(new CollectorClient(collector.url), runIds[0]!, file);
		const page = await chromium.browser.newPage();
		await page.setViewport({ width: 1400, height: 1000 });
		await page.setOfflineMode(true);
		const requests: string[] = [];
		await page.setRequestInterception(true);
		page.on('request', (request) => {
			if (!request.url().startsWith('file:')) requests.push(request.url());
			void request.continue();
		});
		const errors: string[] = [];
		page.on('console', (m) => {
			if (m.type() === 'error') errors.push(m.text());
		});
		page.on('pageerror', (e) => errors.push(String(e)));
		await page.goto(`file://${file}`, { waitUntil: 'load' });
		await page.waitForFunction(() => document.getElementById('app')?.dataset.state === 'ready', { polling: 100, timeout: 10_000 });
		await page.screenshot({ path: path.join(screenshots, 'report.png'), fullPage: true });
		const points = await chartPoints(page);
		expect(Object.keys(points)).toHaveLength(16);
		for (const [id, n] of Object.entries(points)) expect(n, id).toBeGreaterThan(0);
		expect(requests).toEqual([]);
		expect(errors).toEqual([]);
		await page.close();
	});

	it('says so when the collector cannot be reached', async () => {
		const { page } = await open('#/', 'runs-before-outage');
		await collector.app.close();
		await page.evaluate(() => {
			location.hash = '#/runs/whatever';
		});
		await page.waitForFunction(() => document.getElementById('app')?.dataset.state === 'error', { polling: 100, timeout: 10_000 });
		expect(await page.$eval('#app', (e) => e.textContent)).toContain('Cannot reach the collector');
		await page.screenshot({ path: path.join(screenshots, 'collector-unreachable.png'), fullPage: true });
		writeFileSync(path.join(screenshots, 'README.txt'), 'Screenshots saved by test/dashboard/dashboard.test.ts\n');
		await page.close();
	});
});

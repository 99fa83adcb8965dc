/**
 * bench:sdk: what the monitoring SDK weighs and costs a page. Size of the bundle as served
 * (minified, gzipped); then calls of two participants (the team-call fixture app, real Chromium,
 * the bundled SFU) monitored at a 5 s interval: time the SDK spent sampling (getStats and
 * redaction) and encoding (JSON and gzip) per minute, and bytes sent per minute, per participant.
 *   npm run bench:sdk [-- --seconds 60 --rounds 3 --interval 5000]
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { gzipSync } from 'node:zlib';
import type { Page } from 'puppeteer-core';
import { z } from 'zod';
import { sdkFile, bundleCapture } from '../capture/bundle.ts';
import type { MonitorStats } from '../capture/sdk.ts';
import { bar, StatusLine } from '../cli/status.ts';
import { startCollector } from '../collector/index.ts';
import { launchChromium } from '../loadgen/browser/chromium.ts';
import { parseInput } from '../protocol/issues.ts';
import { startSfu } from '../sfu/index.ts';
import { startSfuApp } from '../test/fixtures/apps/sfu/server.ts';
import { median } from './median.ts';

const flags = parseInput(
	z.object({
		seconds: z.string().regex(/^\d+$/).default('60').transform(Number),
		rounds: z.string().regex(/^\d+$/).default('3').transform(Number),
		interval: z.string().regex(/^\d+$/).default('5000').transform(Number),
	}),
	parseArgs({ options: { seconds: { type: 'string' }, rounds: { type: 'string' }, interval: { type: 'string' } } }).values,
	'bench:sdk flags',
);

await bundleCapture();
const bundle = readFileSync(sdkFile);
console.log(`machine: ${os.cpus().length} cores, load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
console.log(`SDK bundle: ${(bundle.length / 1024).toFixed(1)} KiB minified, ${(gzipSync(bundle, { level: 9 }).length / 1024).toFixed(1)} KiB gzipped`);

const work = mkdtempSync(path.join(os.tmpdir(), 'callswarm-bench-sdk-'));
const status = new StatusLine();
const sfu = await startSfu({ port: 0, logLevel: 'none' });
const app = await startSfuApp();
const collector = await startCollector({ port: 0, dataDir: path.join(work, 'data'), logLevel: 'silent' });
const chromium = await launchChromium();
const rows: Array<{ cpuMsPerMin: number; sampleMsPerMin: number; encodeMsPerMin: number; kbPerMin: number; wireKbPerMin: number }> = [];
try {
	await collector.production.registry.create({ appId: 'bench', origins: [app.url] });
	const key = await collector.production.registry.createKey('bench');
	for (let round = 0; round < flags.rounds; round++) {
		const pages: Page[] = [];
		for (let i = 0; i < 2; i++) {
			const page = await chromium.browser.newPage();
			pages.push(page);
			const params = new URLSearchParams({ room: `bench-${round}`, ws: sfu.wsUrl, collector: collector.url, app: 'bench', key: key.key!, user: `u${i}`, interval: String(flags.interval) });
			await page.goto(`${app.url}/?${params}`, { waitUntil: 'load' });
			await page.type('#display-name', `p${i}`);
			await page.click('button[type=submit]');
		}
		// Measured from when both see each other's video (their own event), for the given time.
		await Promise.all(pages.map((p) => p.waitForFunction(() => document.querySelectorAll('video').length > 0, { timeout: 60_000, polling: 250 })));
		const stats = () => Promise.all(pages.map((p) => p.evaluate(() => (window as unknown as { monitorSession: { stats(): MonitorStats } }).monitorSession.stats())));
		const before = await stats();
		const started = performance.now();
		for (let s = 0; s < flags.seconds; s++) {
			status.update(`round ${round + 1}/${flags.rounds} ${bar(s / flags.seconds)}`);
			await new Promise((r) => setTimeout(r, 1000));
		}
		const after = await stats();
		const minutes = (performance.now() - started) / 60_000;
		after.forEach((a, i) => {
			const b = before[i]!;
			const sampleMs = a.sampleMs - b.sampleMs;
			const encodeMs = a.encodeMs - b.encodeMs;
			rows.push({
				cpuMsPerMin: (sampleMs + encodeMs) / minutes,
				sampleMsPerMin: sampleMs / minutes,
				encodeMsPerMin: encodeMs / minutes,
				kbPerMin: (a.bytesSent - b.bytesSent) / 1024 / minutes,
				wireKbPerMin: (a.wireBytesSent - b.wireBytesSent) / 1024 / minutes,
			});
		});
		status.done(`round ${round + 1}: ${rows.slice(-2).map((r) => `${r.cpuMsPerMin.toFixed(1)} ms/min, ${r.wireKbPerMin.toFixed(1)} KiB/min`).join('; ')}`);
		for (const page of pages) await page.close();
	}
} finally {
	await chromium.close();
	await collector.close();
	await app.close();
	await sfu.close();
	rmSync(work, { recursive: true, force: true, maxRetries: 10, retryDelay: 200 });
}

const m = (key: keyof (typeof rows)[number]) => median(rows.map((r) => r[key]));
console.log(`\nper participant, ${flags.interval / 1000} s interval, median of ${rows.length} (${flags.rounds} rounds × 2 participants):`);
console.log(`  SDK time       ${m('cpuMsPerMin').toFixed(1)} ms per minute = ${(m('cpuMsPerMin') / 600).toFixed(3)} % of one core`);
console.log(`    sampling     ${m('sampleMsPerMin').toFixed(1)} ms/min (getStats + redaction, wall time)`);
console.log(`    encoding     ${m('encodeMsPerMin').toFixed(1)} ms/min (JSON + gzip)`);
console.log(`  sent           ${m('kbPerMin').toFixed(1)} KiB/min as JSON, ${m('wireKbPerMin').toFixed(1)} KiB/min gzipped on the wire`);
console.log(`  machine load average after: ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);

/**
 * Captures real Chromium getStats() snapshots from the bot page in a two-person call through
 * the bundled SFU, for the collector's normalisation tests: test/fixtures/chromium-stats.json.
 *   node --import tsx scripts/capture-stats-fixture.ts [snapshots=4] [intervalMs=1000]
 */
import { writeFile } from 'node:fs/promises';
import { launchChromium } from '../loadgen/browser/chromium.ts';
import { startSfu } from '../sfu/index.ts';
import type { RawStatsSnapshot } from '../sfu/botpage/api.ts';

const count = Number(process.argv[2] ?? 4);
const intervalMs = Number(process.argv[3] ?? 1000);
const sfu = await startSfu({ port: 0, workers: 1, logLevel: 'none' });
const chromium = await launchChromium();
try {
	const pages = [];
	for (const peer of ['p0', 'p1']) {
		const page = await chromium.browser.newPage();
		await page.goto(`${sfu.botPageUrl}?room=fixture&peer=${peer}&video=640x360@30`);
		pages.push(page);
	}
	const page = pages[0]!;
	await page.waitForFunction(() => window.callswarm.state().consumers.length === 2, { timeout: 30_000, polling: 200 });
	await new Promise((r) => setTimeout(r, 3000));
	const snapshots: RawStatsSnapshot[] = [];
	for (let i = 0; i < count; i++) {
		snapshots.push(...(await page.evaluate(() => window.callswarm.getStats())));
		await new Promise((r) => setTimeout(r, intervalMs));
	}
	const userAgent = await chromium.browser.userAgent();
	const out = new URL('../test/fixtures/chromium-stats.json', import.meta.url);
	await writeFile(out, `${JSON.stringify({ capturedAt: new Date().toISOString(), userAgent, intervalMs, snapshots }, null, 1)}\n`);
	console.log(`wrote ${snapshots.length} snapshots to ${out.pathname}`);
} finally {
	await chromium.close();
	await sfu.close();
}

import type { Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, type LaunchedBrowser } from '../../loadgen/browser/chromium.ts';
import { startSfu, type Sfu } from '../../sfu/index.ts';
import { mediaByRemotePeer, pageEvents, pageState } from '../helpers/botpages.ts';
import { waitFor } from '../helpers/signaling.ts';

const peers = ['p0', 'p1', 'p2'];
let sfu: Sfu;
let chromium: LaunchedBrowser;
const pages = new Map<string, Page>();
const consoleErrors: string[] = [];

async function everyoneDecodesEveryone(label: string): Promise<void> {
	await waitFor(
		async () => {
			for (const [peerId, page] of pages) {
				const media = await mediaByRemotePeer(page);
				for (const other of pages.keys()) {
					if (other === peerId) continue;
					const m = media.get(other);
					if (!m || m.framesDecoded <= 0 || m.audioPackets <= 0 || m.audioSamples <= 0) return false;
				}
			}
			return true;
		},
		`${label}: every page decoding every other page's video and receiving its audio`,
		60_000,
	);
}

beforeAll(async () => {
	sfu = await startSfu({ port: 0, workers: 1, logLevel: 'none' });
	chromium = await launchChromium();
	for (const peerId of peers) {
		const page = await chromium.browser.newPage();
		page.on('console', (message) => {
			if (message.type() === 'error') consoleErrors.push(`${peerId}: ${message.text()}`);
		});
		page.on('pageerror', (error) => consoleErrors.push(`${peerId}: ${String(error)}`));
		await page.goto(`${sfu.botPageUrl}?room=call&peer=${peerId}&video=320x180@15`);
		pages.set(peerId, page);
	}
});

afterAll(async () => {
	await chromium?.close();
	await sfu?.close();
});

describe('three Chromium bot pages in one room through the bundled SFU', () => {
	it('each page decodes the others\' video and receives their audio', async () => {
		await waitFor(async () => {
			for (const page of pages.values()) {
				const state = await pageState(page);
				if (state.state !== 'joined' || state.consumers.length !== 4) return false;
			}
			return true;
		}, 'all pages joined with 4 consumers each', 60_000);
		await everyoneDecodesEveryone('first join');
		const events = await pageEvents(pages.get('p0')!);
		expect(events.map((e) => e.type)).toEqual(expect.arrayContaining(['join', 'first-media']));
		expect(consoleErrors).toEqual([]);
	});

	it('peers rejoin and decode again after their worker is killed mid-call', async () => {
		const room = sfu.rooms.get('call')!;
		process.kill(room.slot.worker.pid, 'SIGKILL');
		await waitFor(async () => {
			const states = await Promise.all([...pages.values()].map(pageState));
			return states.every((s) => s.state === 'joined' && s.consumers.length === 4) && sfu.rooms.get('call') !== room;
		}, 'all pages rejoined', 60_000);
		await everyoneDecodesEveryone('after worker crash');
		for (const page of pages.values()) {
			const types = (await pageEvents(page)).map((e) => e.type);
			expect(types).toContain('reconnect');
		}
	});

	it('a leave is seen by the others', async () => {
		await pages.get('p2')!.evaluate(() => window.callswarm.leave());
		await waitFor(async () => {
			for (const peerId of ['p0', 'p1']) {
				const state = await pageState(pages.get(peerId)!);
				if (state.peers.includes('p2') || state.consumers.some((c) => c.peerId === 'p2')) return false;
				if (state.consumers.length !== 2) return false;
			}
			return true;
		}, 'p0 and p1 to drop p2');
		expect(sfu.totals()).toMatchObject({ peers: 2, producers: 4, consumers: 4 });
	});
});

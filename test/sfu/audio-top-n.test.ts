/**
 * Top-N audio with real Chromium pages through the bundled SFU: three speakers with voice-like
 * microphones, muted until they talk, and a listener forwarding only the loudest microphone.
 * The SFU's audio levels (AudioLevelObserver) decide which; the others stay paused.
 */
import type { Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, type LaunchedBrowser } from '../../loadgen/browser/chromium.ts';
import { fakeAudio } from '../../loadgen/media/fakeMedia.ts';
import { startSfu, type Sfu } from '../../sfu/index.ts';
import { pageState } from '../helpers/botpages.ts';
import { waitFor } from '../helpers/signaling.ts';

const speakers = ['s0', 's1', 's2'];
let sfu: Sfu;
let chromium: LaunchedBrowser;
const pages = new Map<string, Page>();
let listener: Page;
/** The most microphones the listener had forwarded at once, over every look. */
let mostForwarded = 0;

async function forwardedAudio(): Promise<{ forwarded: string[]; consumers: number }> {
	const state = await pageState(listener);
	const audio = state.consumers.filter((c) => c.kind === 'audio');
	const forwarded = audio.filter((c) => c.forwarded).map((c) => c.peerId);
	mostForwarded = Math.max(mostForwarded, forwarded.length);
	return { forwarded, consumers: audio.length };
}

async function listenerHearsOnly(speaker: string): Promise<void> {
	let last: Awaited<ReturnType<typeof forwardedAudio>> | undefined;
	await waitFor(async () => {
		last = await forwardedAudio();
		return last.forwarded.length === 1 && last.forwarded[0] === speaker;
	}, `the listener forwarding ${speaker} alone`, 60_000).catch((error: Error) => {
		throw new Error(`${error.message}; listener: ${JSON.stringify(last)}`);
	});
}

beforeAll(async () => {
	sfu = await startSfu({ port: 0, workers: 1, logLevel: 'none' });
	chromium = await launchChromium({ media: { audioFile: await fakeAudio() } });
	for (const peerId of speakers) {
		const page = await chromium.browser.newPage();
		await page.goto(`${sfu.botPageUrl}?room=topn&peer=${peerId}&video=0&muted=1&subscribe=none`);
		pages.set(peerId, page);
	}
	listener = await chromium.browser.newPage();
	await listener.goto(`${sfu.botPageUrl}?room=topn&peer=listener&video=0&audio=0&subscribe=audio&audioTopN=1`);
});

afterAll(async () => {
	await chromium?.close();
	await sfu?.close();
});

describe('top-N audio following the loudest', () => {
	it('forwards at most N microphones, those loud now, and switches when another talks', async () => {
		await waitFor(async () => (await forwardedAudio()).consumers === speakers.length, 'a microphone consumer per speaker', 60_000);

		await pages.get('s2')!.evaluate(() => window.callswarm.setSpeaking(true));
		await listenerHearsOnly('s2');

		await pages.get('s2')!.evaluate(() => window.callswarm.setSpeaking(false));
		await pages.get('s1')!.evaluate(() => window.callswarm.setSpeaking(true));
		await listenerHearsOnly('s1');
		expect(mostForwarded).toBe(1);
	});
});

/**
 * Screen share from a Chromium bot page through the bundled SFU: slides at 1080p, 5 frames a
 * second, decoded by another page at that resolution.
 */
import type { Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, type LaunchedBrowser } from '../../loadgen/browser/chromium.ts';
import { startSfu, type Sfu } from '../../sfu/index.ts';
import { pageState, pageStats } from '../helpers/botpages.ts';
import { waitFor } from '../helpers/signaling.ts';

let sfu: Sfu;
let chromium: LaunchedBrowser;
let presenter: Page;
let viewer: Page;

beforeAll(async () => {
	sfu = await startSfu({ port: 0, workers: 1, logLevel: 'none' });
	chromium = await launchChromium();
	presenter = await chromium.browser.newPage();
	await presenter.goto(`${sfu.botPageUrl}?room=screen&peer=presenter&video=0&screen=1&subscribe=none`);
	viewer = await chromium.browser.newPage();
	await viewer.goto(`${sfu.botPageUrl}?room=screen&peer=viewer&video=0&audio=0&subscribe=video`);
});

afterAll(async () => {
	await chromium?.close();
	await sfu?.close();
});

describe('screen share', () => {
	it('is decoded by the others at 1920x1080, about 5 frames a second', async () => {
		const received = async () => {
			const stats = (await pageStats(viewer)).flatMap((s) => s.stats);
			// The video stream with frames (mediasoup's bandwidth probe shows up as a second, frameless one).
			const videos = stats.filter((s) => s.type === 'inbound-rtp' && s.kind === 'video') as unknown as Array<{
				framesDecoded: number;
				frameWidth?: number;
				frameHeight?: number;
				timestamp: number;
			}>;
			return videos.sort((a, b) => (b.framesDecoded ?? 0) - (a.framesDecoded ?? 0))[0];
		};
		const first = await waitFor(async () => {
			const video = await received();
			return video && video.framesDecoded > 0 && video;
		}, 'the shared screen decoded', 60_000);
		// Ten more frames: the rate and the size are the screen's own, not a first keyframe's.
		const later = await waitFor(async () => {
			const video = await received();
			return video && video.framesDecoded >= first.framesDecoded + 10 && video;
		}, 'ten more frames of the screen', 30_000);
		expect({ width: later.frameWidth, height: later.frameHeight }).toEqual({ width: 1920, height: 1080 });
		const seconds = (later.timestamp - first.timestamp) / 1000;
		const fps = (later.framesDecoded - first.framesDecoded) / seconds;
		expect(fps).toBeGreaterThan(2);
		expect(fps).toBeLessThan(8);
		// The presenter sends a screen and a microphone, no camera.
		expect((await pageState(presenter)).producers.map((p) => p.kind).sort()).toEqual(['audio', 'video']);
	});
});

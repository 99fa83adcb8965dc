/**
 * Active speakers and last-N with real Chromium pages through the bundled SFU: five senders,
 * each receiver forwarding at most two remote camera videos, which follow whoever speaks, and
 * a presenter's shared screen, which stays shown.
 */
import type { Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, type LaunchedBrowser } from '../../loadgen/browser/chromium.ts';
import { fakeAudio } from '../../loadgen/media/fakeMedia.ts';
import { startSfu, type Sfu } from '../../sfu/index.ts';
import { mediaByRemotePeer, pageState } from '../helpers/botpages.ts';
import { waitFor } from '../helpers/signaling.ts';

const peers = ['p0', 'p1', 'p2', 'p3', 'p4'];
const lastN = 2;
let sfu: Sfu;
let chromium: LaunchedBrowser;
const pages = new Map<string, Page>();
/** The most videos any page had forwarded at once, over every look at the pages. */
let mostForwarded = 0;
/** The fewest forwarded screens any page had once it had its consumers. */
let screens = Infinity;

/** Per page: the peers whose video the SFU forwards to it now. */
async function forwardedVideos(): Promise<Map<string, { forwarded: string[]; activeSpeaker: string | undefined }>> {
	const out = new Map<string, { forwarded: string[]; activeSpeaker: string | undefined }>();
	for (const [peerId, page] of pages) {
		const state = await pageState(page);
		const forwarded = state.consumers.filter((c) => c.kind === 'video' && !c.screen && c.forwarded).map((c) => c.peerId);
		if (peerId !== 'presenter') screens = Math.min(screens, state.consumers.filter((c) => c.screen && c.forwarded).length);
		mostForwarded = Math.max(mostForwarded, forwarded.length);
		out.set(peerId, { forwarded, activeSpeaker: state.activeSpeaker });
	}
	return out;
}

/** Waits until every other page names `speaker` the active speaker and forwards its video. */
async function othersFollow(speaker: string): Promise<Map<string, { forwarded: string[]; activeSpeaker: string | undefined }>> {
	let last = new Map<string, { forwarded: string[]; activeSpeaker: string | undefined }>();
	return waitFor(async () => {
		last = await forwardedVideos();
		return peers.every((peerId) => peerId === speaker || (last.get(peerId)!.activeSpeaker === speaker && last.get(peerId)!.forwarded.includes(speaker))) && last;
	}, `every page following ${speaker}`, 60_000).catch((error: Error) => {
		throw new Error(`${error.message}; pages: ${JSON.stringify(Object.fromEntries(last))}`);
	});
}

beforeAll(async () => {
	sfu = await startSfu({ port: 0, workers: 1, logLevel: 'none' });
	// A voice-like microphone (pauses included): what the active-speaker detection listens to.
	chromium = await launchChromium({ media: { audioFile: await fakeAudio() } });
	for (const peerId of peers) {
		const page = await chromium.browser.newPage();
		await page.goto(`${sfu.botPageUrl}?room=lastn&peer=${peerId}&video=320x180@15&lastN=${lastN}&muted=1`);
		pages.set(peerId, page);
	}
	// A presenter who never speaks: its screen is shown to everyone all the same.
	const presenter = await chromium.browser.newPage();
	await presenter.goto(`${sfu.botPageUrl}?room=lastn&peer=presenter&video=0&audio=0&screen=1&subscribe=none`);
	pages.set('presenter', presenter);
});

afterAll(async () => {
	await chromium?.close();
	await sfu?.close();
});

describe('last-N following the active speaker', () => {
	it('forwards at most N videos to each receiver, and switches them when the speaker changes', async () => {
		await waitFor(async () => {
			for (const peerId of peers) {
				const state = await pageState(pages.get(peerId)!);
				// A camera per other page, and the screen, forwarded: a consumer is made paused and resumed
				// once its receiver is ready, which on a loaded machine comes after the consumer is listed.
				if (state.state !== 'joined' || state.consumers.filter((c) => c.kind === 'video').length !== peers.length) return false;
				if (!state.consumers.some((c) => c.screen && c.forwarded)) return false;
			}
			return true;
		}, 'every page joined with a video consumer per other page and the screen forwarded', 90_000);
		const before = await waitFor(async () => {
			const all = await forwardedVideos();
			return peers.every((p) => all.get(p)!.forwarded.length === lastN) && all;
		}, `${lastN} forwarded videos per page`, 30_000);

		// Someone not shown to p0 speaks: p0 switches to them.
		const hidden = peers.find((p) => p !== 'p0' && !before.get('p0')!.forwarded.includes(p))!;
		await pages.get(hidden)!.evaluate(() => window.callswarm.setSpeaking(true));
		await othersFollow(hidden);

		// The speaker changes: the new one is shown, the previous speaker keeps the second place.
		const next = peers.find((p) => p !== hidden && p !== 'p0')!;
		await pages.get(hidden)!.evaluate(() => window.callswarm.setSpeaking(false));
		await pages.get(next)!.evaluate(() => window.callswarm.setSpeaking(true));
		const after = await othersFollow(next);
		const p0 = after.get('p0')!;
		expect(p0.forwarded.sort()).toEqual([hidden, next].sort());
		expect(mostForwarded).toBe(lastN);
		expect(screens).toBe(1);

		// What p0 holds back is really held back: frames of a forwarded video advance, the others' stand still.
		// (Measured from a second of the speaker's frames after the switch: frames already in flight are decoded by then.)
		const held = peers.filter((p) => p !== 'p0' && !p0.forwarded.includes(p));
		const speakerFrames = async (from: Awaited<ReturnType<typeof mediaByRemotePeer>>) =>
			waitFor(async () => {
				const now = await mediaByRemotePeer(pages.get('p0')!);
				return now.get(next)!.framesDecoded >= from.get(next)!.framesDecoded + 15 && now;
			}, 'a second of the speaker’s frames', 30_000);
		const first = await speakerFrames(await mediaByRemotePeer(pages.get('p0')!));
		const later = await speakerFrames(first);
		for (const peer of held) expect(later.get(peer)?.framesDecoded ?? 0, peer).toBe(first.get(peer)?.framesDecoded ?? 0);
	});
});

import type { CDPSession, Page } from 'puppeteer-core';
import { publishProfiles, type NetworkConditions } from '../../protocol/scenario.ts';
import { newBatch, participantSource, type ParticipantEvent, type StatsSnapshot } from '../../protocol/telemetry.ts';
import type { BotDriver, DriverContext } from '../drivers.ts';
import type { WatchedProcess } from '../health/GeneratorMonitor.ts';
import { fakeAudio, fakeVideo } from '../media/fakeMedia.ts';
import type { Slot } from '../schedule/slots.ts';
import { launchChromium, type LaunchedBrowser } from './chromium.ts';

interface BrowserProcess {
	launched: LaunchedBrowser;
	label: string;
	userAgent: string;
	bots: Set<BrowserBot>;
	/** Pages this browser will still get (joins in flight count too). */
	reserved: number;
}

interface BrowserBot {
	slot: Slot;
	browser: BrowserProcess;
	page?: Page;
	cdp?: CDPSession;
	timer?: NodeJS.Timeout;
	sampling?: Promise<void>;
	ended: boolean;
}

/**
 * Browser bots: bot pages in headless Chromium, several per browser process (far cheaper in
 * memory than a browser each). Each participant group has its own browsers, because the fake
 * camera file is per process and network emulation is applied per group. Each bot's page is
 * sampled every stats interval; its snapshots and events go to the telemetry sender.
 */
export class BrowserDriver implements BotDriver {
	readonly #browsers = new Map<string, BrowserProcess[]>();
	readonly #launching = new Map<string, Promise<BrowserProcess>>();
	readonly #bots = new Map<number, BrowserBot>();
	#closed = false;

	constructor(
		private readonly context: DriverContext,
		private readonly pagesPerBrowser: number,
	) {}

	async join(slot: Slot): Promise<void> {
		const browser = await this.#browserFor(slot);
		const bot: BrowserBot = { slot, browser, ended: false };
		this.#bots.set(slot.index, bot);
		browser.bots.add(bot);
		try {
			const page = await browser.launched.browser.newPage();
			bot.page = page;
			page.on('error', (error) => this.#fail(bot, `page crashed: ${error.message}`));
			page.on('pageerror', (error) => this.context.log(`${slot.peerId}: page error: ${String(error)}`));
			bot.cdp = await page.createCDPSession();
			await bot.cdp.send('Network.enable');
			await this.#emulate(bot.cdp, this.context.networkOf(slot.group.name));
			await page.goto(this.#pageUrl(slot), { waitUntil: 'load', timeout: 30_000 });
			this.#startSampling(bot);
		} catch (error) {
			this.#fail(bot, `could not open the bot page: ${(error as Error).message}`);
		} finally {
			browser.reserved--;
		}
	}

	async leave(slot: Slot): Promise<void> {
		const bot = this.#bots.get(slot.index);
		if (!bot) return;
		this.#bots.delete(slot.index);
		if (!bot.ended) {
			bot.ended = true;
			clearInterval(bot.timer);
			await bot.sampling;
			try {
				await bot.page?.evaluate(() => window.callswarm.leave());
				await this.#sample(bot, true);
			} catch {
				// A page that is gone has left anyway.
			}
		}
		bot.browser.bots.delete(bot);
		await bot.page?.close().catch(() => undefined);
	}

	/**
	 * Chromium applies DevTools network emulation to peer connections opened after it is set
	 * (measured), so a change reconnects the bot, as a network handover would.
	 */
	async setNetwork(group: string, conditions: NetworkConditions): Promise<void> {
		await Promise.all(
			[...this.#bots.values()]
				.filter((bot) => bot.slot.group.name === group && bot.cdp && bot.page && !bot.ended)
				.map(async (bot) => {
					try {
						await this.#emulate(bot.cdp!, conditions);
						await bot.page!.evaluate(() => window.callswarm.reconnect('network change'));
					} catch (error) {
						this.context.log(`${bot.slot.peerId}: network change failed: ${(error as Error).message}`);
					}
				}),
		);
	}

	processes(): WatchedProcess[] {
		return [...this.#browsers.values()]
			.flat()
			.filter((b) => b.launched.pid !== undefined && b.launched.browser.connected)
			.map((b) => ({ role: 'browser', id: b.label, pid: b.launched.pid!, tree: true }));
	}

	async close(): Promise<void> {
		this.#closed = true;
		await Promise.all([...this.#bots.values()].map((bot) => this.leave(bot.slot)));
		const browsers = [...this.#browsers.values()].flat();
		this.#browsers.clear();
		await Promise.all(browsers.map((b) => b.launched.close()));
	}

	/** The group's browser with room for one more page, launching one when all are full. */
	async #browserFor(slot: Slot): Promise<BrowserProcess> {
		const key = slot.group.name;
		for (;;) {
			const list = this.#browsers.get(key) ?? [];
			const free = list.find((b) => b.bots.size + b.reserved < this.pagesPerBrowser && b.launched.browser.connected);
			if (free) {
				free.reserved++;
				return free;
			}
			const launching = this.#launching.get(key);
			if (launching) {
				await launching;
				continue;
			}
			const job = this.#launch(slot);
			this.#launching.set(key, job);
			try {
				const browser = await job;
				this.#browsers.set(key, [...(this.#browsers.get(key) ?? []), browser]);
			} finally {
				this.#launching.delete(key);
			}
		}
	}

	async #launch(slot: Slot): Promise<BrowserProcess> {
		const profile = publishProfiles[slot.group.publish];
		const [videoFile, audioFile] = await Promise.all([
			profile.video ? fakeVideo(profile.video) : Promise.resolve(undefined),
			fakeAudio(),
		]);
		const launched = await launchChromium({ media: { videoFile, audioFile } });
		const count = [...this.#browsers.values()].reduce((n, list) => n + list.length, 0);
		const process: BrowserProcess = { launched, label: `chromium-${slot.group.name}-${count + 1}`, userAgent: await launched.browser.userAgent(), bots: new Set(), reserved: 0 };
		launched.browser.on('disconnected', () => {
			if (this.#closed) return;
			for (const bot of process.bots) this.#fail(bot, 'browser process exited');
		});
		return process;
	}

	#pageUrl(slot: Slot): string {
		const profile = publishProfiles[slot.group.publish];
		const video = profile.video ? `${profile.video.width}x${profile.video.height}@${profile.video.frameRate}` : '0';
		const params = new URLSearchParams({
			room: slot.roomId,
			peer: slot.peerId,
			name: `${slot.group.name} ${slot.index}`,
			ws: this.context.signalingUrl,
			audio: profile.audio ? '1' : '0',
			video,
			subscribe: slot.group.subscribe,
			codec: slot.group.codec,
			rejoin: '1',
		});
		return `${this.context.botPageUrl}?${params}`;
	}

	/**
	 * Chromium's DevTools network emulation; it applies to WebRTC's UDP traffic (measured: RTT
	 * and packet loss in getStats move as set). One-way delay per direction, loss, rate cap.
	 */
	async #emulate(cdp: CDPSession, network: NetworkConditions): Promise<void> {
		const bytesPerSecond = network.rateKbps > 0 ? (network.rateKbps * 1000) / 8 : -1;
		await cdp.send('Network.emulateNetworkConditions', {
			offline: false,
			latency: network.delayMs,
			downloadThroughput: bytesPerSecond,
			uploadThroughput: bytesPerSecond,
			packetLoss: network.lossPct,
			packetQueueLength: 0,
			packetReordering: false,
		});
	}

	#startSampling(bot: BrowserBot): void {
		const interval = this.context.statsIntervalMs;
		// Spread the bots' sampling over the interval instead of all at once.
		const first = setTimeout(() => {
			if (bot.ended) return;
			bot.timer = setInterval(() => {
				bot.sampling ??= this.#sample(bot, false).finally(() => {
					bot.sampling = undefined;
				});
			}, interval);
		}, Math.random() * interval);
		bot.timer = first;
	}

	async #sample(bot: BrowserBot, final: boolean): Promise<void> {
		const page = bot.page;
		if (!page || page.isClosed() || (bot.ended && !final)) return;
		let snapshots: StatsSnapshot[] = [];
		let events: ParticipantEvent[] = [];
		try {
			({ snapshots, events } = await page.evaluate(async () => ({
				snapshots: await window.callswarm.getStats({ known: true }),
				events: window.callswarm.drainEvents(),
			})));
		} catch (error) {
			if (!bot.ended) this.#fail(bot, `bot page stopped answering: ${(error as Error).message}`);
			return;
		}
		this.#send(bot, snapshots, events);
	}

	#send(bot: BrowserBot, snapshots: StatsSnapshot[], events: ParticipantEvent[]): void {
		for (const event of events) this.context.onEvent(bot.slot, event);
		if (snapshots.length === 0 && events.length === 0) return;
		this.context.sender.push(newBatch(this.context.runId, participantSource('browser', bot.slot.roomId, bot.slot.peerId, bot.browser.userAgent), snapshots, events));
	}

	/** A crashed page or browser: a fail event for the participant; the run goes on. */
	#fail(bot: BrowserBot, reason: string): void {
		if (bot.ended) return;
		bot.ended = true;
		clearInterval(bot.timer);
		this.#send(bot, [], [{ type: 'fail', ts: Date.now(), reason }]);
		this.context.log(`${bot.slot.peerId}: ${reason}`);
	}
}

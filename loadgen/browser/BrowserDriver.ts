import os from 'node:os';
import type { Page } from 'puppeteer-core';
import { captureConfigScript, captureScript } from '../../capture/bundle.ts';
import type { CaptureConfigInput } from '../../protocol/capture.ts';
import { publishProfiles, type AppTarget, type NetworkConditions } from '../../protocol/scenario.ts';
import { newBatch, participantSource, type ParticipantEvent, type StatsSnapshotInput } from '../../protocol/telemetry.ts';
import { senderMarkId } from '../../capture/marks.ts';
import { ConcurrencyLimit } from '../ConcurrencyLimit.ts';
import type { BotDriver, DriverContext, PreparePlan } from '../drivers.ts';
import type { WatchedProcess } from '../health/GeneratorMonitor.ts';
import { fakeAudio, fakeVideo } from '../media/fakeMedia.ts';
import { settled } from '../proc.ts';
import { ImpairmentRelay } from '../network/ImpairmentRelay.ts';
import { TurnServer } from '../network/TurnServer.ts';
import type { Slot } from '../schedule/slots.ts';
import { fillPlaceholders, runAppScript, type AppContext } from './appScript.ts';
import { launchChromium, type LaunchedBrowser } from './chromium.ts';
import { browserMediaOf } from './media.ts';

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
	/** This participant's own network: a relay in front of the run's TURN server. */
	relay?: ImpairmentRelay;
	app?: { target: AppTarget; ctx: AppContext };
	timer?: NodeJS.Timeout;
	sampling?: Promise<void>;
	ended: boolean;
}

/** Chromium's generated screen for getDisplayMedia: slides at 1080p, 5 frames per second. */
const screen = { width: 1920, height: 1080, frameRate: 5 };

/**
 * Browser bots: pages in headless Chromium, several per browser process (far cheaper in memory
 * than a browser each), shared by the groups that publish alike (the fake camera file is per process).
 * Before any page script runs, callswarm's capture is injected: it wraps RTCPeerConnection, so
 * the bot page and any app are sampled and their participant events derived the same way. A
 * participant whose group has network conditions gets its own impairment relay in front of the
 * run's TURN server, and all its connections are forced through it: every app's media takes
 * that participant's delay, jitter, loss and rate cap, and a change applies at once.
 */
export class BrowserDriver implements BotDriver {
	readonly #browsers = new Map<string, BrowserProcess[]>();
	readonly #launching = new Map<string, Promise<BrowserProcess>>();
	readonly #bots = new Map<number, BrowserBot>();
	#turn: Promise<TurnServer> | undefined;
	#launched = 0;
	readonly #startups = new ConcurrencyLimit(Math.max(1, Math.floor(os.availableParallelism() / 2)));
	#closed = false;

	constructor(
		private readonly context: DriverContext,
		private readonly pagesPerBrowser: number,
	) {}

	/**
	 * Launches every browser the run will fill, and the TURN server if any network needs it. All
	 * of them, not only those of the first joiners: a browser's start takes most of two cores for
	 * 2–3 s on a slower 2-core machine, and a ramp that starts from zero would otherwise launch its
	 * first browser inside the judged run, on top of its first join.
	 */
	async prepare({ all }: PreparePlan): Promise<number> {
		const jobs: Promise<unknown>[] = [];
		if (all.some((slot) => this.context.relayGroups.has(slot.group.name))) jobs.push(this.#turnServer());
		const byMedia = new Map<string, Slot[]>();
		for (const slot of all) {
			const key = browserMediaOf(slot);
			byMedia.set(key, [...(byMedia.get(key) ?? []), slot]);
		}
		const pids: number[] = [];
		for (const [key, slots] of byMedia) {
			const missing = Math.ceil(slots.length / this.pagesPerBrowser) - (this.#browsers.get(key)?.length ?? 0);
			for (let i = 0; i < missing; i++)
				jobs.push(
					this.#startups.run(() => this.#launch(slots[0]!)).then((browser) => {
						this.#add(key, browser);
						if (browser.launched.pid !== undefined) pids.push(browser.launched.pid);
					}),
				);
		}
		const failures = (await Promise.allSettled(jobs)).filter((r) => r.status === 'rejected');
		// Joins launch what is missing themselves, and fail with the reason if it still cannot start.
		if (failures.length) this.context.log(`could not start ${failures.length} of ${jobs.length} browser processes before the run: ${String(failures[0]!.reason).split('\n')[0]}`);
		// A browser answers long before it has finished starting (its GPU, network and first renderer processes): about 2 s at a full core each here.
		if (pids.length && !(await settled(pids, { maxCores: 0.1 * pids.length }))) this.context.log(`the browsers were still busy starting 15 s after launch: the first joins share the machine with them`);
		return jobs.length - failures.length;
	}

	async join(slot: Slot): Promise<void> {
		const browser = await this.#browserFor(slot);
		const bot: BrowserBot = { slot, browser, ended: false };
		this.#bots.set(slot.index, bot);
		browser.bots.add(bot);
		const target = this.context.target;
		const app = target.kind === 'app' ? { ...target.app, ...slot.group.app } : undefined;
		const joinTimeout = app?.joinTimeout ?? 30_000;
		let deadline = Number.POSITIVE_INFINITY;
		try {
			// Page start-ups (a renderer, the page's scripts, camera and encoders) are the costliest moment of a browser bot: taken a few at a time, joins that come together do not starve the machine.
			const page = await this.#startups.run(async () => {
				// The join's time counts from its turn: waiting for it is the generator's pace, not the app's.
				deadline = Date.now() + joinTimeout;
				const page = await browser.launched.browser.newPage();
				bot.page = page;
				page.on('error', (error) => this.#fail(bot, `page crashed: ${error.message}`));
				page.on('pageerror', (error) => this.context.log(`${slot.peerId}: page error: ${String(error).split('\n')[0]}`));
				const e2e = this.context.e2e;
				const capture: CaptureConfigInput = {
					statsIntervalMs: this.context.statsIntervalMs,
					stats: 'known',
					joinTimeoutMs: joinTimeout,
					screen,
					...(e2e ? { e2e: { sender: senderMarkId(slot.peerId), clockOffsetMs: e2e.clockOffsetMs, video: e2e.video, audio: e2e.audio } } : {}),
				};
				if (this.context.relayGroups.has(slot.group.name)) {
					const turn = await this.#turnServer();
					bot.relay = await ImpairmentRelay.open(turn.address, this.context.networkOf(slot.group.name), this.context.turn.listenIp);
					capture.iceServers = [turn.iceServer(bot.relay.address)];
					capture.forceRelay = true;
				}
				await page.evaluateOnNewDocument(captureConfigScript(capture));
				await page.evaluateOnNewDocument(await captureScript());
				if (app) {
					const name = `${slot.group.name} ${slot.index}`;
					const base = { room: slot.roomId, peer: slot.peerId, name, group: slot.group.name, index: slot.index, publish: slot.group.publish, subscribe: slot.group.subscribe };
					bot.app = { target: app, ctx: { ...base, url: fillPlaceholders(app.url, base, true) } };
					await page.goto(bot.app.ctx.url, { waitUntil: 'load', timeout: Math.max(1, deadline - Date.now()) });
					await page.evaluate(() => window.__callswarmCapture?.markJoinStart());
				} else {
					await page.goto(this.#botPageUrl(slot), { waitUntil: 'load', timeout: 30_000 });
				}
				return page;
			});
			this.#startSampling(bot);
			if (bot.app) await runAppScript(page, bot.app.target.join, bot.app.ctx, 'join', deadline);
		} catch (error) {
			this.#fail(bot, `could not join: ${(error as Error).message.split('\n')[0]}`);
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
				if (bot.app) await runAppScript(bot.page!, bot.app.target.leave, bot.app.ctx, 'leave', Date.now() + 10_000);
				else await bot.page?.evaluate(() => window.callswarm.leave());
				await this.#sample(bot, true, [{ type: 'leave', ts: Date.now(), reason: 'left' }]);
			} catch (error) {
				// A page that is gone has left anyway.
				this.#send(bot, [], [{ type: 'leave', ts: Date.now(), reason: `left (${(error as Error).message.split('\n')[0]})` }]);
			}
		}
		bot.browser.bots.delete(bot);
		await bot.page?.close().catch(() => undefined);
		bot.relay?.close();
	}

	/** Through the relays: the next packet of each participant of the group takes the new conditions. */
	async setSpeaking(slot: Slot, speaking: boolean): Promise<void> {
		const page = this.#bots.get(slot.index)?.page;
		if (!page || this.context.target.kind !== 'callswarm') return;
		await page.evaluate((on) => window.callswarm.setSpeaking(on), speaking).catch(() => undefined);
	}

	async setNetwork(group: string, conditions: NetworkConditions): Promise<void> {
		for (const bot of this.#bots.values()) {
			if (bot.slot.group.name !== group) continue;
			if (bot.relay) bot.relay.setConditions(conditions);
			else this.context.log(`${bot.slot.peerId}: connects without a relay, its network cannot change (give its group network conditions or relay: 'always')`);
		}
	}

	processes(): WatchedProcess[] {
		return [...this.#browsers.values()]
			.flat()
			.filter((b) => b.launched.pid !== undefined && b.launched.browser.connected)
			.map((b) => ({ role: 'browser', id: b.label, pid: b.launched.pid!, tree: true }));
	}

	/** The relays of the participants now in calls (benchmarks and tests read their counters). */
	relays(): ImpairmentRelay[] {
		return [...this.#bots.values()].flatMap((b) => (b.relay ? [b.relay] : []));
	}

	async close(): Promise<void> {
		this.#closed = true;
		await Promise.all([...this.#bots.values()].map((bot) => this.leave(bot.slot)));
		const browsers = [...this.#browsers.values()].flat();
		this.#browsers.clear();
		await Promise.all(browsers.map((b) => b.launched.close()));
		await (await this.#turn?.catch(() => undefined))?.stop();
	}

	#turnServer(): Promise<TurnServer> {
		this.#turn ??= TurnServer.start(this.context.turn);
		return this.#turn;
	}

	/** A browser playing the slot's media with room for one more page, launching one when all are full. */
	async #browserFor(slot: Slot): Promise<BrowserProcess> {
		const key = browserMediaOf(slot);
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
				this.#add(key, await job);
			} finally {
				this.#launching.delete(key);
			}
		}
	}

	#add(media: string, browser: BrowserProcess): void {
		this.#browsers.set(media, [...(this.#browsers.get(media) ?? []), browser]);
	}

	async #launch(slot: Slot): Promise<BrowserProcess> {
		const profile = publishProfiles[slot.group.publish];
		const [videoFile, audioFile] = await Promise.all([profile.video ? fakeVideo(profile.video) : Promise.resolve(undefined), fakeAudio()]);
		const target = this.context.target;
		// An app served over plain http from another host is not a secure context: getUserMedia would be missing.
		const origin = target.kind === 'app' ? new URL(fillPlaceholders(target.app.url, { room: 'r', peer: 'p', name: 'n', group: 'g', index: 0 })).origin : undefined;
		const insecure = origin?.startsWith('http://') && !/^http:\/\/(localhost|127\.[\d.]+)(:\d+)?$/.test(origin) ? [`--unsafely-treat-insecure-origin-as-secure=${origin}`] : [];
		const launched = await launchChromium({ media: { videoFile, audioFile }, args: insecure });
		const process: BrowserProcess = {
			launched,
			label: `chromium-${browserMediaOf(slot)}-${++this.#launched}`,
			userAgent: await launched.browser.userAgent(),
			bots: new Set(),
			reserved: 0,
		};
		launched.browser.on('disconnected', () => {
			if (this.#closed) return;
			for (const bot of process.bots) this.#fail(bot, 'browser process exited');
		});
		return process;
	}

	#botPageUrl(slot: Slot): string {
		const target = this.context.target;
		if (target.kind !== 'callswarm') throw new Error('no bot page for an app target');
		const profile = publishProfiles[slot.group.publish];
		const video = profile.video ? `${profile.video.width}x${profile.video.height}@${profile.video.frameRate}` : '0';
		const params = new URLSearchParams({
			room: slot.roomId,
			peer: slot.peerId,
			name: `${slot.group.name} ${slot.index}`,
			ws: target.signalingUrl,
			audio: profile.audio ? '1' : '0',
			video,
			subscribe: slot.group.subscribe,
			codec: slot.group.codec,
			simulcast: slot.group.simulcast ? '1' : '0',
			layer: slot.group.layer,
			muted: this.context.speakerTurns ? '1' : '0',
			screen: slot.group.screenShare ? '1' : '0',
			rejoin: '1',
		});
		if (slot.group.lastN !== undefined) params.set('lastN', String(slot.group.lastN));
		if (slot.group.audioTopN !== undefined) params.set('audioTopN', String(slot.group.audioTopN));
		return `${target.botPageUrl}?${params}`;
	}

	#startSampling(bot: BrowserBot): void {
		const interval = this.context.statsIntervalMs;
		// Spread the bots' draining over the interval instead of all at once.
		bot.timer = setTimeout(() => {
			if (bot.ended) return;
			bot.timer = setInterval(() => {
				bot.sampling ??= this.#sample(bot, false).finally(() => {
					bot.sampling = undefined;
				});
			}, interval);
		}, Math.random() * interval);
	}

	/** What the page's capture gathered since the last time: snapshots and participant events. */
	async #sample(bot: BrowserBot, final: boolean, extra: ParticipantEvent[] = []): Promise<void> {
		const page = bot.page;
		if (!page || page.isClosed() || (bot.ended && !final)) return;
		let drained: { snapshots: StatsSnapshotInput[]; events: ParticipantEvent[] } = { snapshots: [], events: [] };
		try {
			drained = (await page.evaluate(() => window.__callswarmCapture?.drain())) ?? drained;
		} catch (error) {
			if (!bot.ended) this.#fail(bot, `page stopped answering: ${(error as Error).message.split('\n')[0]}`);
			return;
		}
		this.#send(bot, drained.snapshots, [...drained.events, ...extra]);
	}

	#send(bot: BrowserBot, snapshots: StatsSnapshotInput[], events: ParticipantEvent[]): void {
		for (const event of events) this.context.onEvent(bot.slot, event);
		if (snapshots.length === 0 && events.length === 0) return;
		const e2e = this.context.e2e;
		if (e2e) {
			// The marks name senders by a 16-bit id; the collector gets their peer ids.
			for (const snapshot of snapshots) {
				if (snapshot.pc !== 'e2e') continue;
				for (const stat of snapshot.stats) if (typeof stat.senderMark === 'number') stat.sender = e2e.peerOfMark(stat.senderMark);
			}
		}
		this.context.sender.push(newBatch(this.context.runId, participantSource('browser', bot.slot.roomId, bot.slot.peerId, bot.browser.userAgent), snapshots, events));
	}

	/** A crashed page or browser, or a join that never happened: a fail event for the participant; the run goes on. */
	#fail(bot: BrowserBot, reason: string): void {
		if (bot.ended) return;
		bot.ended = true;
		clearInterval(bot.timer);
		this.#send(bot, [], [{ type: 'fail', ts: Date.now(), reason }]);
		this.context.log(`${bot.slot.peerId}: ${reason}`);
	}
}

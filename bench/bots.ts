/**
 * bench:bots: what a browser bot costs. Per media profile: cores (CPU time of the whole
 * Chromium process tree over wall time) and memory (PSS) per bot, each bot sending one stream
 * and receiving one (rooms of two) through the bundled SFU; then the cost of getStats()
 * sampling at 1 s and 2 s against no sampling. Each profile's row also splits off the browser's
 * processes that are not renderers (browser, GPU, utility): run with --bots 2 and --bots 8, the
 * fixed part of a browser's CPU is (4 × at 2 − at 8) / 3 of the whole browser's (cores per bot ×
 * bots), costs.ts's browserWideCores.
 * With --split 1 it also measures send-only pages (each alone in its room), so a bot's cost
 * splits into sending one stream and receiving one: the figures of loadgen/sizing/costs.ts.
 * With --relay 1 it measures 360p30 bots whose connections go through their own impairment
 * relay and the TURN server (coturn), against the same bots connecting directly: the CPU of
 * the relays (this process) and of coturn per relayed participant.
 * With --e2e 1 it measures 360p30 bots with end-to-end delay marks beside the same bots without,
 * each in a browser of their own, over the same window (so the machine's other work falls on
 * both), for --rounds rounds: video marks alone (written into every sent frame, read from every
 * received one), then video and audio marks (a burst every second in the microphone, heard in
 * every received audio track). The cost is the median over rounds of marked / unmarked.
 * With --simulcast 1 it measures only sending in layers: per video profile, send-only pages
 * sending simulcast beside send-only pages sending one layer, each in a browser of their own,
 * over the same window, for --rounds rounds; the cost is the median over rounds of layered /
 * single, and of what layers add per bot (costs.ts's simulcastFactor is that over the table's
 * sendCores), and each round says how many layers the pages were encoding at its end
 * (Chromium turns layers on as its bandwidth estimate allows).
 * With --joins 1 it measures only what a join costs at once, beyond what the bot then costs to
 * keep: --bots pages join one room of a launched browser one after another, --rounds times per
 * profile (the figure of the preflight's join check).
 *   npm run bench:bots [-- --bots 4 --seconds 15 --codec H264 --profiles 360p30,720p30 --sampling 0 --split 1 --relay 1 --e2e 1 --simulcast 1 --joins 1 --rounds 3]
 */
import os from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import type { Page } from 'puppeteer-core';
import { z } from 'zod';
import { captureConfigScript, captureScript } from '../capture/bundle.ts';
import { senderMarkId } from '../capture/marks.ts';
import { launchChromium } from '../loadgen/browser/chromium.ts';
import { ImpairmentRelay } from '../loadgen/network/ImpairmentRelay.ts';
import { TurnServer } from '../loadgen/network/TurnServer.ts';
import { bar, StatusLine } from '../cli/status.ts';
import { fakeAudio, fakeVideo } from '../loadgen/media/fakeMedia.ts';
import { parseInput, wholeNumberText } from '../protocol/issues.ts';
import { networkPresets, publishProfiles, type PublishProfile } from '../protocol/scenario.ts';
import { startSfu } from '../sfu/index.ts';
import { browserWideCpuSeconds, processTable, treeCpuSeconds, treePssBytes } from '../loadgen/proc.ts';
import { median } from './median.ts';

const flags = parseInput(
	z.object({
		bots: wholeNumberText.default(4),
		seconds: wholeNumberText.default(15),
		warmup: wholeNumberText.default(8),
		codec: z.enum(['VP8', 'VP9', 'H264']).default('H264'),
		profiles: z
			.string()
			.default('audio-only,180p15,360p30,720p30')
			.transform((s) => s.split(','))
			.pipe(z.array(z.enum(['audio-only', '180p15', '360p30', '720p30']))),
		sampling: z.enum(['0', '1']).default('1'),
		split: z.enum(['0', '1']).default('0'),
		relay: z.enum(['0', '1']).default('0'),
		e2e: z.enum(['0', '1']).default('0'),
		joins: z.enum(['0', '1']).default('0'),
		simulcast: z.enum(['0', '1']).default('0'),
		rounds: wholeNumberText.pipe(z.number().min(1)).default(3),
	}),
	parseArgs({
		options: {
			bots: { type: 'string' },
			seconds: { type: 'string' },
			warmup: { type: 'string' },
			codec: { type: 'string' },
			profiles: { type: 'string' },
			sampling: { type: 'string' },
			split: { type: 'string' },
			relay: { type: 'string' },
			e2e: { type: 'string' },
			joins: { type: 'string' },
			simulcast: { type: 'string' },
			rounds: { type: 'string' },
		},
	}).values,
	'bench:bots flags',
);
const status = new StatusLine();
const sfu = await startSfu({ port: 0, logLevel: 'none' });

interface Measurement {
	coresPerBot: number;
	/** Cores of the browser's processes other than its renderers (browser, GPU, utility), the whole browser's. */
	browserWideCores: number;
	pssMiBPerBot: number;
	browserPssMiB: number;
	/** Cores of this process per bot (the relays run here), and of coturn when relayed. */
	ownCoresPerBot: number;
	turnCoresPerBot?: number;
}

/** Which end-to-end delay marks a bot writes and reads. */
interface Marks {
	video: boolean;
	audio: boolean;
}

/** The injected capture (as browser bots get it), optionally forcing every connection through its own relay and TURN, optionally with delay marks. */
async function inject(page: Page, turn?: TurnServer, markAs?: { peer: string; marks: Marks }): Promise<ImpairmentRelay | undefined> {
	// A 4G link (40 ms ± 10 ms, 0.5 % loss, 8 Mbit/s): the relay's delay queue and rate cap at work.
	const relay = turn ? await ImpairmentRelay.open(turn.address, { ...networkPresets['4g'] }) : undefined;
	const config = {
		statsIntervalMs: 2000,
		sample: false,
		...(turn && relay ? { iceServers: [turn.iceServer(relay.address)], forceRelay: true } : {}),
		...(markAs ? { e2e: { sender: senderMarkId(markAs.peer), clockOffsetMs: 0, ...markAs.marks } } : {}),
	};
	await page.evaluateOnNewDocument(captureConfigScript(config));
	await page.evaluateOnNewDocument(await captureScript());
	return relay;
}

/** Bot pages in one browser, joined and (optionally) sampled, until closed. */
interface BotGroup {
	pages: Page[];
	pid: number;
	/** The browser's PSS before any page: what the pages add is theirs. */
	pssEmpty: number;
	close(): Promise<void>;
}

/**
 * N bot pages of one profile in one browser, optionally sampling getStats every interval. In
 * rooms of two (each page sends one stream and receives one), or with `sendOnly` each alone.
 */
async function openBots(
	profile: PublishProfile,
	label: string,
	options: { samplingMs?: number; sendOnly?: boolean; turn?: TurnServer; marks?: Marks; simulcast?: boolean } = {},
): Promise<BotGroup> {
	const { samplingMs, sendOnly = false, turn, marks, simulcast = false } = options;
	const p = publishProfiles[profile];
	const launched = await launchChromium({
		media: { videoFile: p.video ? await fakeVideo(p.video) : undefined, audioFile: await fakeAudio() },
	});
	const pid = launched.pid!;
	const pssEmpty = treePssBytes(pid);
	const timers: NodeJS.Timeout[] = [];
	const relays: ImpairmentRelay[] = [];
	const close = async () => {
		for (const t of timers) clearInterval(t);
		await launched.close();
		for (const relay of relays) relay.close();
	};
	try {
		const pages: Page[] = [];
		for (let i = 0; i < flags.bots; i++) {
			status.update(`${label}: joining ${bar(i / flags.bots)}`);
			const page = await launched.browser.newPage();
			const relay = await inject(page, turn, marks ? { peer: `${label}-${i}`, marks } : undefined);
			if (relay) relays.push(relay);
			const video = p.video ? `${p.video.width}x${p.video.height}@${p.video.frameRate}` : '0';
			const room = sendOnly ? `${label}-alone-${i}` : `${label}-${Math.floor(i / 2)}`;
			await page.goto(`${sfu.botPageUrl}?room=${room}&peer=${label}-${i}&video=${video}&audio=1&subscribe=${sendOnly ? 'none' : 'all'}&codec=${flags.codec}${simulcast ? '&simulcast=1' : ''}`);
			pages.push(page);
		}
		for (const page of pages) {
			await page.waitForFunction(
				(alone) => (alone ? window.callswarm.state().producers.length > 0 : window.callswarm.state().consumers.length > 0),
				{ polling: 250, timeout: 30_000 },
				sendOnly,
			);
			if (samplingMs) {
				timers.push(
					setInterval(() => {
						void page.evaluate(async () => ({ s: await window.callswarm.getStats({ known: true }), e: window.callswarm.drainEvents() })).catch(() => undefined);
					}, samplingMs),
				);
			}
		}
		return { pages, pid, pssEmpty, close };
	} catch (error) {
		await close();
		throw error;
	}
}

/**
 * Cores per bot of each group over one and the same window, after the warm-up: groups measured
 * together share whatever else the machine does meanwhile. Also per bot over that window: this
 * process (the relays run here) and any other processes named.
 */
async function measureTogether(
	groups: BotGroup[],
	label: string,
	otherPids: number[] = [],
): Promise<{ coresPerBot: number[]; browserWideCores: number[]; ownCoresPerBot: number; otherCoresPerBot: number[] }> {
	for (let s = 0; s < flags.warmup; s++) {
		status.update(`${label}: warming up ${bar(s / flags.warmup)}`);
		await sleep(1000);
	}
	// One reading of /proc for all the figures of a moment: they are then of the same instant.
	const table0 = processTable();
	const cpu0 = groups.map((g) => treeCpuSeconds(g.pid, table0));
	const wide0 = groups.map((g) => browserWideCpuSeconds(g.pid, table0));
	const other0 = otherPids.map((pid) => treeCpuSeconds(pid, table0));
	const own0 = process.cpuUsage();
	const t0 = performance.now();
	for (let s = 0; s < flags.seconds; s++) {
		status.update(`${label}: measuring ${bar(s / flags.seconds)}`);
		await sleep(1000);
	}
	const seconds = (performance.now() - t0) / 1000;
	const own = process.cpuUsage(own0);
	const table = processTable();
	const bots = flags.bots * groups.length;
	return {
		coresPerBot: groups.map((g, i) => (treeCpuSeconds(g.pid, table) - cpu0[i]!) / seconds / flags.bots),
		browserWideCores: groups.map((g, i) => (browserWideCpuSeconds(g.pid, table) - wide0[i]!) / seconds),
		ownCoresPerBot: (own.user + own.system) / 1e6 / seconds / bots,
		otherCoresPerBot: otherPids.map((pid, i) => (treeCpuSeconds(pid, table) - other0[i]!) / seconds / bots),
	};
}

/** One group of bots measured alone: cores and memory per bot. */
async function measure(profile: PublishProfile, label: string, samplingMs?: number, sendOnly = false, turn?: TurnServer): Promise<Measurement> {
	const group = await openBots(profile, label, { samplingMs, sendOnly, turn });
	try {
		const m = await measureTogether([group], label, turn ? [turn.process.pid!] : []);
		const pss = treePssBytes(group.pid);
		return {
			coresPerBot: m.coresPerBot[0]!,
			browserWideCores: m.browserWideCores[0]!,
			pssMiBPerBot: (pss - group.pssEmpty) / flags.bots / 2 ** 20,
			browserPssMiB: pss / 2 ** 20,
			ownCoresPerBot: m.ownCoresPerBot,
			...(turn ? { turnCoresPerBot: m.otherCoresPerBot[0]! } : {}),
		};
	} finally {
		await group.close();
	}
}

/** CPU per getStats() call: phases with and without 250 ms sampling on the same pages. */
async function samplingCost(profile: PublishProfile): Promise<{ msPerCall: number; botCores: number }> {
	const { pages, pid, close } = await openBots(profile, 'sampling');
	try {
		await sleep(flags.warmup * 1000);
		const phase = async (sampleEveryMs: number | undefined, label: string) => {
			let calls = 0;
			const timers = sampleEveryMs
				? pages.map((page) =>
						setInterval(() => {
							calls++;
							void page
								.evaluate(async () => ({ s: await window.callswarm.getStats({ known: true }), e: window.callswarm.drainEvents() }))
								.catch(() => undefined);
						}, sampleEveryMs),
					)
				: [];
			const cpu0 = treeCpuSeconds(pid);
			const t0 = performance.now();
			for (let s = 0; s < flags.seconds; s++) {
				status.update(`sampling cost, ${label} ${bar(s / flags.seconds)}`);
				await sleep(1000);
			}
			for (const t of timers) clearInterval(t);
			const seconds = (performance.now() - t0) / 1000;
			return { cores: (treeCpuSeconds(pid) - cpu0) / seconds, callsPerSecond: calls / seconds };
		};
		const quiet1 = await phase(undefined, 'no sampling:');
		const busy1 = await phase(250, 'every 250 ms:');
		const quiet2 = await phase(undefined, 'no sampling:');
		const busy2 = await phase(250, 'every 250 ms:');
		const quiet = (quiet1.cores + quiet2.cores) / 2;
		const busy = (busy1.cores + busy2.cores) / 2;
		const callsPerSecond = (busy1.callsPerSecond + busy2.callsPerSecond) / 2;
		status.done(`sampling cost: ${quiet.toFixed(3)} cores without, ${busy.toFixed(3)} with sampling every 250 ms (${flags.bots} bots)`);
		return { msPerCall: (Math.max(0, busy - quiet) / callsPerSecond) * 1000, botCores: quiet / flags.bots };
	} finally {
		await close();
	}
}

/** CPU seconds of everything this benchmark runs: Chromium, the SFU's worker, the relays. */
const allCpuSeconds = () => treeCpuSeconds(process.pid);

/**
 * The one-off CPU of each join, in CPU seconds: the whole tree's CPU from opening the page until
 * 2 s after its media flows (the others' too), less what the room cost before the join (over the
 * time to first media) and what it costs after (over the rest of that window).
 */
async function joinCosts(profile: PublishProfile, round: number): Promise<Array<{ cpuSeconds: number; firstMediaMs: number }>> {
	const p = publishProfiles[profile];
	const launched = await launchChromium({ media: { videoFile: p.video ? await fakeVideo(p.video) : undefined, audioFile: await fakeAudio() } });
	const rate = async (seconds: number, label: string) => {
		const c0 = allCpuSeconds();
		const t0 = performance.now();
		for (let s = 0; s < seconds; s++) {
			status.update(`${label} ${bar(s / seconds)}`);
			await sleep(1000);
		}
		return (allCpuSeconds() - c0) / ((performance.now() - t0) / 1000);
	};
	try {
		const joins: Array<{ cpuSeconds: number; firstMediaMs: number }> = [];
		const pages: Page[] = [];
		const room = `joins-${profile}-${round}`;
		const video = p.video ? `${p.video.width}x${p.video.height}@${p.video.frameRate}` : '0';
		// The browser's own start settles first: the quiet before the first join is the idle room.
		await rate(3, `${profile} joins, round ${round}: the browser settling`);
		let before = await rate(3, `${profile} joins, round ${round}: quiet before the first`);
		for (let i = 0; i < flags.bots; i++) {
			const label = `${profile} joins, round ${round}: join ${i + 1} of ${flags.bots}`;
			status.update(label);
			const c0 = allCpuSeconds();
			const t0 = performance.now();
			const page = await launched.browser.newPage();
			// Without a TURN server no relay is opened: the page gets the capture only.
			await inject(page);
			await page.goto(`${sfu.botPageUrl}?room=${room}&peer=${room}-${i}&video=${video}&audio=1&subscribe=all&codec=${flags.codec}`);
			pages.push(page);
			// Media flows when the newcomer sends and receives everyone, and everyone receives it.
			const kinds = (p.video ? 1 : 0) + 1;
			await page.waitForFunction((want: number) => window.callswarm.state().producers.length > 0 && window.callswarm.state().consumers.length >= want, { polling: 100, timeout: 30_000 }, i * kinds);
			for (const other of pages.slice(0, -1)) {
				await other.waitForFunction((want: number) => window.callswarm.state().consumers.length >= want, { polling: 100, timeout: 30_000 }, i * kinds);
			}
			const firstMediaMs = performance.now() - t0;
			await sleep(2000);
			const windowCpu = allCpuSeconds() - c0;
			const windowSeconds = (performance.now() - t0) / 1000;
			const after = await rate(4, `${label}: settled`);
			const cpuSeconds = windowCpu - before * (firstMediaMs / 1000) - after * (windowSeconds - firstMediaMs / 1000);
			joins.push({ cpuSeconds, firstMediaMs });
			status.done(`${profile} join ${i + 1} (round ${round}): ${cpuSeconds.toFixed(2)} CPU s at once, media after ${firstMediaMs.toFixed(0)} ms; the room ${before.toFixed(2)} → ${after.toFixed(2)} cores`);
			before = after;
		}
		return joins;
	} finally {
		await launched.close();
	}
}

/**
 * How many video layers each page is encoding now (its outbound video streams with frames
 * encoded since the last look), and how many of those streams Chromium says it holds back
 * for want of CPU (qualityLimitationReason "cpu": it lowers their resolution or frame rate).
 */
async function layersEncoding(pages: Page[], before: Map<string, number> = new Map()): Promise<{ layers: number[]; cpuLimited: number; framesEncoded: Map<string, number> }> {
	const framesEncoded = new Map<string, number>();
	const layers: number[] = [];
	let cpuLimited = 0;
	for (const [i, page] of pages.entries()) {
		const snapshots = await page.evaluate(() => window.callswarm.getStats());
		let encoding = 0;
		for (const stat of snapshots.flatMap((snapshot) => snapshot.stats)) {
			if (stat.type !== 'outbound-rtp' || stat.kind !== 'video' || typeof stat.framesEncoded !== 'number') continue;
			const key = `${i}:${String(stat.id)}`;
			framesEncoded.set(key, stat.framesEncoded);
			if (stat.framesEncoded > (before.get(key) ?? 0)) encoding++;
			if (stat.qualityLimitationReason === 'cpu') cpuLimited++;
		}
		layers.push(encoding);
	}
	return { layers, cpuLimited, framesEncoded };
}

if (flags.simulcast === '1') {
	const videoProfiles = flags.profiles.filter((profile) => publishProfiles[profile].video);
	if (videoProfiles.length === 0) throw new Error('bench:bots --simulcast 1 needs a video profile in --profiles');
	const table: Record<string, Record<string, number | string>> = {};
	for (const profile of videoProfiles) {
		const ratios: number[] = [];
		const single: number[] = [];
		const layered: number[] = [];
		const layerCounts: string[] = [];
		const limited: number[] = [];
		for (let round = 1; round <= flags.rounds; round++) {
			const open = [
				() => openBots(profile, `single-${profile}-${round}`, { sendOnly: true }),
				() => openBots(profile, `layered-${profile}-${round}`, { sendOnly: true, simulcast: true }),
			] as const;
			const groups: Array<BotGroup | undefined> = [undefined, undefined];
			try {
				// Which browser starts first alternates by round.
				for (const i of round % 2 ? [0, 1] : [1, 0]) groups[i] = await open[i]!();
				const [one, many] = groups as [BotGroup, BotGroup];
				const start = await layersEncoding(many.pages);
				const m = await measureTogether([one, many], `${profile} simulcast, round ${round}`);
				const { layers, cpuLimited } = await layersEncoding(many.pages, start.framesEncoded);
				const { cpuLimited: singleCpuLimited } = await layersEncoding(one.pages);
				const [plain, simulcast] = m.coresPerBot as [number, number];
				single.push(plain);
				layered.push(simulcast);
				ratios.push(simulcast / plain);
				layerCounts.push(layers.join(','));
				limited.push(cpuLimited + singleCpuLimited);
				status.done(
					`${profile}, round ${round}: ${plain.toFixed(3)} cores per bot sending one layer, ${simulcast.toFixed(3)} in layers (×${(simulcast / plain).toFixed(2)}; layers encoding per page: ${layers.join(', ')}; streams held back for CPU: ${singleCpuLimited} of one layer, ${cpuLimited} in layers)`,
				);
			} finally {
				for (const g of groups) await g?.close();
			}
		}
		table[profile] = {
			'one layer, cores per bot': +median(single).toFixed(3),
			'simulcast, cores per bot': +median(layered).toFixed(3),
			'factor (median of rounds)': +median(ratios).toFixed(2),
			'more cores per bot (median of rounds)': +median(layered.map((c, i) => c - single[i]!)).toFixed(3),
			rounds: ratios.map((r) => r.toFixed(2)).join(' / '),
			'layers per page, by round': layerCounts.join(' / '),
			'streams held back for CPU, by round': limited.join(' / '),
		};
	}
	console.log(`\nSending in layers (${flags.codec} simulcast against one layer, ${flags.bots} send-only page${flags.bots === 1 ? '' : 's'} of each in a browser of their own, measured together; ${flags.rounds} rounds, ${flags.seconds} s each; load average ${os.loadavg()[0]!.toFixed(1)} at the end)`);
	console.table(table);
	// Chromium lowers what it encodes when the CPU runs short: the rounds then compare less work than they name.
	if (Object.values(table).some((row) => String(row['streams held back for CPU, by round']).split(' / ').some((n) => n !== '0'))) {
		console.log('Chromium held some streams back for want of CPU (qualityLimitationReason "cpu"): the machine was saturated and the factor is too low; run again with fewer --bots.');
	}
	await sfu.close();
	process.exit(0);
}

if (flags.joins === '1') {
	const table: Record<string, Record<string, number | string>> = {};
	for (const profile of flags.profiles) {
		const all: number[] = [];
		const medians: number[] = [];
		for (let round = 1; round <= flags.rounds; round++) {
			const joins = await joinCosts(profile, round);
			all.push(...joins.map((j) => j.cpuSeconds));
			medians.push(median(joins.map((j) => j.cpuSeconds)));
		}
		table[profile] = {
			'CPU s per join (median)': +median(all).toFixed(2),
			'round medians': medians.map((m) => m.toFixed(2)).join(' / '),
			'min / max': `${Math.min(...all).toFixed(2)} / ${Math.max(...all).toFixed(2)}`,
		};
	}
	console.log(`\nWhat a browser bot's join costs at once (${flags.codec}, ${flags.bots} pages joining one room of one launched Chromium in turn, ${flags.rounds} rounds; load average ${os.loadavg()[0]!.toFixed(1)} at the end)`);
	console.table(table);
	await sfu.close();
	process.exit(0);
}

const results: Record<string, Record<string, number>> = {};
try {
	for (const profile of flags.profiles) {
		const m = await measure(profile, profile);
		results[profile] = {
			'cores per bot': +m.coresPerBot.toFixed(3),
			'of which browser-wide': +(m.browserWideCores / flags.bots).toFixed(3),
			'browser-wide cores': +m.browserWideCores.toFixed(3),
			'PSS MiB per bot': +m.pssMiBPerBot.toFixed(0),
			'browser PSS MiB': +m.browserPssMiB.toFixed(0),
		};
		status.done(`${profile}: ${m.coresPerBot.toFixed(3)} cores per bot`);
		if (flags.split === '1') {
			const send = await measure(profile, `${profile}-send`, undefined, true);
			results[profile]['send-only cores'] = +send.coresPerBot.toFixed(3);
			results[profile]['receive one stream, cores'] = +Math.max(0, m.coresPerBot - send.coresPerBot).toFixed(3);
			status.done(`${profile}: ${send.coresPerBot.toFixed(3)} cores sending only`);
		}
	}
	console.log(`\nBrowser bot cost (${flags.codec}, ${flags.bots} bots in one Chromium, rooms of 2: each sends one stream and receives one; ${flags.seconds} s)`);
	console.table(results);
	// Targets of issue 17 (bot density): 0.15 core at 360p30, sampling at most 2 % of a bot at 2 s.
	if (results['360p30']) console.log(`target: 360p30 send-and-receive bot <= 0.15 core: ${results['360p30']['cores per bot']! <= 0.15 ? 'met' : 'NOT met'}`);
	if (flags.relay === '1') {
		// The same bots connecting directly, then each through its own relay and the TURN server.
		const turn = await TurnServer.start();
		try {
			const direct = await measure('360p30', 'direct');
			const relayed = await measure('360p30', 'relayed', undefined, false, turn);
			console.log(`\nPer-participant network through TURN (360p30, ${flags.bots} bots, rooms of 2)`);
			// This process carries the SFU's JavaScript and the page sampling in both runs: the relays are the difference.
			const relayCores = Math.max(0, relayed.ownCoresPerBot - direct.ownCoresPerBot);
			console.table({
				direct: { 'browser cores per bot': +direct.coresPerBot.toFixed(3), 'relay cores per bot': 0, 'coturn cores per bot': 0 },
				'relay + TURN': {
					'browser cores per bot': +relayed.coresPerBot.toFixed(3),
					'relay cores per bot': +relayCores.toFixed(4),
					'coturn cores per bot': +relayed.turnCoresPerBot!.toFixed(4),
				},
			});
			const pathCost = relayCores + relayed.turnCoresPerBot!;
			console.log(
				`per impaired participant: relay ${(relayCores * 100).toFixed(2)} % of a core (target <= 2 %: ${relayCores <= 0.02 ? 'met' : 'NOT met'}), ` +
					`with coturn ${(pathCost * 100).toFixed(2)} %`,
			);
		} finally {
			await turn.stop();
		}
	}
	if (flags.e2e === '1') {
		// Marked bots and unmarked bots run side by side, each in their own browser, and are measured
		// over the same window: the machine's other work falls on both. Which browser starts first
		// alternates by round.
		const kinds = [
			['video marks (the default)', { video: true, audio: false }],
			['video and audio marks (e2e: true)', { video: true, audio: true }],
		] as const;
		const cores = new Map<string, { without: number[]; with: number[] }>(kinds.map(([name]) => [name, { without: [], with: [] }]));
		for (let round = 1; round <= flags.rounds; round++) {
			for (const [name, marks] of kinds) {
				const tag = marks.audio ? 'all' : 'video';
				const open = [
					() => openBots('360p30', `plain-${tag}-${round}`),
					() => openBots('360p30', `${tag}-marks-${round}`, { marks }),
				] as const;
				const groups: Array<BotGroup | undefined> = [undefined, undefined];
				try {
					for (const i of round % 2 ? [0, 1] : [1, 0]) groups[i] = await open[i]!();
					const m = await measureTogether(groups as BotGroup[], `${name}, round ${round}`);
					const [plain, marked] = m.coresPerBot as [number, number];
					cores.get(name)!.without.push(plain);
					cores.get(name)!.with.push(marked);
					status.done(`e2e marks, round ${round}: ${plain.toFixed(3)} cores per bot without, ${marked.toFixed(3)} with ${name} (+${((marked / plain - 1) * 100).toFixed(1)} %)`);
				} finally {
					for (const g of groups) await g?.close();
				}
			}
		}
		const pct = (ratio: number) => `${((ratio - 1) * 100).toFixed(1)} %`;
		// Each round's marked bots over the unmarked ones measured beside them.
		const ratios = (name: string) => cores.get(name)!.with.map((marked, i) => marked / cores.get(name)!.without[i]!);
		console.log(`\nEnd-to-end delay marks (360p30, ${flags.bots} bots with marks beside ${flags.bots} without, rooms of 2, ${flags.rounds} rounds, ${flags.seconds} s each)`);
		console.table(
			Object.fromEntries(
				kinds.map(([name]) => [
					name,
					{
						'cores per bot without': +median(cores.get(name)!.without).toFixed(3),
						'cores per bot with': +median(cores.get(name)!.with).toFixed(3),
						'more CPU (median of rounds)': pct(median(ratios(name))),
						rounds: ratios(name).map(pct).join(' / '),
					},
				]),
			),
		);
		for (const [name] of kinds) {
			const extra = median(ratios(name)) - 1;
			console.log(`${name}: ${(extra * 100).toFixed(1)} % more CPU per bot (target <= 10 %: ${extra <= 0.1 ? 'met' : 'NOT met'})`);
		}
	}
	if (flags.sampling === '0') process.exit(0);

	// Sampling cost: the same pages, alternating no sampling with fast sampling (every 250 ms,
	// so the cost stands out of the noise), then scaled to 1 s and 2 s per getStats() call.
	const sampling = await samplingCost('360p30');
	console.log('\ngetStats() sampling cost (360p30 bots; CPU per call measured at 250 ms, scaled)');
	console.table({
		'one getStats() call': { 'CPU ms per bot and call': +sampling.msPerCall.toFixed(2), 'share of bot CPU': '-' },
		'every 2 s': { 'CPU ms per bot and call': +sampling.msPerCall.toFixed(2), 'share of bot CPU': `${((sampling.msPerCall / 2000 / sampling.botCores) * 100).toFixed(1)} %` },
		'every 1 s': { 'CPU ms per bot and call': +sampling.msPerCall.toFixed(2), 'share of bot CPU': `${((sampling.msPerCall / 1000 / sampling.botCores) * 100).toFixed(1)} %` },
	});
	const shareAt2s = sampling.msPerCall / 2000 / sampling.botCores;
	console.log(`target: sampling <= 2 % of bot CPU at 2 s: ${shareAt2s <= 0.02 ? 'met' : 'NOT met'}`);
} finally {
	await sfu.close();
}

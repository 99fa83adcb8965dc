/**
 * Preflight sizing: before a run starts, what the load generator will need at the scenario's
 * peak (CPU and memory, from the measured per-participant costs), against what this machine
 * (or this shard's machine) has. A generator that cannot carry its bots measures itself, not
 * the call, so the user hears about it before the run, not after.
 */
import os from 'node:os';
import { formatDuration } from '../../protocol/durations.ts';
import { publishProfiles, type NamedParticipantGroup, type PublishProfile, type Scenario } from '../../protocol/scenario.ts';
import { scheduleDuration } from '../schedule/executors.ts';
import { Membership, newlyWanted, type WantedPlaces } from '../schedule/Membership.ts';
import { buildSlots, slotsOfShard, type Shard, type Slot } from '../schedule/slots.ts';
import { browserMediaOf } from '../browser/media.ts';
import { botRoleOf, botRoles, type BotRole } from '../health/BotCostMeter.ts';
import { processShare } from '../lite/share.ts';
import { botCosts, type VideoProfile } from './costs.ts';
import { layeredEncodings } from '../../sfu/botpage/params.ts';
import { spatialLayerOf } from '../../sfu/layers.ts';

export interface Machine {
	cores: number;
	memoryBytes: number;
}

export function thisMachine(): Machine {
	return { cores: os.availableParallelism(), memoryBytes: os.totalmem() };
}

/** The share of a machine a run may plan to use: the rest is headroom for estimates that are ±30 %. */
export const usableShare = 0.7;

export interface SizingLine {
	what: string;
	cores: number;
	mib: number;
	/** Whose processes carry this cost (bots, or their browsers and lite-bot processes), and how many bots the line counts. */
	bots?: { role: BotRole; count: number };
}

export interface Sizing {
	/** Participants in calls at the peak, on this shard. */
	peakParticipants: number;
	cores: number;
	mib: number;
	lines: SizingLine[];
	machine: Machine;
	fits: boolean;
	/** How many machines (shards) of this size the scenario needs. */
	machinesNeeded: number;
	/** What to tell the user when it does not fit. */
	advice: string;
	/** The densest stretch of joins on this shard (every bot kind, weighed by its cost), and whether the machine carries it. */
	joins: JoinBurst;
}

/**
 * Joins close together: each costs a burst of CPU (a browser's most, joinCpuSeconds by bot kind)
 * on top of the calls already running, and a machine held over its overload limit for the
 * overload window marks the run invalid however light the calls are once everyone is in.
 */
export interface JoinBurst {
	/** Joins of this shard in the densest overload window, of every bot kind. */
	count: number;
	/** Those joins by bot kind. */
	byKind: Record<BotKind, number>;
	/** CPU seconds those joins cost at once. */
	cpuSeconds: number;
	/** Where that window starts, ms into the schedule. */
	atMs: number;
	windowMs: number;
	/** Cores the machine needs over that window: the joins' CPU spread over it, plus the calls in progress at its end (0 when no window holds two joins). */
	cores: number;
	/** The machine's overload limit, in cores. */
	limitCores: number;
	/** The most joins of that window's mix per window that fit under the limit with those calls in progress. */
	fitting: number;
	fits: boolean;
	advice: string;
}

type BotKind = NamedParticipantGroup['bot'];

/** CPU seconds one join of this group's bots costs at once, beyond keeping the bot (costs.ts). */
export function joinCpuSecondsOf(group: NamedParticipantGroup, scenario: Scenario): number {
	if (group.bot === 'browser') return botCosts.browser.joinCpuSeconds;
	if (group.bot === 'viewer') return botCosts.viewer.joinCpuSeconds;
	const own = publishProfiles[group.publish];
	// Marked media is encoded at the join, for each kind the bot sends.
	if (scenario.e2e.lite && (own.video || own.audio)) return botCosts.lite.e2eJoinCpuSeconds[own.video ? (group.publish as VideoProfile) : '180p15'];
	return botCosts.lite.joinCpuSeconds;
}

/**
 * Participants in calls over the schedule, on one grid: the moment the schedule wants the most
 * (every shard), and at each grid point how many of them are this shard's.
 */
function callsOverTime(scenario: Scenario, slots: Slot[], mine: Set<number>): { peak: Set<number>; stepMs: number; mineInCalls: number[] } {
	const membership = new Membership(scenario.schedule, slots, slots.length);
	const duration = scheduleDuration(scenario.schedule);
	const stepMs = Math.max(250, duration / 2000);
	/** This shard's places among the first p of the run. */
	const mineBefore = new Int32Array(slots.length + 1);
	for (const [position, slot] of slots.entries()) mineBefore[position + 1] = mineBefore[position]! + (mine.has(slot.index) ? 1 : 0);
	let peak: WantedPlaces = { from: 0, to: 0 };
	const mineInCalls: number[] = [];
	for (let t = 0; t <= duration; t += stepMs) {
		const wanted = membership.wanted(t);
		if (wanted.to - wanted.from > peak.to - peak.from) peak = wanted;
		mineInCalls.push(mineBefore[wanted.to]! - mineBefore[wanted.from]!);
	}
	return { peak: new Set(slots.slice(peak.from, peak.to).map((slot) => slot.index)), stepMs, mineInCalls };
}

const subscribes = (group: NamedParticipantGroup, kind: 'audio' | 'video') => group.subscribe === 'all' || group.subscribe === kind;

/** The table's video profiles, smallest first: each halves the one above's size. */
const videoLadder: readonly VideoProfile[] = ['180p15', '360p30', '720p30'];

/**
 * What a receiver asking for `layer` gets of a sender's camera, as a profile of the table. A
 * simulcast or SVC sender's lower layers halve the size per step down (the layer is the one the
 * SFU asks mediasoup for); each step is priced as the profile one rung below, down to
 * the smallest (a 180p30 layer at 180p15's price: a little under for a browser's decoder, the
 * table has no 180p30).
 */
export function receivedProfile(sender: NamedParticipantGroup, layer: NamedParticipantGroup['layer']): VideoProfile {
	const sent = sender.publish as VideoProfile;
	const video = publishProfiles[sender.publish].video;
	if (!sender.simulcast || !video) return sent;
	const encodings = layeredEncodings(sender.codec, video, undefined);
	// SVC is one encoding whose scalability mode says its layers; simulcast, one encoding a layer.
	const spatial = Number(/^L(\d+)/.exec(encodings[0]?.scalabilityMode ?? '')?.[1] ?? encodings.length);
	const stepsDown = spatial - 1 - spatialLayerOf(spatial, layer);
	return videoLadder[Math.max(0, videoLadder.indexOf(sent) - stepsDown)]!;
}

/**
 * What a bot pays to receive some streams of one kind (audio, or video by each sender's
 * profile). A browser pays most for its first (its audio output, its decoder threads start):
 * each stream one more's price, and the largest premium of a first once; lite bots and
 * viewers decode nothing and pay the same for each.
 */
export function receiveCores(bot: BotKind, streams: ReadonlyArray<'audio' | VideoProfile>): number {
	let cores = 0;
	let premium = 0;
	for (const media of streams) {
		if (bot !== 'browser') {
			cores += media === 'audio' ? botCosts[bot].receiveAudioCores : botCosts[bot].receiveVideoCores[media];
			continue;
		}
		const price = media === 'audio' ? botCosts.browser.receiveAudioCores : botCosts.browser.receiveVideoCores[media];
		cores += price.further;
		premium = Math.max(premium, price.first - price.further);
	}
	return cores + premium;
}

/** CPU and memory of this shard's participants at the scenario's peak, with the bundled SFU and collector when they run here. */
export function estimate(scenario: Scenario, options: { shard?: Shard; bundledSfu: boolean; localCollector: boolean; machine?: Machine }): Sizing {
	const machine = options.machine ?? thisMachine();
	const all = buildSlots(scenario);
	const mine = new Set((options.shard ? slotsOfShard(all, options.shard) : all).map((s) => s.index));
	const calls = callsOverTime(scenario, all, mine);
	const { peak } = calls;
	const byRoom = new Map<string, Slot[]>();
	for (const slot of all) {
		if (!peak.has(slot.index)) continue;
		let list = byRoom.get(slot.roomId);
		if (!list) byRoom.set(slot.roomId, (list = []));
		list.push(slot);
	}
	const perGroup = new Map<string, { group: NamedParticipantGroup; count: number; cores: number; mib: number }>();
	let consumers = 0;
	let streams = 0;
	for (const room of byRoom.values()) {
		for (const slot of room) {
			const { group } = slot;
			let cores = 0;
			let received = 0;
			// Last-N and top-N audio: streams beyond N are paused at the SFU and cost the receiver nothing.
			const videos: VideoProfile[] = [];
			let audios = 0;
			for (const other of room) {
				if (other === slot) continue;
				const sent = publishProfiles[other.group.publish];
				if (sent.audio && subscribes(group, 'audio') && audios < (group.audioTopN ?? Infinity)) {
					audios++;
					received++;
				}
				if (other.group.screenShare && subscribes(group, 'video')) {
					received++;
					// Lite bots receive its RTP without decoding: slides average about 30 kbps (600 at a
					// slide change), less than a 180p camera, whose cost stands for it.
					cores += group.bot === 'browser' ? botCosts.browser.receiveScreenCores : botCosts[group.bot].receiveVideoCores['180p15'];
				}
				if (sent.video && subscribes(group, 'video') && videos.length < (group.lastN ?? Infinity)) {
					videos.push(receivedProfile(other.group, group.layer));
					received++;
				}
			}
			cores += receiveCores(group.bot, Array.from({ length: audios }, () => 'audio' as const)) + receiveCores(group.bot, videos);
			consumers += received;
			if (!mine.has(slot.index)) continue;
			const own = publishProfiles[group.publish];
			streams += received + (own.audio ? 1 : 0) + (own.video ? 1 : 0) + (group.screenShare ? 1 : 0) + 1;
			let mib = group.bot === 'browser' ? botCosts.browser.pageMiB[group.publish] : botCosts[group.bot].botMiB;
			if (group.bot === 'browser') {
				cores +=
					botCosts.browser.sendCores[group.publish] *
					(own.video ? botCosts.browser.codecFactor[group.codec] * (group.simulcast ? botCosts.browser.simulcastFactor[group.publish as VideoProfile] : 1) : 1);
				if (group.screenShare) cores += botCosts.browser.sendScreenCores;
				const { e2eExtra } = botCosts.browser;
				cores *= 1 + (scenario.e2e.video ? e2eExtra.video : 0) + (scenario.e2e.audio ? e2eExtra.audio : 0);
			} else if (group.bot === 'lite') {
				const video = own.video ? (group.publish as VideoProfile) : undefined;
				// Marked media is a lite bot's own, for each kind it sends (the video profile's factor stands for its audio too).
				const marked = scenario.e2e.lite && (own.video || own.audio) ? botCosts.lite.e2eSendFactor[video ?? '180p15'] : 1;
				if (own.audio) cores += botCosts.lite.sendAudioCores * marked;
				if (video) cores += botCosts.lite.sendVideoCores[video] * marked;
				if (marked > 1) mib += botCosts.lite.e2eBotMiB;
			}
			const entry = perGroup.get(group.name) ?? { group, count: 0, cores: 0, mib: 0 };
			entry.count++;
			entry.cores += cores;
			entry.mib += mib;
			perGroup.set(group.name, entry);
		}
	}
	const lines: SizingLine[] = [];
	for (const { group, count, cores, mib } of perGroup.values()) {
		lines.push({
			what: `${count} ${group.bot} bot${count === 1 ? '' : 's'} "${group.name}" (${group.publish}, subscribe ${group.subscribe})`,
			cores,
			mib,
			bots: { role: botRoleOf(group.bot), count },
		});
	}
	lines.push(...processLines(scenario, all, peak, mine, machine));
	if (options.bundledSfu) lines.push({ what: `bundled SFU (${consumers} consumers)`, cores: consumers * botCosts.sfuCoresPerConsumer, mib: 150 });
	if (options.localCollector) {
		const samplesPerSecond = streams / (scenario.statsInterval / 1000);
		lines.push({ what: `in-process collector (${Math.round(samplesPerSecond)} samples/s)`, cores: samplesPerSecond * botCosts.collectorCoresPerSamplePerSecond, mib: 400 });
	}
	lines.push({ what: 'the runner', cores: botCosts.runnerCores, mib: botCosts.runnerMiB });
	const cores = lines.reduce((n, l) => n + l.cores, 0);
	const mib = lines.reduce((n, l) => n + l.mib, 0);
	const usableCores = machine.cores * usableShare;
	const usableMiB = (machine.memoryBytes / 2 ** 20) * usableShare;
	const machinesNeeded = Math.max(1, Math.ceil(Math.max(cores / usableCores, mib / usableMiB)));
	const fits = cores <= usableCores && mib <= usableMiB;
	const browsers = [...perGroup.values()].filter((g) => g.group.bot === 'browser').reduce((n, g) => n + g.count, 0);
	const advice = fits
		? ''
		: [
				`this needs about ${cores.toFixed(1)} cores and ${(mib / 1024).toFixed(1)} GiB at its peak; this machine has ${machine.cores} cores (${usableCores.toFixed(1)} usable) and ${(machine.memoryBytes / 2 ** 30).toFixed(0)} GiB: the load generator would saturate and the run would be invalid.`,
				`Try ${browsers > 0 ? 'lite bots for volume (bot: "lite", about a fiftieth of a browser bot), ' : ''}fewer participants, lighter media, or --shard i/${machinesNeeded} on ${machinesNeeded} machines.`,
			].join(' ');
	const peakParticipants = [...peak].filter((i) => mine.has(i)).length;
	const joins = joinBurst(scenario, all, mine, calls, { cores, participants: peakParticipants }, machine);
	return { peakParticipants, cores, mib, lines, machine, fits, machinesNeeded, advice, joins };
}

/**
 * The densest overload window of this shard's joins, weighed by what each costs (a place that
 * leaves and comes back joins again). The calls in progress at the window's end cost their share
 * of the peak's cores.
 */
function joinBurst(
	scenario: Scenario,
	all: Slot[],
	mine: Set<number>,
	calls: { stepMs: number; mineInCalls: number[] },
	peak: { cores: number; participants: number },
	machine: Machine,
): JoinBurst {
	const { sustain: windowMs, maxMachineCpuPct } = scenario.overload;
	const limitCores = (machine.cores * maxMachineCpuPct) / 100;
	const duration = scheduleDuration(scenario.schedule);
	// Joins to a tenth of a second (coarser for schedules over half an hour).
	const places = all.filter((slot) => mine.has(slot.index));
	const membership = new Membership(scenario.schedule, places, all.length);
	const costOf = new Map<NamedParticipantGroup, number>();
	for (const { group } of places) if (!costOf.has(group)) costOf.set(group, joinCpuSecondsOf(group, scenario));
	const step = Math.max(100, duration / 20_000);
	const joins: { at: number; slot: Slot }[] = [];
	let before: WantedPlaces = { from: 0, to: 0 };
	for (let t = 0; t <= duration; t += step) {
		const wanted = membership.wanted(t);
		for (const { from, to } of newlyWanted(before, wanted)) for (let position = from; position < to; position++) joins.push({ at: t, slot: places[position]! });
		before = wanted;
	}
	// The grid points either side of t, the larger: a join counts from the moment it is wanted.
	const { stepMs, mineInCalls } = calls;
	const at = (i: number) => mineInCalls[Math.min(mineInCalls.length - 1, i)] ?? 0;
	const inCallsBy = (t: number) => Math.max(at(Math.floor(t / stepMs)), at(Math.ceil(t / stepMs)));
	const perParticipant = peak.participants > 0 ? peak.cores / peak.participants : 0;
	// A lone join is the peak's business (what fits its 70 % leaves room for one); the worst of
	// the windows with several is the one to report.
	let worst = { first: 0, last: Math.min(1, joins.length), cpuSeconds: joins[0] ? costOf.get(joins[0].slot.group)! : 0, cores: 0, steady: 0 };
	let cpuSeconds = 0;
	for (let first = 0, last = 0; first < joins.length; first++) {
		while (last < joins.length && joins[last]!.at < joins[first]!.at + windowMs) cpuSeconds += costOf.get(joins[last++]!.slot.group)!;
		if (last - first >= 2) {
			const steady = Math.min(peak.cores, perParticipant * inCallsBy(joins[first]!.at + windowMs));
			const cores = cpuSeconds / (windowMs / 1000) + steady;
			if (cores > worst.cores) worst = { first, last, cpuSeconds, cores, steady };
		}
		cpuSeconds -= costOf.get(joins[first]!.slot.group)!;
	}
	const window = joins.slice(worst.first, worst.last);
	const byKind: Record<BotKind, number> = { browser: 0, lite: 0, viewer: 0 };
	for (const { slot } of window) byKind[slot.group.bot]++;
	const count = window.length;
	const perJoin = count > 0 ? worst.cpuSeconds / count : botCosts.browser.joinCpuSeconds;
	const fitting = Math.max(0, Math.floor(((limitCores - worst.steady) * (windowMs / 1000)) / perJoin));
	const fits = worst.cores <= limitCores;
	const windowText = formatDuration(windowMs);
	const kinds = (Object.keys(byKind) as BotKind[]).filter((kind) => byKind[kind] > 0);
	const mixText = kinds.map((kind) => `${byKind[kind]} ${botNoun(kind, byKind[kind])}`).join(' and ');
	const costText = kinds
		.map((kind, i) => {
			const costs = [...new Set(window.filter(({ slot }) => slot.group.bot === kind).map(({ slot }) => costOf.get(slot.group)!))].sort((a, b) => a - b);
			const figure = costs.length === 1 ? `${costs[0]}` : `${costs[0]}–${costs.at(-1)}`;
			const whose = kind === 'viewer' ? "viewer's" : `${kind} bot's`;
			return i === 0 ? `A ${whose} join costs about ${figure} CPU seconds at once` : `a ${whose} ${figure}`;
		})
		.join(', ');
	const joinNoun = `${kinds.length === 1 ? `${kinds[0]} ` : ''}join${fitting > 1 ? 's' : ''}${kinds.length === 1 ? '' : ' of that mix'}`;
	const advice = fits
		? ''
		: [
				`${mixText} join within ${windowText} (${joins[worst.first]!.at === 0 ? 'at the start' : `from ${formatDuration(joins[worst.first]!.at)} into the schedule`}). ${costText},`,
				`so with the calls in progress this machine would need about ${worst.cores.toFixed(1)} cores over those ${windowText}, past its overload limit (${maxMachineCpuPct} % of ${machine.cores} cores, ${limitCores.toFixed(1)}):`,
				`the joins would measure the machine and the run would be invalid. Spread them: at most ${Math.max(1, fitting)} ${joinNoun} per ${windowText} here (ramping-vus stages, a lower arrival rate), or --shard.`,
			].join(' ');
	return { count, byKind, cpuSeconds: worst.cpuSeconds, atMs: joins[worst.first]?.at ?? 0, windowMs, cores: worst.cores, limitCores, fitting, fits, advice };
}

const botNoun = (kind: BotKind, count: number) => (kind === 'viewer' ? `viewer${count === 1 ? '' : 's'}` : `${kind} bot${count === 1 ? '' : 's'}`);

/**
 * The bot processes, counted as the drivers start them: before the schedule, a browser for every
 * `pagesPerBrowser` participants this shard will fill that publish alike (groups with the same
 * profile share browsers: the fake camera and microphone are the browser's), and one lite-bot
 * process per core (fewer for fewer bots), with more once the peak's lite bots and viewers fill
 * them, each kind by its share of a process. Their memory, and the CPU of the browsers' own
 * processes that their pages' figures do not hold (a browser with few pages at the peak).
 */
function processLines(scenario: Scenario, all: Slot[], peak: Set<number>, mine: Set<number>, machine: Machine): SizingLine[] {
	const pagesByProfile = new Map<PublishProfile, { pages: number; atPeak: number }>();
	const perProcess = { botsPerProcess: scenario.liteBotsPerProcess, viewersPerProcess: scenario.viewersPerProcess };
	let hosted = 0;
	let peakLoad = 0;
	for (const slot of all) {
		if (!mine.has(slot.index)) continue;
		if (slot.group.bot === 'browser') {
			const media = browserMediaOf(slot);
			const count = pagesByProfile.get(media) ?? { pages: 0, atPeak: 0 };
			count.pages++;
			if (peak.has(slot.index)) count.atPeak++;
			pagesByProfile.set(media, count);
			continue;
		}
		hosted++;
		if (peak.has(slot.index)) peakLoad += processShare(slot, perProcess);
	}
	const lines: SizingLine[] = [];
	let browsers = 0;
	let browserCores = 0;
	const { browserWideCores, pagesPerMeasuredBrowser } = botCosts.browser;
	for (const [profile, { pages, atPeak }] of pagesByProfile) {
		const launched = Math.ceil(pages / scenario.pagesPerBrowser);
		browsers += launched;
		// The pages' figures hold a measured browser's share; one with fewer pages (the driver fills them in turn) costs the rest.
		for (let b = 0; b < launched; b++) {
			const pagesHere = Math.min(scenario.pagesPerBrowser, Math.max(0, atPeak - b * scenario.pagesPerBrowser));
			browserCores += browserWideCores[profile] * Math.max(0, 1 - pagesHere / pagesPerMeasuredBrowser);
		}
	}
	if (browsers > 0) {
		const profiles = [...pagesByProfile.keys()].join(', ');
		lines.push({
			what: `${browsers} browser${browsers === 1 ? '' : 's'} (up to ${scenario.pagesPerBrowser} pages each, by what they publish: ${profiles})`,
			cores: browserCores,
			mib: browsers * botCosts.browser.processMiB,
			bots: { role: 'browser', count: 0 },
		});
	}
	const liteProcesses = hosted === 0 ? 0 : Math.max(Math.min(machine.cores, hosted), Math.ceil(peakLoad - 1e-9));
	if (liteProcesses > 0) {
		lines.push({
			what: `${liteProcesses} lite-bot process${liteProcesses === 1 ? '' : 'es'} (lite bots and viewers)`,
			cores: liteProcesses * botCosts.lite.processCores,
			mib: liteProcesses * botCosts.lite.processMiB,
			bots: { role: 'lite', count: 0 },
		});
	}
	return lines;
}

/** What the sizing expects one bot of each role to cost at the peak (its own part and its share of its processes'), where it has such bots. */
export function estimatedCoresEach(sizing: Sizing): Partial<Record<BotRole, number>> {
	const out: Partial<Record<BotRole, number>> = {};
	for (const role of botRoles) {
		const lines = sizing.lines.filter((line) => line.bots?.role === role);
		const count = lines.reduce((n, line) => n + line.bots!.count, 0);
		if (count > 0) out[role] = lines.reduce((n, line) => n + line.cores, 0) / count;
	}
	return out;
}

/** The sizing as lines for the terminal. */
export function renderSizing(sizing: Sizing): string {
	const rows = sizing.lines.map((l) => `  ${l.what.padEnd(64)} ${l.cores.toFixed(2).padStart(6)} cores ${String(Math.round(l.mib)).padStart(6)} MiB`);
	return [
		`preflight: peak ${sizing.peakParticipants} participants here need about ${sizing.cores.toFixed(2)} cores and ${Math.round(sizing.mib)} MiB (this machine: ${sizing.machine.cores} cores, ${(sizing.machine.memoryBytes / 2 ** 30).toFixed(0)} GiB)`,
		...rows,
	].join('\n');
}

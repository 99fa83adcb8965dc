/**
 * Scenario files: what `callswarm run <scenario>` does. The vocabulary is k6's (stages,
 * executors, thresholds such as `p(95)<150`, abortOnFail) applied to calls: a virtual user is a
 * participant that joins a room, publishes, subscribes and reports getStats().
 */
import { z } from 'zod';
import { DelayMarkKinds } from './capture.ts';
import { Duration } from './durations.ts';
import { RoomId, VideoLayer } from './signaling.ts';
import { Thresholds } from './thresholds.ts';

// ---- network impairment ----

const networkFields = {
	/** One-way delay added to each direction, ms. */
	delayMs: z.number().min(0).max(10_000),
	/** Random variation of the delay, ms (lite bots; see README for browser bots). */
	jitterMs: z.number().min(0).max(5_000),
	/** Packets dropped, percent. */
	lossPct: z.number().min(0).max(100),
	/** Rate cap per direction, kbit/s; 0 = none. */
	rateKbps: z.number().min(0),
};

export const NetworkConditions = z.object({
	delayMs: networkFields.delayMs.default(0),
	jitterMs: networkFields.jitterMs.default(0),
	lossPct: networkFields.lossPct.default(0),
	rateKbps: networkFields.rateKbps.default(0),
});
export type NetworkConditions = z.output<typeof NetworkConditions>;

/** Named network presets (per direction). */
export const networkPresets = {
	perfect: { delayMs: 0, jitterMs: 0, lossPct: 0, rateKbps: 0 },
	wifi: { delayMs: 5, jitterMs: 2, lossPct: 0.1, rateKbps: 30_000 },
	'lossy-wifi': { delayMs: 10, jitterMs: 10, lossPct: 3, rateKbps: 10_000 },
	'4g': { delayMs: 40, jitterMs: 10, lossPct: 0.5, rateKbps: 8_000 },
	'3g': { delayMs: 100, jitterMs: 30, lossPct: 1.5, rateKbps: 1_500 },
	'bad-3g': { delayMs: 200, jitterMs: 60, lossPct: 5, rateKbps: 600 },
	satellite: { delayMs: 300, jitterMs: 20, lossPct: 1, rateKbps: 2_000 },
} as const satisfies Record<string, NetworkConditions>;
export type NetworkPreset = keyof typeof networkPresets;
export const NetworkPreset = z.enum(Object.keys(networkPresets) as [NetworkPreset, ...NetworkPreset[]]);

/** A preset name, explicit conditions, or a preset with some values overridden. */
export const Network = z
	.preprocess(
		(value) => (typeof value === 'string' ? { preset: value } : value),
		z.object({ preset: NetworkPreset.optional() }).extend(z.object(networkFields).partial().shape),
	)
	.transform((value): NetworkConditions => {
		const { preset, ...overrides } = value;
		const base = preset ? networkPresets[preset] : networkPresets.perfect;
		const defined = Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined));
		return { ...base, ...defined };
	});
export type NetworkInput = z.input<typeof Network>;

export const NetworkChange = z.object({
	/** When, from the start of the run. */
	at: Duration,
	network: Network,
	/** Which participant groups (by name); all when absent. */
	groups: z.array(z.string()).optional(),
});

// ---- participants and rooms ----

export const PublishProfile = z.enum(['audio-only', '180p15', '360p30', '720p30', 'none']);
export type PublishProfile = z.infer<typeof PublishProfile>;

export const publishProfiles = {
	'audio-only': { audio: true, video: undefined },
	'180p15': { audio: true, video: { width: 320, height: 180, frameRate: 15 } },
	'360p30': { audio: true, video: { width: 640, height: 360, frameRate: 30 } },
	'720p30': { audio: true, video: { width: 1280, height: 720, frameRate: 30 } },
	none: { audio: false, video: undefined },
} as const satisfies Record<PublishProfile, { audio: boolean; video: { width: number; height: number; frameRate: number } | undefined }>;

// ---- app targets: any WebRTC app, joined by URL and steps ----

/**
 * One step of joining or leaving an app, as a person would: open a page, click, type, wait for
 * something on the page. Text may hold placeholders: {room}, {peer}, {name}, {group}, {index}.
 */
export const AppStep = z.union([
	z.object({ goto: z.string().min(1) }).strict(),
	z.object({ click: z.string().min(1) }).strict(),
	z.object({ fill: z.string().min(1), value: z.string() }).strict(),
	z.object({ press: z.string().min(1), selector: z.string().optional() }).strict(),
	/** Waits for a CSS selector to match a visible element. */
	z.object({ waitFor: z.string().min(1), timeout: Duration.optional() }).strict(),
	/** Waits until a JavaScript expression is true in the page, e.g. "window.inCall === true". */
	z.object({ waitForFunction: z.string().min(1), timeout: Duration.optional() }).strict(),
	/** A pause (prefer waiting for something). */
	z.object({ wait: Duration }).strict(),
]);
export type AppStep = z.output<typeof AppStep>;

/**
 * How to join or leave: declarative steps, or a module exporting `join(page, ctx)` /
 * `leave(page, ctx)` (a path relative to the scenario file) for what steps cannot say.
 */
export const AppScript = z.union([z.array(AppStep).max(100), z.object({ module: z.string().min(1) }).strict()]);
export type AppScript = z.output<typeof AppScript>;

export const AppTarget = z.object({
	/** The page a participant opens, with placeholders: https://app.test/call/{room}?name={name} */
	url: z.string().min(1),
	/** Steps after the page loaded (default: none, the page joins by itself). */
	join: AppScript.default([]),
	/** Steps before the page is closed (default: none). */
	leave: AppScript.default([]),
	/** A participant that has not joined by then (steps done and a connection up) fails, with the reason. */
	joinTimeout: Duration.default(30_000),
});
export type AppTarget = z.output<typeof AppTarget>;

export const ParticipantGroup = z.object({
	/** A name for the group (summary, network changes); default "<bot>-<publish>". */
	name: z.string().regex(/^[\w.-]+$/, 'only letters, digits and . _ -').optional(),
	/**
	 * browser: Chromium pages; lite: werift participants that send and receive; viewer:
	 * receive-only audience on the bundled or a callswarm SFU (plain SRTP, headers counted, nothing
	 * decoded), the cheapest kind, for rooms of thousands.
	 */
	bot: z.enum(['browser', 'lite', 'viewer']).default('browser'),
	/** Participants of this group in each room. */
	count: z.number().int().min(1).max(10_000),
	/** What each sends (default 360p30; viewers send nothing). */
	publish: PublishProfile.optional(),
	subscribe: z.enum(['all', 'audio', 'video', 'none']).default('all'),
	/**
	 * Video codec of browser bots. H264 by default: Chromium's software H.264 costs about a third
	 * less CPU per bot than VP8 at 360p30 (bench:bots), so one machine holds more bots.
	 */
	codec: z.enum(['H264', 'VP8', 'VP9']).default('H264'),
	/**
	 * Browser bots send their camera in layers, as group-call apps do: simulcast halving the
	 * resolution per layer (VP8, H264; three layers from 960x540 up, so 720p30, two at 360p30,
	 * too small below 480x270), or one L3T3 SVC stream (VP9, any size).
	 */
	simulcast: z.boolean().default(false),
	/**
	 * Browser bots also share a screen: slides at 1920x1080, 5 frames a second, with contentHint
	 * "detail" (besides their camera, or alone with publish "audio-only" or "none").
	 */
	screenShare: z.boolean().default(false),
	/** Which layer of simulcast and SVC senders this group's participants receive. */
	layer: VideoLayer.default('auto'),
	/**
	 * Last-N: each participant receives at most this many videos at a time, those of the latest
	 * active speakers; the others stay paused at the SFU. All videos when absent.
	 */
	lastN: z.number().int().min(0).max(1000).optional(),
	/**
	 * Top-N audio: each participant receives at most this many microphones at a time, those
	 * loudest now (the SFU's audio levels); the others stay paused at the SFU. All when absent.
	 */
	audioTopN: z.number().int().min(1).max(1000).optional(),
	network: Network.optional(),
	/**
	 * Browser bots' media through their own impairing TURN relay: "auto" (when the group has
	 * network conditions, now or in a later change) or "always" (also to measure the relay path).
	 */
	relay: z.enum(['auto', 'always']).optional(),
	/** For an app target: this group's own URL, join or leave steps. */
	app: AppTarget.partial().optional(),
});
export type ParticipantGroup = z.output<typeof ParticipantGroup>;

/**
 * How joiners fill rooms: "pack" fills a room to its size before opening the next (early
 * joiners are in a call with someone), "spread" puts the first joiners in different rooms.
 */
export const RoomFill = z.enum(['pack', 'spread']);
export type RoomFill = z.infer<typeof RoomFill>;

/**
 * Speaker turns: in each room, `concurrent` participants talk at a time, each turn lasting
 * between the two `turnSeconds`; the others' microphones send silence, as muted ones do.
 * Browser bots take the turns (their audio carries the levels the SFU's speaker detection reads).
 */
export const Speaking = z.object({
	concurrent: z.number().int().min(1).max(100).default(1),
	turnSeconds: z
		.tuple([z.number().min(0.5).max(3600), z.number().min(0.5).max(3600)])
		.refine(([min, max]) => min <= max, 'the first (shortest turn) must not exceed the second')
		.default([4, 10]),
});
export type Speaking = z.output<typeof Speaking>;

export const Rooms = z.union([
	z.object({
		count: z.number().int().min(1).max(100_000),
		prefix: z.string().regex(/^[\w.-]*$/).default('room'),
		fill: RoomFill.default('pack'),
	}),
	z.object({ ids: z.array(RoomId).min(1).max(100_000), fill: RoomFill.default('pack') }),
]);

// ---- schedule (executors) ----

const Stage = z.object({ duration: Duration, target: z.number().int().min(0) });

export const Executor = z.discriminatedUnion('executor', [
	z.object({
		executor: z.literal('constant-vus'),
		vus: z.number().int().min(1),
		duration: Duration,
	}),
	z.object({
		executor: z.literal('ramping-vus'),
		startVUs: z.number().int().min(0).default(0),
		stages: z.array(Stage).min(1),
	}),
	z.object({
		executor: z.literal('ramping-arrival-rate'),
		/** Joins per timeUnit at the start. */
		startRate: z.number().min(0).default(0),
		timeUnit: Duration.default(1000),
		stages: z.array(Stage.extend({ target: z.number().min(0) })).min(1),
		/** How long each participant stays; to the end of the run when absent. */
		holdTime: Duration.optional(),
	}),
	z.object({
		executor: z.literal('growth'),
		curve: z.enum(['linear', 'exponential', 'logistic']),
		/** Participants at the start. */
		start: z.number().int().min(1).default(1),
		/** The most participants the curve reaches. */
		ceiling: z.number().int().min(1),
		/** How long the curve runs. */
		duration: Duration,
		/** exponential: time for the participant count to double. */
		doublingTime: Duration.optional(),
		/** Time at the ceiling after the curve. */
		plateau: Duration.default(0),
	}),
]);
export type Executor = z.output<typeof Executor>;

export const OverloadLimits = z.object({
	/** Event-loop delay p99 of the runner or a lite-bot process, ms. */
	maxLagMs: z.number().min(1).default(50),
	/** One load-generator process above this share of one core, percent. */
	maxProcessCpuPct: z.number().min(1).default(90),
	/** The whole load-generator machine above this share of all cores, percent. */
	maxMachineCpuPct: z.number().min(1).max(100).default(95),
	/** ...held this long (a join storm or a browser starting is a few seconds; overload is not). */
	sustain: Duration.default(5000),
});

/** Every group gets a unique name: its own, or "<bot>-<publish>" (numbered when repeated). */
function nameGroups(groups: ParticipantGroup[]): NamedParticipantGroup[] {
	const used = new Set<string>();
	return groups.map((input) => {
		const group = { ...input, publish: input.publish ?? (input.bot === 'viewer' ? 'none' : '360p30') };
		let name = group.name ?? `${group.bot}-${group.publish}`;
		for (let n = 2; used.has(name); n++) name = `${group.name ?? `${group.bot}-${group.publish}`}-${n}`;
		used.add(name);
		return { ...group, name };
	});
}

// ---- the scenario ----

/**
 * Which end-to-end delay marks bots write and read: `true`/`false` for both kinds, or each on its
 * own. Browser bots write and read them; lite bots write them too (`lite`) when the scenario
 * names `e2e` at all, since each lite bot then encodes media of its own as it joins.
 */
export const EndToEnd = z.union([
	z.boolean().transform((on) => ({ video: on, audio: on, lite: on })),
	DelayMarkKinds.extend({
		/** Lite bots send marked media (their own, encoded at join: about half a CPU second each at 180p15). */
		lite: z.boolean().default(true),
	}),
]);
export type EndToEnd = z.output<typeof EndToEnd>;

export const Scenario = z
	.object({
		name: z.string().regex(/^[\w.-]+$/, 'only letters, digits and . _ -'),
		description: z.string().optional(),
		/**
		 * "bundled" starts the SFU in-process; the base URL (http://host:port) of a callswarm SFU;
		 * or `{ app: { url, join, leave } }`: any WebRTC app, joined by its own pages.
		 */
		target: z.union([z.literal('bundled'), z.url({ protocol: /^https?$/ }), z.object({ app: AppTarget }).strict()]).default('bundled'),
		/** Default of the groups' `relay`. */
		relay: z.enum(['auto', 'always']).default('auto'),
		rooms: Rooms.default({ count: 1, prefix: 'room', fill: 'pack' }),
		participants: z.array(ParticipantGroup).min(1),
		schedule: Executor,
		/** Network for every participant unless its group sets one. */
		network: Network.optional(),
		networkChanges: z.array(NetworkChange).default([]),
		/** Speaker turns (browser bots); without it every microphone sends all the time. */
		speaking: Speaking.optional(),
		statsInterval: Duration.default(2000),
		/**
		 * End-to-end delay: browser bots draw their capture time into their camera frames and put
		 * coded bursts into their microphones, and read both off what they receive (e2e_video_ms
		 * and e2e_audio_ms per sender and receiver). `true` or `false` for both, or each on its own;
		 * by default video only, from browser bots only (lite bots mark when `e2e` is named).
		 */
		e2e: EndToEnd.default({ video: true, audio: false, lite: false }),
		/** Most browser pages per Chromium process. */
		pagesPerBrowser: z.number().int().min(1).max(64).default(8),
		/** Most lite bots per lite-bot process (one event loop each). */
		liteBotsPerProcess: z.number().int().min(1).max(500).default(50),
		/** Most viewers per lite-bot process (a viewer costs about a tenth of a lite bot). */
		viewersPerProcess: z.number().int().min(1).max(5000).default(500),
		thresholds: Thresholds.default({}),
		/** When the load generator counts as saturated: the run is then invalid, not failed (see README). */
		overload: OverloadLimits.prefault({}),
	})
	.transform((s) => ({ ...s, participants: nameGroups(s.participants) }))
	.superRefine((s, ctx) => {
		const names = s.participants.map((g) => g.name);
		for (const [i, change] of s.networkChanges.entries()) {
			for (const group of change.groups ?? []) {
				if (!names.includes(group)) {
					ctx.addIssue({ code: 'custom', path: ['networkChanges', i, 'groups'], message: `no participant group "${group}"` });
				}
			}
		}
		s.participants.forEach((group, i) => {
			if (group.app && (typeof s.target !== 'object' || !('app' in s.target))) {
				ctx.addIssue({ code: 'custom', path: ['participants', i, 'app'], message: 'only for an app target (target: { app: ... })' });
			}
			if (group.simulcast && group.bot !== 'browser') {
				ctx.addIssue({ code: 'custom', path: ['participants', i, 'simulcast'], message: 'only browser bots send simulcast; lite bots send one layer' });
			}
			const video = publishProfiles[group.publish].video;
			if (group.simulcast && !video) {
				ctx.addIssue({ code: 'custom', path: ['participants', i, 'simulcast'], message: `publish "${group.publish}" sends no video to send in layers` });
			} else if (group.simulcast && video && group.codec !== 'VP9' && video.width * video.height < 480 * 270) {
				// The browser would quietly send one layer: a run that says "simulcast" must send layers.
				ctx.addIssue({
					code: 'custom',
					path: ['participants', i, 'simulcast'],
					message: `publish "${group.publish}" (${video.width}x${video.height}) is too small for simulcast layers (at least 480x270): use 360p30 or larger, or codec VP9 (SVC)`,
				});
			}
			if (group.screenShare && (group.bot !== 'browser' || typeof s.target === 'object')) {
				ctx.addIssue({ code: 'custom', path: ['participants', i, 'screenShare'], message: 'only browser bots on the bundled or a callswarm SFU share a screen' });
			}
			if (group.lastN !== undefined && typeof s.target === 'object') {
				ctx.addIssue({ code: 'custom', path: ['participants', i, 'lastN'], message: 'an app target decides what its pages receive; lastN is for the bundled or a callswarm SFU' });
			}
			if (group.audioTopN !== undefined && typeof s.target === 'object') {
				ctx.addIssue({ code: 'custom', path: ['participants', i, 'audioTopN'], message: 'an app target decides what its pages receive; audioTopN is for the bundled or a callswarm SFU' });
			}
			if (group.bot !== 'browser' && typeof s.target === 'object') {
				ctx.addIssue({ code: 'custom', path: ['participants', i, 'bot'], message: `${group.bot} bots speak callswarm signaling; an app target needs browser bots` });
			}
			if (group.bot === 'viewer') {
				if (group.publish !== 'none') ctx.addIssue({ code: 'custom', path: ['participants', i, 'publish'], message: 'viewers only receive: publish must be "none" (or left out)' });
				if (group.subscribe === 'none') ctx.addIssue({ code: 'custom', path: ['participants', i, 'subscribe'], message: 'a viewer that subscribes to nothing measures nothing' });
				if (group.audioTopN !== undefined) ctx.addIssue({ code: 'custom', path: ['participants', i, 'audioTopN'], message: 'viewers receive every microphone; top-N audio is for browser and lite bots' });
			}
		});
		if (s.statsInterval < 500) {
			ctx.addIssue({ code: 'custom', path: ['statsInterval'], message: 'must be at least 500ms' });
		}
	});
export type Scenario = z.output<typeof Scenario>;
export type NamedParticipantGroup = ParticipantGroup & { name: string; publish: PublishProfile };
export type ScenarioInput = z.input<typeof Scenario>;

/** For scenario files in TypeScript: `export default defineScenario({ ... })` with type checking. */
export function defineScenario(scenario: ScenarioInput): ScenarioInput {
	return scenario;
}

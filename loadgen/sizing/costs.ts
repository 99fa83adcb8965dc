/**
 * What one participant costs the load generator, by bot kind: the one table `callswarm run`'s
 * preflight sizing reads. Every figure is measured by a benchmark on the 2-core reference
 * machine (medians of two or more runs, 2026-11-28); rerun them on other hardware and adjust:
 *   npm run bench:bots -- --split 1 --sampling 0     browser send / receive per profile (H264)
 *   npm run bench:bots -- --simulcast 1               browser sending in layers against one
 *   npm run bench:receive                             browser receive, each stream beyond the first
 *   npm run bench:lite                                lite bot per sent / received stream
 *   npm run bench:viewers                             viewer per received stream
 *   npm run bench:sfu-capacity, npm run bench:ingest  SFU and collector
 */
import type { PublishProfile } from '../../protocol/scenario.ts';

export type VideoProfile = Exclude<PublishProfile, 'audio-only' | 'none'>;

export const botCosts = {
	browser: {
		/** Cores to capture, encode and send what the profile publishes (camera + microphone). */
		sendCores: { none: 0.01, 'audio-only': 0.084, '180p15': 0.099, '360p30': 0.158, '720p30': 0.21 } satisfies Record<PublishProfile, number>,
		/**
		 * Cores to receive, decode and play remote audio: the first stream a page hears (it also
		 * starts the page's audio output) and each one more. bench:receive -- --kinds audio
		 * --publish audio-only, pages that publish audio hearing 0, 1, 4 and 8 lite voices, 3 runs:
		 * the first 0.032 (0.032 / 0.038 / 0.015; rooms of two, bench:bots --split 1, gave 0.022),
		 * each further one 0.007 (0.003 / 0.008 / 0.007; pages that publish nothing: 0.009 / 0.007
		 * / 0.005). 2026-12-03, load average 1.9–4.8 at the runs' end.
		 */
		receiveAudioCores: { first: 0.032, further: 0.007 },
		/**
		 * Cores to receive and decode remote video, by the sender's profile: the first stream a page
		 * decodes (rooms of two, H264 from a browser: bench:bots --split 1) and each one more
		 * (bench:receive -- --video <profile>, VP8 from lite bots: 4 pages each decoding 0, 1, 4 and
		 * 8 streams at 180p15, 3 runs: 0.011 / 0.013 / 0.010; at 360p30 one run so (8 streams
		 * saturated the machine) and two to 0, 1, 2 and 4: 0.036 / 0.028 / 0.023; 2 pages at
		 * 720p30, 0, 1, 2 and 4 streams, 2 runs: 0.074 / 0.082; the first stream there 0.029–0.038,
		 * 0.064–0.075 and 0.104–0.116). 2026-12-03, load average 1.9–10.4 at the runs' end. Mixed
		 * profiles: each stream costs one more's price, and the largest premium of a first is paid
		 * once.
		 */
		receiveVideoCores: {
			'180p15': { first: 0.035, further: 0.011 },
			'360p30': { first: 0.047, further: 0.028 },
			'720p30': { first: 0.09, further: 0.078 },
		} satisfies Record<VideoProfile, { first: number; further: number }>,
		/** Encoding other codecs than H264 costs this much more (VP8 0.31–0.33 vs H264 0.22–0.24 core at 360p30). */
		codecFactor: { H264: 1, VP8: 1.4, VP9: 1.45 },
		/**
		 * Sending the camera in layers (simulcast), over sending it in one: bench:bots --
		 * --simulcast 1, send-only pages in layers beside send-only pages in one layer, measured
		 * together, 3 rounds a run; what layers add per page over this table's sendCores. 360p30
		 * (two layers, a 320x180 one added), 2 pages each, 2 runs: 0.002 and 0.004 core more
		 * (rounds +0.002 / +0.014 / −0.001 and +0.004 / +0.016 / +0.002; 4 pages each, the machine
		 * saturated: +0.003 / +0.006 / +0.002). 720p30 (three layers), 1 page each: 0.042 more
		 * (+0.057 / −0.014 / +0.042). The arithmetic of pixels (a quarter and a sixteenth more)
		 * said 1.3: scaling and encoding the small layers costs far less than the top one. VP8 at
		 * 360p30 adds a little more, 0.016 (+0.000 / +0.020 / +0.016: ×1.06 of its one layer).
		 * 180p15 layers only as VP9 SVC: not measured, taken as 360p30's. H264 unless said,
		 * 2026-12-03, load average 3.6–12 at the runs' end.
		 */
		simulcastFactor: { '180p15': 1.02, '360p30': 1.02, '720p30': 1.2 } satisfies Record<VideoProfile, number>,
		/**
		 * A shared screen (slides, 1080p at 5 fps): sending it, and receiving and decoding it
		 * (0.082–0.089 and 0.036–0.039 core, three runs each, a presenter page and a viewer page
		 * in Chromium processes of their own).
		 */
		sendScreenCores: 0.085,
		receiveScreenCores: 0.037,
		/**
		 * End-to-end delay marks: a bot's whole cost grows by this share when it writes marks into
		 * what it sends and reads them off what it receives (bench:bots -- --e2e 1, marked bots
		 * beside unmarked ones at 360p30: video +7.3 to +7.7 %, video and audio +24.3 to +24.6 %).
		 */
		e2eExtra: { video: 0.075, audio: 0.17 },
		/**
		 * CPU seconds a join costs at once (the page, its media, its connection, the others
		 * starting to receive it), beyond what the bot then costs to keep: bench:bots -- --joins 1,
		 * four pages joining one room in turn, three rounds: 180p15 1.81 (1.56–2.51), 360p30 1.91
		 * (1.48–2.32), load average 5.3. A 2-core machine spends most of both cores on it for 1–2 s.
		 */
		joinCpuSeconds: 1.85,
		/**
		 * Cores a browser's own processes (the browser, GPU and utility processes: its fake camera
		 * and microphone play once for all its pages) take whatever its number of pages, by what it
		 * publishes. The figures above were measured `pagesPerMeasuredBrowser` pages to a browser
		 * and hold that share of it, so a browser with fewer pages costs the rest. Each is the fixed
		 * part of a straight line through the whole browser's CPU at 2 and at 8 pages (bench:bots --
		 * --bots 2|8 --sampling 0; medians of 3 runs for 180p15 (0.085, 0.109, 0.069) and 360p30
		 * (0.227, 0.205, 0.197), 2 for audio-only (0.059, 0.040)), and for 720p30 at 2 and 4 pages
		 * (0.38, 0.28: eight such pages saturate a 2-core machine); load average 7–13 with the
		 * bench's own browsers, 2026-12-01, the slower machine. A page that publishes nothing is
		 * taken as audio-only (its browser still plays the audio it receives).
		 */
		browserWideCores: { none: 0.05, 'audio-only': 0.05, '180p15': 0.085, '360p30': 0.205, '720p30': 0.3 } satisfies Record<PublishProfile, number>,
		pagesPerMeasuredBrowser: 4,
		/** Memory per page (PSS), and per Chromium process before its first page. */
		pageMiB: { none: 45, 'audio-only': 50, '180p15': 62, '360p30': 64, '720p30': 82 } satisfies Record<PublishProfile, number>,
		processMiB: 450,
	},
	lite: {
		/** Cores per sent stream of each kind (pre-encoded media, RTP, SRTP, RTCP). */
		sendAudioCores: 0.002,
		sendVideoCores: { '180p15': 0.0036, '360p30': 0.0075, '720p30': 0.015 } satisfies Record<VideoProfile, number>,
		/** Cores per received stream (nothing is decoded). */
		receiveAudioCores: 0.0025,
		receiveVideoCores: { '180p15': 0.006, '360p30': 0.012, '720p30': 0.024 } satisfies Record<VideoProfile, number>,
		/**
		 * Sending its own marked media (scenario e2e with lite on) instead of shared pre-encoded
		 * media: sent streams cost this much more (bench:lite -- --e2e: 0.41 vs 0.34 % of a core per
		 * stream at 180p15, 0.71 vs 0.45 % at 360p30; 720p30 not measured, taken as 360p30), each
		 * bot holds its loops, and encoding them costs 0.44 / 0.90 CPU s per join.
		 */
		e2eSendFactor: { '180p15': 1.2, '360p30': 1.58, '720p30': 1.58 } satisfies Record<VideoProfile, number>,
		/**
		 * CPU seconds of its process a join costs at once (signaling, ICE and DTLS, the first
		 * streams), beyond what the bot then costs to keep: bench:lite 0.05 for a sender (the join
		 * alone), bench:viewers 0.065–0.114 (median of 3 runs 0.082) for a receiver of audio and
		 * video until its media flows (processes started before, 2026-12-01, the slower machine).
		 * With marks, its own media is encoded too: e2eJoinCpuSeconds instead (bench:lite --
		 * --e2e: 0.44 at 180p15, 0.90 at 360p30; 720p30 not measured, taken as 360p30; audio alone
		 * as 180p15). The bundled SFU's part of a join (5–10 ms) is not counted, as for browser joins.
		 */
		joinCpuSeconds: 0.1,
		e2eJoinCpuSeconds: { '180p15': 0.44, '360p30': 0.9, '720p30': 0.9 } satisfies Record<VideoProfile, number>,
		e2eBotMiB: 2.7,
		botMiB: 3,
		/** Per process of lite bots and viewers, before its first bot. */
		processMiB: 90,
		/**
		 * Cores a process of lite bots and viewers takes once it has bots, beyond their streams (its
		 * media clock, stats rounds, telemetry, loop watch and health reports): bench:lite --publish
		 * audio-only --counts 1,4,8,16,40 (one process each), what a count cost less the per-stream
		 * figures above, 2026-12-03, the slower machine, load average 0.4–1.8: senders 0.030 /
		 * 0.059 / 0.064 / 0.047 / 0.064, receivers 0.038 / 0.069 / 0.056 / 0.044 / 0.077 (median
		 * 0.057). A process with no bot yet takes 0.015 (idle 20 s, 3 runs: 0.017 / 0.009 / 0.015).
		 */
		processCores: 0.055,
	},
	viewer: {
		/**
		 * Cores per received stream: a viewer counts headers, it decrypts and decodes nothing
		 * (bench:viewers: 0.17–0.24 % of a core per viewer of audio + 180p15, split by packet rate).
		 */
		receiveAudioCores: 0.0013,
		receiveVideoCores: { '180p15': 0.0007, '360p30': 0.0014, '720p30': 0.0028 } satisfies Record<VideoProfile, number>,
		/** Viewers share the lite bots' processes (lite.processMiB). */
		botMiB: 1,
		/**
		 * CPU seconds of its process a join costs until its media flows, beyond keeping it
		 * (bench:viewers, steps of 100 to 400 viewers joining 25 at a time, 3 runs, 2026-12-01, the
		 * slower machine: 3–5 ms, 10–12 ms in a process's first step); the SFU's part, 1–2 ms, is not
		 * counted.
		 */
		joinCpuSeconds: 0.01,
	},
	/** The bundled SFU: one mediasoup worker core carries about 1,800 consumers (bench:sfu-capacity). */
	sfuCoresPerConsumer: 1 / 1800,
	/** The in-process collector: about 30,000 samples per CPU-second (bench:ingest). */
	collectorCoresPerSamplePerSecond: 1 / 30_000,
	/** The runner itself (schedule, telemetry sender, CDP): a small fixed share. */
	runnerCores: 0.05,
	runnerMiB: 300,
} as const;

import os from 'node:os';
import { z } from 'zod';
import { parseInput, wholeNumberText } from '../protocol/issues.ts';

const Port = z.number().int().min(0).max(65535);

export const SfuOptions = z
	.object({
		/** Address the HTTP/WebSocket server binds to. */
		listenIp: z.string().min(1).default('127.0.0.1'),
		/** HTTP/WebSocket port; 0 picks a free one. */
		port: Port.default(4000),
		/** Address the media (RTP/ICE) sockets bind to; defaults to listenIp. */
		rtcListenIp: z.string().min(1).optional(),
		/** Address given to clients in ICE candidates, for NAT or 0.0.0.0 binds. */
		announcedAddress: z.string().min(1).optional(),
		rtcMinPort: Port.default(40000),
		rtcMaxPort: Port.default(49999),
		enableTcp: z.boolean().default(true),
		/** mediasoup worker processes; one per core by default. */
		workers: z.number().int().min(1).max(256).default(Math.max(1, os.availableParallelism())),
		maxRooms: z.number().int().min(1).default(1000),
		maxPeersPerRoom: z.number().int().min(1).default(200),
		/** Viewers (receive-only audience) a room takes besides its participants. */
		maxViewersPerRoom: z.number().int().min(0).default(5000),
		/**
		 * Each viewer receives from the least-loaded worker, the room's producers piped there
		 * (mediasoup's pipeToRouter), rather than all from the room's own worker.
		 */
		spreadViewers: z.boolean().default(true),
		/** Signaling messages above this size get a message_too_large error reply. */
		maxMessageBytes: z.number().int().min(1024).max(16 * 1024 * 1024).default(256 * 1024),
		initialAvailableOutgoingBitrate: z.number().int().positive().default(1_000_000),
		logLevel: z.enum(['debug', 'warn', 'error', 'none']).default('warn'),
		/**
		 * Signaling liveness: every this many ms the SFU pings each connection; one that has not
		 * answered the previous ping (a stopped or vanished peer) is closed and the room told.
		 */
		heartbeatMs: z.number().int().min(100).max(600_000).default(10_000),
		/** A worker that dies is replaced by a new one (and its rooms reset). */
		respawnWorkers: z.boolean().default(true),
	})
	.refine((o) => o.rtcMinPort <= o.rtcMaxPort, {
		message: 'rtcMinPort must not exceed rtcMaxPort',
		path: ['rtcMaxPort'],
	});

export type SfuOptionsInput = z.input<typeof SfuOptions>;
export type SfuOptions = z.output<typeof SfuOptions>;

/** Environment variables the `callswarm sfu` command and startSfu() read. */
export const SfuEnv = z.object({
	CALLSWARM_SFU_LISTEN_IP: z.string().optional(),
	CALLSWARM_SFU_PORT: wholeNumberText.optional(),
	CALLSWARM_SFU_RTC_LISTEN_IP: z.string().optional(),
	CALLSWARM_SFU_ANNOUNCED_ADDRESS: z.string().optional(),
	CALLSWARM_SFU_RTC_PORTS: z
		.string()
		.regex(/^\d+-\d+$/, 'must look like 40000-49999')
		.optional(),
	CALLSWARM_SFU_WORKERS: wholeNumberText.optional(),
	CALLSWARM_SFU_MAX_ROOMS: wholeNumberText.optional(),
	CALLSWARM_SFU_MAX_PEERS_PER_ROOM: wholeNumberText.optional(),
	CALLSWARM_SFU_MAX_VIEWERS_PER_ROOM: wholeNumberText.optional(),
	CALLSWARM_SFU_HEARTBEAT_MS: wholeNumberText.optional(),
});

export function sfuOptionsFromEnv(env: NodeJS.ProcessEnv): SfuOptionsInput {
	const e = parseInput(SfuEnv, env, 'environment');
	const [rtcMinPort, rtcMaxPort] = e.CALLSWARM_SFU_RTC_PORTS?.split('-').map(Number) ?? [];
	const picked: SfuOptionsInput = {
		listenIp: e.CALLSWARM_SFU_LISTEN_IP,
		port: e.CALLSWARM_SFU_PORT,
		rtcListenIp: e.CALLSWARM_SFU_RTC_LISTEN_IP,
		announcedAddress: e.CALLSWARM_SFU_ANNOUNCED_ADDRESS,
		rtcMinPort,
		rtcMaxPort,
		workers: e.CALLSWARM_SFU_WORKERS,
		maxRooms: e.CALLSWARM_SFU_MAX_ROOMS,
		maxPeersPerRoom: e.CALLSWARM_SFU_MAX_PEERS_PER_ROOM,
		maxViewersPerRoom: e.CALLSWARM_SFU_MAX_VIEWERS_PER_ROOM,
		heartbeatMs: e.CALLSWARM_SFU_HEARTBEAT_MS,
	};
	return Object.fromEntries(Object.entries(picked).filter(([, v]) => v !== undefined));
}

/** Codecs every room's router offers; browsers and lite bots pick from these. */
export const mediaCodecs = [
	{ kind: 'audio', mimeType: 'audio/opus', clockRate: 48000, channels: 2 },
	{ kind: 'video', mimeType: 'video/VP8', clockRate: 90000, parameters: { 'x-google-start-bitrate': 1000 } },
	{ kind: 'video', mimeType: 'video/VP9', clockRate: 90000, parameters: { 'profile-id': 0 } },
	{
		kind: 'video',
		mimeType: 'video/H264',
		clockRate: 90000,
		parameters: { 'packetization-mode': 1, 'profile-level-id': '42e01f', 'level-asymmetry-allowed': 1 },
	},
] as const;

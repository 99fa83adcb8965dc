/** The bot page: joins a room from its URL parameters and exposes window.callswarm. */
import { Device } from 'mediasoup-client';
import { describeZodError } from '../../protocol/issues.ts';
import type { ParticipantEvent } from '../../protocol/telemetry.ts';
import { installCapture } from '../../capture/install.ts';
import { CaptureConfig } from '../../protocol/capture.ts';
import type { BotPageApi, RawStatsSnapshot } from './api.ts';
import { BotPageParams, layeredEncodings, parseVideo } from './params.ts';
import { slidesTrack } from './screen.ts';
import { CallClient, recordParticipantEvents, SignalingClient } from '../client/index.ts';

declare global {
	interface Window {
		callswarm: BotPageApi;
	}
}

// One stats capture for every page: a browser bot injects it before this script runs; opened by
// hand, the page installs its own (sampling on demand only).
const capture = installCapture(CaptureConfig.parse({ sample: false }));

const stateElement = document.getElementById('state');
const show = (text: string): void => {
	if (stateElement) stateElement.textContent = text;
};

const parsed = BotPageParams.safeParse(Object.fromEntries(new URLSearchParams(location.search)));
if (!parsed.success) {
	const message = `invalid bot page parameters: ${describeZodError(parsed.error)}`;
	show(message);
	throw new Error(message);
}
const params = parsed.data;
const peerId = params.peer ?? `peer-${crypto.randomUUID().slice(0, 8)}`;
const wsUrl = params.ws ?? `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;

const events: ParticipantEvent[] = [];
let lastError: string | undefined;
const signaling = new SignalingClient(wsUrl, (url) => new WebSocket(url));
const call = new CallClient({
	roomId: params.room,
	peerId,
	displayName: params.name,
	botKind: 'browser',
	signaling,
	createDevice: () => new Device(),
	subscribe: {
		audio: params.subscribe === 'all' || params.subscribe === 'audio',
		video: params.subscribe === 'all' || params.subscribe === 'video',
		layer: params.layer,
		lastN: params.lastN,
		audioTopN: params.audioTopN,
	},
	rejoinOnReset: params.rejoin,
});
call.on('state', (state) => show(state));
const recorder = recordParticipantEvents(call, (event) => events.push(event));
call.on('failed', (error) => {
	lastError = error.message;
});
call.on('consumefailed', ({ producerId, message }) => console.warn(`cannot receive producer ${producerId}: ${message}`));

// Received audio is played out (to Chromium's muted sink): without a sink the receiver never
// pulls samples, and concealment and samples-received stats stay at zero.
const players = new Map<string, HTMLAudioElement>();
call.on('consumer', ({ consumer, screen }) => {
	if (screen) window.__callswarmCapture?.markScreen(consumer.track.id);
	if (consumer.kind !== 'audio') return;
	const player = new Audio();
	player.srcObject = new MediaStream([consumer.track]);
	void player.play().catch(() => undefined);
	players.set(consumer.id, player);
	consumer.observer.once('close', () => {
		player.srcObject = null;
		players.delete(consumer.id);
	});
});

let media: MediaStream | undefined;
let speaking = !params.muted;
let screen: MediaStreamTrack | undefined;

async function join(): Promise<void> {
	const video = parseVideo(params.video);
	if (!media && (params.audio || video)) {
		media = await navigator.mediaDevices.getUserMedia({
			audio: params.audio
				? { echoCancellation: params.processing, noiseSuppression: params.processing, autoGainControl: params.processing }
				: false,
			video: video
				? { width: video.width, height: video.height, frameRate: video.frameRate }
				: false,
		});
		for (const track of media.getTracks()) {
			if (track.kind === 'audio') track.enabled = speaking;
			await call.publish(track, {
				codecMimeType: track.kind === 'video' ? `video/${params.codec}` : undefined,
				encodings:
					track.kind !== 'video'
						? undefined
						: params.simulcast && video
							? layeredEncodings(params.codec, video, params.maxBitrate)
							: params.maxBitrate
								? [{ maxBitrate: params.maxBitrate }]
								: undefined,
				degradationPreference: track.kind === 'video' ? 'maintain-resolution' : undefined,
			});
		}
	}
	if (params.screen && !screen) {
		screen = slidesTrack();
		await call.publish(screen, {
			codecMimeType: `video/${params.codec}`,
			degradationPreference: 'maintain-resolution',
			appData: { source: 'screen' },
		});
	}
	await signaling.connect();
	await call.join();
}

async function leave(): Promise<void> {
	await call.leave();
	for (const track of media?.getTracks() ?? []) track.stop();
	screen?.stop();
	events.push({ type: 'leave', ts: Date.now(), reason: 'left' });
}

async function getStats(options: { known?: boolean } = {}): Promise<RawStatsSnapshot[]> {
	return (await capture.snapshot({ stats: options.known ? 'known' : 'full' })) as RawStatsSnapshot[];
}

async function reconnect(reason: string): Promise<void> {
	recorder.reconnecting(reason);
	await call.reconnect();
}

window.callswarm = {
	join,
	leave,
	reconnect,
	getStats,
	state: () => ({
		state: call.state,
		roomId: params.room,
		peerId,
		peers: [...call.peers],
		producers: [...call.producers.values()].map((p) => ({ producerId: p.id, kind: p.kind })),
		consumers: [...call.consumers.entries()].map(([consumerId, r]) => ({
			consumerId,
			peerId: r.peerId,
			kind: r.consumer.kind,
			trackId: r.consumer.track.id,
			forwarded: r.forwarded,
			screen: r.screen,
		})),
		activeSpeaker: call.activeSpeaker,
		speaking,
		error: lastError,
	}),
	setSpeaking: (on) => {
		speaking = on;
		for (const track of media?.getAudioTracks() ?? []) track.enabled = on;
	},
	drainEvents: () => events.splice(0, events.length),
};

if (params.autojoin) {
	join().catch((error: unknown) => {
		lastError = error instanceof Error ? error.message : String(error);
		events.push({ type: 'fail', ts: Date.now(), reason: lastError });
		show(`failed: ${lastError}`);
	});
}

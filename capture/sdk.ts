/**
 * callswarm's monitoring SDK for real apps: load it before the app opens its first
 * RTCPeerConnection, and every connection is sampled with getStats() (the load generator's own
 * capture: one implementation), redacted in the page, batched, gzipped where the browser can,
 * and posted to the collector with the app's ingest key. On page hide, what is left goes with
 * sendBeacon. Call and user ids are SHA-256 hashed in the page; the collector keys them again
 * with the app's secret salt. Each request says when it was sent, by the device's clock: the
 * collector corrects the times of a device whose clock is far off.
 *
 *   import { monitor } from 'https://collector.example.com/sdk/callswarm.js';
 *   const session = await monitor({ collector: 'https://collector.example.com', appId: 'acme',
 *     key: 'csk_…', callId: room.id, userId: me.id, labels: { version: '4.2.0', region: 'eu' } });
 *   …
 *   await session.stop();
 */
import * as z from 'zod/mini';
import { appIdPattern, appTelemetryPath, callSampledIn, edgeHashInput, edgeHashPrefix, ingestKeyHeader, ingestKeyPattern } from '../protocol/sdk.ts';
import { BaselineKeeper } from '../protocol/baseline.ts';
import { PeerConnectionCapture } from './PeerConnectionCapture.ts';

/** zod's small build: the SDK checks its options without weighing on the page. */
export const MonitorOptions = z.object({
	/** The collector's base URL, e.g. "https://collector.example.com". */
	collector: z.url({ protocol: /^https?$/ }),
	appId: z.string().check(z.regex(appIdPattern, 'an app id: lower-case letters, digits, _ and -')),
	/** An ingest key of the app (it can only post telemetry; it is public in the page anyway). */
	key: z.string().check(z.regex(ingestKeyPattern, 'an ingest key (csk_…)')),
	/** The app's id for the call: every participant of a call gives the same. */
	callId: z.string().check(z.minLength(1), z.maxLength(200)),
	/** The app's id for the user (opaque or hashed: it is hashed again here and at the collector). */
	userId: z.string().check(z.minLength(1), z.maxLength(200)),
	/** Free labels for the app view's breakdowns: version (or appVersion), region, anything else. */
	labels: z._default(z.record(z.string().check(z.maxLength(40), z.regex(/^[\w.-]+$/)), z.string().check(z.maxLength(100))), {}),
	/** getStats() this often, and a batch sent this often. */
	intervalMs: z._default(z.number().check(z.int(), z.minimum(1000), z.maximum(600_000)), 5000),
	/** Share of calls monitored (0..1), decided per call id so a call is all in or all out. */
	sample: z._default(z.number().check(z.minimum(0), z.maximum(1)), 1),
	/** Most bytes sent per minute (before gzip): above it, snapshots wait for the next minute; events always go. */
	budgetBytesPerMinute: z._default(z.number().check(z.int(), z.minimum(10_000)), 256 * 1024),
	/** "known": only what the collector's metrics read (default, the smallest); "full": every allow-listed field. */
	stats: z._default(z.enum(['known', 'full']), 'known'),
	/** A connection not up this long after monitor() reports a failed join. */
	joinTimeoutMs: z._default(z.number().check(z.int(), z.positive()), 30_000),
});
export type MonitorOptions = z.input<typeof MonitorOptions>;

export interface MonitorStats {
	bytesSent: number;
	wireBytesSent: number;
	batchesSent: number;
	snapshotsDeferred: number;
	failures: number;
	/** Milliseconds in getStats() and redaction (wall time: getStats also waits on the browser's WebRTC thread). */
	sampleMs: number;
	/** Milliseconds building, serialising and compressing batches. */
	encodeMs: number;
}

export interface MonitorSession {
	/** This page load's session id (a user on two devices is two sessions). */
	readonly sessionId: string;
	/** Whether this call is monitored (the sample share and the collector agree). */
	readonly sampled: boolean;
	/** A received track is a shared screen: its figures count as screen share, not camera (sent screens are recognised by themselves). */
	markScreen(trackId: string): void;
	/** Sends what is buffered now. */
	flush(): Promise<void>;
	/** Stops sampling and sends what is left. */
	stop(): Promise<void>;
	/** What monitoring cost so far: bytes (before and after gzip) and batches sent, snapshots held back by the budget, failed posts, and time spent sampling and encoding. */
	stats(): MonitorStats;
}

/** Queued bodies kept while the collector cannot be reached (oldest go first). */
const maxQueued = 30;
/** Browsers refuse keepalive bodies above 64 KiB. */
const keepaliveLimit = 60_000;

async function edgeHash(appId: string, id: string): Promise<string> {
	if (id.startsWith(edgeHashPrefix)) return id;
	const subtle = globalThis.crypto?.subtle;
	// Without SubtleCrypto (a page served over plain HTTP), the collector hashes it the same way.
	if (!subtle) return id;
	const digest = await subtle.digest('SHA-256', new TextEncoder().encode(edgeHashInput(appId, id)));
	return edgeHashPrefix + [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

async function gzip(text: string): Promise<Blob | undefined> {
	if (typeof CompressionStream === 'undefined') return undefined;
	const stream = new Blob([text]).stream().pipeThrough(new CompressionStream('gzip'));
	return new Response(stream).blob();
}

export async function monitor(input: MonitorOptions): Promise<MonitorSession> {
	const options = MonitorOptions.parse(input);
	const [callId, userId] = await Promise.all([edgeHash(options.appId, options.callId), edgeHash(options.appId, options.userId)]);
	const sessionId = globalThis.crypto.randomUUID().replaceAll('-', '').slice(0, 16);
	const url = new URL(appTelemetryPath.replace(':appId', options.appId), options.collector).toString();
	const counters: MonitorStats = { bytesSent: 0, wireBytesSent: 0, batchesSent: 0, snapshotsDeferred: 0, failures: 0, sampleMs: 0, encodeMs: 0 };
	let sampled = callSampledIn(callId, options.sample);
	const session: MonitorSession = {
		sessionId,
		get sampled() {
			return sampled;
		},
		markScreen: () => undefined,
		flush: async () => undefined,
		stop: async () => undefined,
		stats: () => ({ ...counters }),
	};
	if (!sampled) return session;

	// Sampling is driven here (not by the capture's own timer) so its cost is measured.
	const capture = new PeerConnectionCapture({ statsIntervalMs: options.intervalMs, sample: false, stats: options.stats, forceRelay: false, joinTimeoutMs: options.joinTimeoutMs });
	capture.install(globalThis);
	session.markScreen = (trackId) => capture.markScreen(trackId);
	const sample = async () => {
		const started = performance.now();
		await capture.sample();
		counters.sampleMs += performance.now() - started;
	};
	const queue: string[] = [];
	// Each batch carries the counters it is measured against: any collector can take it.
	const baselines = new BaselineKeeper();
	let minute = Math.floor(Date.now() / 60_000);
	let minuteBytes = 0;
	let held: ReturnType<PeerConnectionCapture['drain']>['snapshots'] = [];
	let retryAt = 0;
	let backoffMs = 1000;
	let stopped = false;
	let sending: Promise<void> | undefined;

	/** The next batch: everything drained, snapshots within this minute's budget. */
	const nextBody = (): string | undefined => {
		const started = performance.now();
		try {
			return buildBody();
		} finally {
			counters.encodeMs += performance.now() - started;
		}
	};
	const buildBody = (): string | undefined => {
		const drained = capture.drain();
		const now = Math.floor(Date.now() / 60_000);
		if (now !== minute) {
			minute = now;
			minuteBytes = 0;
		}
		held.push(...drained.snapshots);
		const base = { batchId: globalThis.crypto.randomUUID(), callId, userId, sessionId, labels: options.labels, userAgent: navigator.userAgent, events: drained.events };
		let snapshots = held;
		const encode = () => JSON.stringify({ ...base, snapshots, baseline: baselines.peek('page', snapshots) });
		let body = encode();
		while (snapshots.length > 0 && minuteBytes + body.length > options.budgetBytesPerMinute) {
			snapshots = snapshots.slice(0, Math.floor(snapshots.length / 2));
			body = encode();
		}
		baselines.take('page', snapshots);
		held = held.slice(snapshots.length);
		// Over budget, a snapshot waits; too many waiting, the oldest go (their counters are cumulative: nothing is lost but resolution).
		counters.snapshotsDeferred += held.length;
		if (held.length > 120) held = held.slice(-120);
		if (snapshots.length === 0 && drained.events.length === 0) return undefined;
		minuteBytes += body.length;
		return body;
	};

	const post = async (body: string): Promise<'sent' | 'retry' | 'drop'> => {
		const started = performance.now();
		const compressed = body.length > 1024 ? await gzip(body) : undefined;
		counters.encodeMs += performance.now() - started;
		const payload = compressed ?? body;
		const size = compressed ? compressed.size : body.length;
		try {
			// Stamped on every attempt: the collector corrects the times of a device whose clock is far off.
			const response = await fetch(`${url}?sentAt=${Date.now()}`, {
				method: 'POST',
				headers: { 'content-type': 'application/json', [ingestKeyHeader]: options.key, ...(compressed ? { 'content-encoding': 'gzip' } : {}) },
				body: payload,
				keepalive: size < keepaliveLimit,
				mode: 'cors',
				credentials: 'omit',
			});
			if (response.status === 202) {
				const reply = (await response.json().catch(() => ({}))) as { notSampled?: number };
				// The app monitors a smaller share than this page was told: this call is out.
				if ((reply.notSampled ?? 0) > 0) sampled = false;
				counters.bytesSent += body.length;
				counters.wireBytesSent += size;
				counters.batchesSent++;
				return 'sent';
			}
			counters.failures++;
			return response.status === 429 || response.status >= 500 ? 'retry' : 'drop';
		} catch {
			counters.failures++;
			return 'retry';
		}
	};

	const pump = async (): Promise<void> => {
		if (sampled) await sample();
		const body = sampled ? nextBody() : undefined;
		if (body) {
			queue.push(body);
			if (queue.length > maxQueued) queue.shift();
		}
		while (queue.length > 0 && Date.now() >= retryAt && sampled) {
			const outcome = await post(queue[0]!);
			if (outcome === 'retry') {
				retryAt = Date.now() + backoffMs;
				backoffMs = Math.min(backoffMs * 2, 60_000);
				return;
			}
			queue.shift();
			backoffMs = 1000;
		}
	};
	const send = (): Promise<void> => {
		sending ??= pump().finally(() => {
			sending = undefined;
		});
		return sending;
	};
	const timer = setInterval(() => void send(), options.intervalMs);

	/** The page is going away: whatever is left goes with sendBeacon (no headers: the key rides in the URL). */
	const onHide = () => {
		if (stopped || !sampled) return;
		const body = nextBody();
		const bodies = [...queue.splice(0), ...(body ? [body] : [])];
		const beaconUrl = `${url}?key=${encodeURIComponent(options.key)}&sentAt=${Date.now()}`;
		for (const b of bodies) {
			if (!navigator.sendBeacon?.(beaconUrl, new Blob([b], { type: 'text/plain' }))) queue.push(b);
		}
	};
	addEventListener('pagehide', onHide);
	const onVisibility = () => {
		if (document.visibilityState === 'hidden') onHide();
	};
	document.addEventListener('visibilitychange', onVisibility);

	session.flush = async () => {
		// A pump already running sampled earlier: one more samples and sends now.
		await send();
		await send();
	};
	session.stop = async () => {
		if (stopped) return;
		clearInterval(timer);
		capture.stop();
		await session.flush();
		stopped = true;
		removeEventListener('pagehide', onHide);
		document.removeEventListener('visibilitychange', onVisibility);
	};
	return session;
}

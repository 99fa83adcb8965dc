/**
 * Stats capture for any WebRTC page, the way rtcstats does it: RTCPeerConnection is wrapped
 * before any page script runs, so every connection the page opens is registered, sampled with
 * getStats() and watched. Participant events come from the connections themselves, without the
 * app's help: join (the first connection up), first media (the first decoded frame or received
 * audio, counted from the join or, later, from the first remote track offered: a participant
 * alone in a room has nothing to wait for), reconnect (a connection back after an outage, or a
 * new one after a failure) and fail.
 *
 * One capture serves callswarm's bot page, any app a browser bot opens, and (with its own
 * sender) the monitoring SDK that real apps load.
 */
import type { CaptureConfig, CapturedConnection } from '../protocol/capture.ts';
import { redactStats } from '../protocol/redaction.ts';
import type { E2eReceiver } from './e2e.ts';
import { markScreenStats, screenMids } from './screenStats.ts';
import type { ParticipantEvent, StatsSnapshotInput } from '../protocol/telemetry.ts';

interface Entry {
	pc: RTCPeerConnection;
	label: string | undefined;
	everConnected: boolean;
	/** When the connection went down (disconnected or failed) after being up. */
	downSince: number | undefined;
	failedReported: boolean;
	closed: boolean;
}

/** Buffered snapshots kept when nobody drains them (oldest go first). */
const maxBuffered = 2000;
const firstMediaPollMs = 250;
const firstMediaGiveUpMs = 120_000;

type Scope = typeof globalThis & { RTCPeerConnection?: typeof RTCPeerConnection; webkitRTCPeerConnection?: typeof RTCPeerConnection };

export class PeerConnectionCapture {
	readonly #entries: Entry[] = [];
	#snapshots: StatsSnapshotInput[] = [];
	#events: ParticipantEvent[] = [];
	#joinStart = Date.now();
	/** When the first remote track arrived: a participant alone in a room has no media to wait for. */
	#firstTrackAt: number | undefined;
	#joined = false;
	#firstMedia = false;
	#pollingMedia = false;
	#anyFailed = false;
	#timer: ReturnType<typeof setInterval> | undefined;
	#joinTimer: ReturnType<typeof setTimeout> | undefined;
	readonly #labels = new Map<string, number>();
	/** Received tracks the page said are shared screens. */
	readonly #screenTracks = new Set<string>();
	/** Reads delay marks off received video (browser bots with end-to-end delay on). */
	readonly #e2e: E2eReceiver | undefined;

	/** `e2e` is given by bots' capture only: the monitoring SDK (real calls, no marks) leaves it, and its code, out. */
	constructor(
		private readonly config: CaptureConfig,
		e2e?: E2eReceiver,
	) {
		this.#e2e = e2e;
	}

	/** Wraps the scope's RTCPeerConnection and starts sampling. Idempotent per scope. */
	install(scope: Scope): void {
		const Native = scope.RTCPeerConnection;
		if (!Native || (Native as unknown as { __callswarm?: boolean }).__callswarm) return;
		const capture = this;
		class CapturedPeerConnection extends Native {
			static readonly __callswarm = true;
			constructor(configuration?: RTCConfiguration) {
				super(capture.#configure(configuration));
				capture.#register(this);
			}

			override setConfiguration(configuration?: RTCConfiguration): void {
				super.setConfiguration(capture.#configure(configuration));
			}
		}
		scope.RTCPeerConnection = CapturedPeerConnection;
		if (scope.webkitRTCPeerConnection) scope.webkitRTCPeerConnection = CapturedPeerConnection;
		if (this.config.sample) this.#timer = setInterval(() => void this.sample(), this.config.statsIntervalMs);
		this.markJoinStart();
	}

	/** The join starts now: join and first-media durations count from here; the join timeout restarts. */
	markJoinStart(): void {
		this.#joinStart = Date.now();
		clearTimeout(this.#joinTimer);
		this.#joinTimer = setTimeout(() => {
			if (!this.#joined) {
				this.#event({ type: 'fail', ts: Date.now(), reason: `no connection was up ${Math.round(this.config.joinTimeoutMs / 1000)} s after the join started` });
			}
		}, this.config.joinTimeoutMs);
	}

	drain(): { snapshots: StatsSnapshotInput[]; events: ParticipantEvent[] } {
		const out = { snapshots: this.#snapshots, events: this.#events };
		this.#snapshots = [];
		this.#events = [];
		return out;
	}

	markScreen(trackId: string): void {
		this.#screenTracks.add(trackId);
	}

	connections(): CapturedConnection[] {
		return this.#entries.map((e) => ({ label: this.#labelOf(e), connectionState: e.pc.connectionState, everConnected: e.everConnected }));
	}

	/**
	 * getStats() of every open connection that has been up, one snapshot each, redacted before
	 * it leaves this function: no addresses, ICE usernames, fingerprints or device names.
	 */
	async snapshot(options: { stats?: 'known' | 'full' } = {}): Promise<StatsSnapshotInput[]> {
		const ts = Date.now();
		const mode = options.stats ?? this.config.stats;
		const snapshots = await Promise.all(
			this.#entries
				.filter((e) => !e.closed && e.everConnected)
				.map(async (entry): Promise<StatsSnapshotInput | undefined> => {
					try {
						const report = await entry.pc.getStats();
						const stats = markScreenStats([...(report.values() as IterableIterator<Record<string, unknown>>)], {
							...screenMids(entry.pc, this.#screenTracks),
							receivedTracks: this.#screenTracks,
						});
						return { ts, pc: this.#labelOf(entry), stats: redactStats(stats, mode) };
					} catch {
						// A connection closing while sampled has nothing more to say.
						return undefined;
					}
				}),
		);
		const out = snapshots.filter((s): s is StatsSnapshotInput => s !== undefined);
		const e2e = this.#e2e?.stats(ts) ?? [];
		if (e2e.length) out.push({ ts, pc: 'e2e', stats: e2e });
		return out;
	}

	/** Samples into the buffer `drain()` empties. */
	async sample(): Promise<void> {
		// The buffer is read after the await: a drain() meanwhile replaced it (pushing into the old one would lose these).
		const snapshots = await this.snapshot();
		this.#snapshots.push(...snapshots);
		if (this.#snapshots.length > maxBuffered) this.#snapshots.splice(0, this.#snapshots.length - maxBuffered);
	}

	stop(): void {
		clearInterval(this.#timer);
		clearTimeout(this.#joinTimer);
	}

	#configure(configuration: RTCConfiguration | undefined): RTCConfiguration {
		const out: RTCConfiguration = { ...configuration };
		if (this.config.iceServers) out.iceServers = this.config.iceServers;
		if (this.config.forceRelay) out.iceTransportPolicy = 'relay';
		return out;
	}

	#register(pc: RTCPeerConnection): void {
		const entry: Entry = { pc, label: undefined, everConnected: false, downSince: undefined, failedReported: false, closed: false };
		this.#entries.push(entry);
		const onChange = () => this.#onState(entry);
		pc.addEventListener('connectionstatechange', onChange);
		// Browsers without connectionState still report the ICE state.
		pc.addEventListener('iceconnectionstatechange', onChange);
		pc.addEventListener('track', (event) => {
			this.#firstTrackAt ??= Date.now();
			this.#e2e?.watch(event.track);
		});
	}

	#state(pc: RTCPeerConnection): string {
		const state = pc.connectionState as string | undefined;
		if (state) return state;
		const ice = pc.iceConnectionState;
		return ice === 'completed' ? 'connected' : ice;
	}

	#onState(entry: Entry): void {
		const state = this.#state(entry.pc);
		const now = Date.now();
		if (state === 'connected') {
			if (!this.#joined) {
				this.#joined = true;
				clearTimeout(this.#joinTimer);
				this.#event({ type: 'join', ts: now, durationMs: now - this.#joinStart });
			} else if (entry.downSince !== undefined) {
				this.#event({ type: 'reconnect', ts: now, durationMs: now - entry.downSince, reason: `connection ${this.#labelOf(entry)} back up` });
			} else if (!entry.everConnected && this.#anyFailed) {
				this.#event({ type: 'reconnect', ts: now, reason: `new connection ${this.#labelOf(entry)} after a failure` });
			}
			entry.everConnected = true;
			entry.downSince = undefined;
			entry.failedReported = false;
			this.#labelOf(entry);
			if (!this.#firstMedia) void this.#pollFirstMedia();
		} else if ((state === 'disconnected' || state === 'failed') && entry.everConnected) {
			entry.downSince ??= now;
			if (state === 'failed' && !entry.failedReported) {
				entry.failedReported = true;
				this.#anyFailed = true;
				this.#event({ type: 'fail', ts: now, reason: `connection ${this.#labelOf(entry)} failed (ICE)` });
			}
		} else if (state === 'failed' && !entry.failedReported) {
			entry.failedReported = true;
			this.#anyFailed = true;
			if (!this.#joined) this.#event({ type: 'fail', ts: now, reason: 'a connection failed before any was up (ICE)' });
		} else if (state === 'closed') {
			entry.closed = true;
		}
	}

	/**
	 * Stable names from what a connection carries: "send", "recv", "p2p-<n>" for one that both
	 * sends and receives (a mesh link, or an SFU connection carrying both), numbered when repeated.
	 */
	#labelOf(entry: Entry): string {
		if (entry.label) return entry.label;
		let send = false;
		let recv = false;
		for (const t of entry.pc.getTransceivers?.() ?? []) {
			const direction = t.currentDirection ?? t.direction;
			if (direction === 'stopped' || direction === 'inactive') continue;
			if (direction.includes('send')) send = true;
			if (direction.includes('recv')) recv = true;
		}
		if (!send && !recv) return 'pc';
		const kind = send && recv ? 'p2p' : send ? 'send' : 'recv';
		const n = (this.#labels.get(kind) ?? 0) + 1;
		this.#labels.set(kind, n);
		entry.label = kind === 'p2p' || n > 1 ? `${kind}-${n}` : kind;
		return entry.label;
	}

	/** Polls received streams until the first decoded frame or received audio. */
	async #pollFirstMedia(): Promise<void> {
		if (this.#pollingMedia) return;
		this.#pollingMedia = true;
		const giveUp = Date.now() + firstMediaGiveUpMs;
		try {
			while (!this.#firstMedia && Date.now() < giveUp) {
				for (const entry of this.#entries.filter((e) => !e.closed && e.everConnected)) {
					const report = await entry.pc.getStats().catch(() => undefined);
					for (const stat of (report?.values() ?? []) as IterableIterator<Record<string, unknown>>) {
						if (stat.type !== 'inbound-rtp' || this.#firstMedia) continue;
						const kind = (stat.kind ?? stat.mediaType) as 'audio' | 'video' | undefined;
						const flowing = kind === 'video' ? Number(stat.framesDecoded ?? 0) > 0 : Number(stat.totalSamplesReceived ?? stat.packetsReceived ?? 0) > 0;
						if (flowing) {
							this.#firstMedia = true;
							const from = Math.max(this.#joinStart, this.#firstTrackAt ?? this.#joinStart);
							this.#event({ type: 'first-media', ts: Date.now(), durationMs: Date.now() - from, ...(kind ? { mediaKind: kind } : {}) });
						}
					}
				}
				await new Promise((resolve) => setTimeout(resolve, firstMediaPollMs));
			}
		} finally {
			this.#pollingMedia = false;
		}
	}

	#event(event: ParticipantEvent): void {
		this.#events.push(event);
	}
}

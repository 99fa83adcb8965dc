/**
 * Stateless deltas: a sender puts the counters of its previous snapshot of each connection in
 * the next batch (`baseline`), so the collector computes per-interval deltas from that batch
 * alone. Only what identifies a stream and the cumulative counters the normaliser subtracts are
 * kept (about a third of a snapshot). No schema library here: the monitoring SDK uses it too.
 */
import type { StatsSnapshotInput } from './telemetry.ts';

const rtpIdentity = ['id', 'type', 'timestamp', 'ssrc', 'kind', 'mediaType', 'mid', 'transportId'] as const;

/** Per stats type, what a baseline keeps (collector/normalize/Normalizer.ts subtracts these). */
export const baselineFields: Readonly<Record<string, readonly string[]>> = {
	'inbound-rtp': [
		...rtpIdentity, 'packetsReceived', 'packetsLost', 'bytesReceived', 'framesDecoded', 'totalFreezesDuration',
		'jitterBufferDelay', 'jitterBufferEmittedCount', 'concealedSamples', 'totalSamplesReceived', 'frameHeight',
	],
	'outbound-rtp': [...rtpIdentity, 'packetsSent', 'bytesSent', 'framesEncoded', 'qualityLimitationDurations'],
	'remote-inbound-rtp': [...rtpIdentity, 'packetsLost'],
	'candidate-pair': ['id', 'type', 'timestamp', 'transportId', 'state', 'nominated', 'selected', 'bytesSent', 'bytesReceived'],
	transport: ['id', 'type', 'timestamp', 'selectedCandidatePairId'],
	'sfu-worker': ['id', 'type', 'timestamp', 'worker', 'pid', 'cpuSeconds', 'maxRssBytes', 'rooms', 'peers', 'producers', 'consumers'],
	'callswarm-e2e': ['id', 'type', 'timestamp', 'kind', 'senderMark', 'sender', 'framesSeen', 'marksRead', 'delaySumMs', 'freezeCount', 'frozenMs'],
};

/** A snapshot cut down to its baseline: identities and counters. */
export function baselineOf(snapshot: StatsSnapshotInput): StatsSnapshotInput {
	const stats: Array<Record<string, unknown>> = [];
	for (const stat of snapshot.stats) {
		const fields = typeof stat.type === 'string' && Object.hasOwn(baselineFields, stat.type) ? baselineFields[stat.type]! : undefined;
		if (!fields) continue;
		const kept: Record<string, unknown> = {};
		for (const field of fields) if (stat[field] !== undefined) kept[field] = stat[field];
		stats.push(kept);
	}
	return { ts: snapshot.ts, pc: snapshot.pc, stats };
}

/**
 * Remembers each sender's latest snapshot per connection, and gives a new batch its baseline
 * (the previous snapshots of the connections in it).
 */
export class BaselineKeeper {
	readonly #latest = new Map<string, { at: number; pcs: Map<string, StatsSnapshotInput> }>();
	#takes = 0;

	/** @param forgetAfterMs a sender silent this long (a bot that left) is forgotten. */
	constructor(private readonly forgetAfterMs = 10 * 60_000) {}

	/** The baseline for a batch of `sender` with these snapshots; then they become the latest. */
	take(sender: string, snapshots: readonly StatsSnapshotInput[]): StatsSnapshotInput[] {
		if (snapshots.length === 0) return [];
		const now = Date.now();
		if (++this.#takes % 5000 === 0) for (const [key, entry] of this.#latest) if (now - entry.at > this.forgetAfterMs) this.#latest.delete(key);
		let entry = this.#latest.get(sender);
		if (!entry) this.#latest.set(sender, (entry = { at: now, pcs: new Map() }));
		entry.at = now;
		const latest = entry.pcs;
		const baseline: StatsSnapshotInput[] = [];
		for (const pc of new Set(snapshots.map((s) => s.pc ?? ''))) {
			const previous = latest.get(pc);
			if (previous) baseline.push(previous);
		}
		for (const snapshot of snapshots) latest.set(snapshot.pc ?? '', baselineOf(snapshot));
		return baseline;
	}

	/** The baseline `take` would give, without remembering anything. */
	peek(sender: string, snapshots: readonly StatsSnapshotInput[]): StatsSnapshotInput[] {
		const latest = this.#latest.get(sender)?.pcs;
		if (!latest) return [];
		return [...new Set(snapshots.map((s) => s.pc ?? ''))].flatMap((pc) => latest.get(pc) ?? []);
	}
}

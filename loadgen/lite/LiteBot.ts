import { Device, type types } from 'mediasoup-client';
import { MediaStreamTrack } from 'werift';
import { WebSocket } from 'ws';
import type { NetworkConditions } from '../../protocol/scenario.ts';
import { keepKnownStats } from '../../protocol/redaction.ts';
import type { ParticipantEvent, StatsSnapshot } from '../../protocol/telemetry.ts';
import { ImpairmentRelay } from '../network/ImpairmentRelay.ts';
import type { LiteSlot } from './ipc.ts';
import type { MediaPump } from './MediaPump.ts';
import { RoundTripFigures, ReceiveJitter, type LoopStalls } from './LoopStalls.ts';
import { markScreenStats } from '../../capture/screenStats.ts';
import { senderMarkId } from '../../capture/marks.ts';
import type { MachineDelayMarks } from '../../protocol/capture.ts';
import { CallClient, recordParticipantEvents, SignalingClient, type WebSocketLike } from '../../sfu/client/index.ts';

/**
 * One browserless participant: mediasoup-client's Chrome111 handler over werift's WebRTC
 * (installed as the globals by the lite-bot process), publishing pre-encoded VP8 and Opus from
 * the process's media pump and receiving what it subscribes to. Its network goes through
 * impairment relays when the group has network conditions. With delay marks, its media carries
 * them (its own, encoded as it joins), so browsers receiving it measure its end-to-end delay.
 */
export class LiteBot {
	readonly events: ParticipantEvent[] = [];
	readonly call: CallClient;
	readonly #signaling: SignalingClient;
	readonly #relays: ImpairmentRelay[] = [];
	#detach: (() => void) | undefined;
	#network: NetworkConditions | null;
	readonly #roundTrips: RoundTripFigures;
	readonly #jitter: ReceiveJitter;

	constructor(
		readonly slot: LiteSlot,
		signalingUrl: string,
		private readonly pump: MediaPump,
		stalls: LoopStalls,
		network: NetworkConditions | null,
		private readonly marks?: MachineDelayMarks,
	) {
		this.#roundTrips = new RoundTripFigures(stalls);
		this.#jitter = new ReceiveJitter(stalls);
		this.#network = network;
		this.#signaling = new SignalingClient(signalingUrl, (url) => new WebSocket(url) as unknown as WebSocketLike);
		this.call = new CallClient({
			roomId: slot.roomId,
			peerId: slot.peerId,
			displayName: `${slot.group} ${slot.index}`,
			botKind: 'lite',
			signaling: this.#signaling,
			createDevice: () => new Device({ handlerName: 'Chrome111' }),
			subscribe: { audio: slot.subscribe === 'all' || slot.subscribe === 'audio', video: slot.subscribe === 'all' || slot.subscribe === 'video', layer: slot.layer, lastN: slot.lastN, audioTopN: slot.audioTopN },
			rejoinOnReset: true,
			mapIceCandidates: network ? (candidates) => this.#throughRelays(candidates) : undefined,
		});
		recordParticipantEvents(this.call, (event) => this.events.push(event));
		this.call.on('consumefailed', ({ producerId, message }) => this.warnings.push(`${slot.peerId} cannot receive ${producerId}: ${message}`));
	}

	readonly warnings: string[] = [];

	get joined(): boolean {
		return this.call.state === 'joined';
	}

	async join(): Promise<void> {
		this.#roundTrips.joining();
		const publish = this.slot.publish;
		const tracks: { audio?: MediaStreamTrack; video?: MediaStreamTrack } = {};
		if (publish !== 'none') tracks.audio = new MediaStreamTrack({ kind: 'audio' });
		if (publish !== 'none' && publish !== 'audio-only') tracks.video = new MediaStreamTrack({ kind: 'video' });
		if (tracks.audio) await this.call.publish(tracks.audio as unknown as globalThis.MediaStreamTrack);
		if (tracks.video) await this.call.publish(tracks.video as unknown as globalThis.MediaStreamTrack, { codecMimeType: 'video/VP8' });
		this.#detach = await this.pump.attach(publish, tracks, this.marks && { ...this.marks, sender: senderMarkId(this.slot.peerId) });
		await this.#signaling.connect();
		await this.call.join();
		this.#watchKeyframeRequests();
	}

	/** PLIs from the SFU (a new subscriber, a lost frame) ask the pump for a keyframe. */
	#watchKeyframeRequests(): void {
		for (const producer of this.call.producers.values()) {
			if (producer.kind !== 'video') continue;
			const sender = producer.rtpSender as unknown as { onPictureLossIndication?: { subscribe(cb: () => void): unknown } } | undefined;
			sender?.onPictureLossIndication?.subscribe(() => void this.pump.requestKeyframe(this.slot.publish));
		}
		this.call.once('joined', () => this.#watchKeyframeRequests());
	}

	async #throughRelays(candidates: types.IceCandidate[]): Promise<types.IceCandidate[]> {
		const out: types.IceCandidate[] = [];
		// Only UDP goes through the relay; a TCP candidate would bypass the impairment.
		for (const candidate of candidates.filter((c) => c.protocol === 'udp')) {
			const relay = await ImpairmentRelay.open({ address: candidate.address, port: candidate.port }, this.#network!);
			this.#relays.push(relay);
			out.push({ ...candidate, address: relay.address.address, ip: relay.address.address, port: relay.address.port });
		}
		return out;
	}

	setNetwork(network: NetworkConditions): void {
		this.#network = network;
		for (const relay of this.#relays) relay.setConditions(network);
	}

	async snapshots(): Promise<StatsSnapshot[]> {
		const ts = Date.now();
		const reports = await this.call.getStats();
		const receivedTracks = new Set([...this.call.consumers.values()].filter((r) => r.screen).map((r) => r.consumer.track.id));
		const looked = reports.map(({ direction, report }) => ({ pc: direction, stats: [...(report.values() as IterableIterator<Record<string, unknown>>)] }));
		this.#roundTrips.withholdStretched(looked);
		this.#jitter.withholdStretched(looked);
		return looked.map(({ pc, stats }) => ({ ts, pc, stats: keepKnownStats(markScreenStats(stats, { receivedTracks })) }));
	}

	async leave(): Promise<void> {
		await this.call.leave();
		this.events.push({ type: 'leave', ts: Date.now(), reason: 'left' });
		this.close();
	}

	close(): void {
		this.#detach?.();
		for (const relay of this.#relays) relay.close();
		this.#relays.length = 0;
	}
}

import { randomBytes, randomInt } from 'node:crypto';
import dgram from 'node:dgram';
import { ProtectionProfileAeadAes128Gcm, SrtcpSession } from 'werift';
import { WebSocket } from 'ws';
import type { RtpCapabilities } from '../../protocol/rtp.ts';
import type { NetworkConditions } from '../../protocol/scenario.ts';
import { plainTransportCryptoSuite, type ProducerInfo, type SrtpParameters } from '../../protocol/signaling.ts';
import type { ParticipantEvent, StatsSnapshot } from '../../protocol/telemetry.ts';
import { SignalingClient, type WebSocketLike } from '../../sfu/client/index.ts';
import type { LiteSlot } from '../lite/ipc.ts';
import type { LoopStalls } from '../lite/LoopStalls.ts';
import { ImpairmentRelay } from '../network/ImpairmentRelay.ts';
import { ReceiveStatistics } from './ReceiveStatistics.ts';
import { isRtcp, readRtcp, receiverReport, roundTripMs } from './rtcp.ts';

/** How often a viewer reports reception (and asks for a round trip): RFC 3550's minimum interval is 5 s; browsers send about every second. */
const reportIntervalMs = 1000;
/** SRTP's authentication tag (AEAD_AES_128_GCM) after every RTP packet. */
const authTagBytes = 16;
/** AEAD_AES_128_GCM's master key and salt. */
const masterKeyBytes = 16;
const masterSaltBytes = 12;

interface ReceivedStream {
	ssrc: number;
	consumerId: string;
	kind: 'audio' | 'video';
	screen: boolean;
	mid: string | undefined;
	stats: ReceiveStatistics;
}

/**
 * A receive-only participant for very large rooms, at a fraction of a lite bot's cost: it joins
 * the bundled SFU as a viewer over a plain SRTP transport (no ICE, no DTLS) and counts what a
 * browser receiver reports from RTP and RTCP headers alone: packets, bytes, loss, interarrival
 * jitter, first media, and the round trip over the media path (RTCP XR RRTR/DLRR). It
 * never decrypts or decodes media; its reports have getStats' shape, so the collector reads
 * them as it reads a browser's.
 */
export class ViewerBot {
	readonly events: ParticipantEvent[] = [];
	readonly warnings: string[] = [];
	readonly #signaling: SignalingClient;
	readonly #socket = dgram.createSocket('udp4');
	readonly #ssrc = randomInt(1, 0xffffffff);
	readonly #streams = new Map<number, ReceivedStream>();
	readonly #byConsumer = new Map<string, ReceivedStream>();
	readonly #firstMedia = new Set<'audio' | 'video'>();
	/** Producers already consumed (or tried): one consumer each. */
	readonly #asked = new Set<string>();
	#relay: ImpairmentRelay | undefined;
	#network: NetworkConditions | null;
	#srtcp: SrtcpSession | undefined;
	#transportId: string | undefined;
	#sendTo: { address: string; port: number } | undefined;
	#reportTimer: NodeJS.Timeout | undefined;
	#joinStartedAt = 0;
	#rttMs: number | undefined;
	#bytesReceived = 0;
	#bytesSent = 0;
	#videos = 0;
	#state: 'new' | 'joining' | 'joined' | 'closed' = 'new';

	constructor(
		readonly slot: LiteSlot,
		signalingUrl: string,
		private readonly stalls: LoopStalls,
		network: NetworkConditions | null,
	) {
		this.#network = network;
		this.#signaling = new SignalingClient(signalingUrl, (url) => new WebSocket(url) as unknown as WebSocketLike);
		this.#socket.on('message', (packet) => this.#receive(packet));
		this.#socket.on('error', (error) => this.warnings.push(`${slot.peerId}: media socket: ${error.message}`));
	}

	get joined(): boolean {
		return this.#state === 'joined';
	}

	async join(): Promise<void> {
		this.#state = 'joining';
		this.#joinStartedAt = Date.now();
		await this.#signaling.connect();
		this.#signaling.on('close', () => {
			if (this.#state === 'closed') return;
			this.events.push({ type: 'fail', ts: Date.now(), reason: 'signaling connection closed' });
			this.close();
		});
		this.#signaling.on('roomReset', ({ reason }) => {
			this.events.push({ type: 'fail', ts: Date.now(), reason: `room reset: ${reason}` });
			this.close();
		});
		// Producers offered while the transport is still being set up are kept, not missed.
		const offered: ProducerInfo[] = [];
		this.#signaling.on('newProducer', (producer) => (this.#state === 'joined' ? void this.#consume(producer) : offered.push(producer)));
		this.#signaling.on('consumerClosed', ({ consumerId }) => this.#forget(consumerId));
		const joined = await this.#signaling.request('join', {
			roomId: this.slot.roomId,
			peerId: this.slot.peerId,
			displayName: `${this.slot.group} ${this.slot.index}`,
			botKind: 'viewer',
		});
		await this.#signaling.request('setRtpCapabilities', { rtpCapabilities: viewerCapabilities(joined.routerRtpCapabilities) });
		const transport = await this.#signaling.request('createPlainTransport', {});
		this.#transportId = transport.transportId;
		const sfu = { address: transport.ip, port: transport.port };
		await new Promise<void>((resolve) => this.#socket.bind(0, isLoopback(sfu.address) ? '127.0.0.1' : '0.0.0.0', resolve));
		if (this.#network) {
			this.#relay = await ImpairmentRelay.open(sfu, this.#network);
			this.#sendTo = this.#relay.address;
		} else this.#sendTo = sfu;
		const own = randomBytes(masterKeyBytes + masterSaltBytes);
		const ownKey: SrtpParameters = { cryptoSuite: plainTransportCryptoSuite, keyBase64: own.toString('base64') };
		await this.#signaling.request('connectPlainTransport', { transportId: transport.transportId, srtpParameters: ownKey });
		const theirs = Buffer.from(transport.srtpParameters.keyBase64, 'base64');
		this.#srtcp = new SrtcpSession({
			keys: {
				localMasterKey: own.subarray(0, masterKeyBytes),
				localMasterSalt: own.subarray(masterKeyBytes),
				remoteMasterKey: theirs.subarray(0, masterKeyBytes),
				remoteMasterSalt: theirs.subarray(masterKeyBytes),
			},
			profile: ProtectionProfileAeadAes128Gcm,
		});
		// The SFU learns where to send from this first packet (comedia), so it goes before any consume.
		this.#report();
		this.#reportTimer = setInterval(() => this.#report(), reportIntervalMs);
		this.#state = 'joined';
		this.events.push({ type: 'join', ts: Date.now(), durationMs: Date.now() - this.#joinStartedAt, attempt: 1 });
		for (const producer of [...joined.peers.flatMap((peer) => peer.producers), ...offered]) await this.#consume(producer);
	}

	/** Audio of everyone (per `subscribe`), videos up to `lastN` (the first ones offered; a viewer does not follow speakers). */
	async #consume(producer: ProducerInfo): Promise<void> {
		if (this.#state !== 'joined' || !this.#transportId || this.#asked.has(producer.producerId)) return;
		this.#asked.add(producer.producerId);
		const subscribe = this.slot.subscribe;
		if (producer.kind === 'audio' && subscribe !== 'all' && subscribe !== 'audio') return;
		if (producer.kind === 'video') {
			if (subscribe !== 'all' && subscribe !== 'video') return;
			if (this.slot.lastN !== undefined && this.#videos >= this.slot.lastN) return;
			this.#videos++;
		}
		try {
			const reply = await this.#signaling.request('consume', { transportId: this.#transportId, producerId: producer.producerId, layer: this.slot.layer });
			const ssrc = reply.rtpParameters.encodings?.[0]?.ssrc;
			const clockRate = reply.rtpParameters.codecs[0]?.clockRate;
			if (typeof ssrc !== 'number' || typeof clockRate !== 'number') throw new Error('the consumer has no SSRC or clock rate');
			const stream: ReceivedStream = {
				ssrc,
				consumerId: reply.consumerId,
				kind: reply.kind,
				screen: producer.appData?.source === 'screen',
				mid: typeof reply.rtpParameters.mid === 'string' ? reply.rtpParameters.mid : undefined,
				stats: new ReceiveStatistics(clockRate),
			};
			this.#streams.set(ssrc, stream);
			this.#byConsumer.set(reply.consumerId, stream);
			await this.#signaling.request('resumeConsumer', { consumerId: reply.consumerId });
		} catch (error) {
			if (producer.kind === 'video') this.#videos--;
			if (this.#state === 'joined') this.warnings.push(`${this.slot.peerId} cannot receive ${producer.producerId}: ${(error as Error).message}`);
		}
	}

	#forget(consumerId: string): void {
		const stream = this.#byConsumer.get(consumerId);
		if (!stream) return;
		this.#byConsumer.delete(consumerId);
		this.#streams.delete(stream.ssrc);
		if (stream.kind === 'video') this.#videos--;
	}

	#receive(packet: Buffer): void {
		const readAt = performance.now();
		const now = performance.timeOrigin + readAt;
		this.#bytesReceived += packet.length;
		if (isRtcp(packet)) {
			this.#readRtcp(packet, now);
			return;
		}
		if (packet.length < 12 + authTagBytes || packet[0]! >> 6 !== 2) return;
		const stream = this.#streams.get(packet.readUInt32BE(8));
		if (!stream) return;
		let headerBytes = 12 + 4 * (packet[0]! & 0x0f);
		if (packet[0]! & 0x10 && packet.length >= headerBytes + 4) headerBytes += 4 + 4 * packet.readUInt16BE(headerBytes + 2);
		const payloadBytes = packet.length - headerBytes - authTagBytes;
		if (payloadBytes < 0) return;
		stream.stats.onPacket(packet.readUInt16BE(2), packet.readUInt32BE(4), payloadBytes, now, this.stalls.mayHaveWaited(readAt));
		if (!this.#firstMedia.has(stream.kind)) {
			this.#firstMedia.add(stream.kind);
			this.events.push({ type: 'first-media', ts: Date.now(), durationMs: Date.now() - this.#joinStartedAt, mediaKind: stream.kind });
		}
	}

	#readRtcp(packet: Buffer, now: number): void {
		let plain: Buffer;
		try {
			plain = this.#srtcp!.decrypt(packet);
		} catch {
			return; // not for us, or damaged on the way: a browser drops it the same way
		}
		for (const info of readRtcp(plain)) {
			const stream = this.#streams.get(info.ssrc);
			if (!stream) continue;
			if (info.type === 'sr') stream.stats.onSenderReport(info.ntpMiddle, now);
			else {
				const rtt = roundTripMs(info, now);
				if (rtt === undefined) continue;
				// A report that waited out this process's own stall does not give the network's round trip.
				const at = now - performance.timeOrigin;
				this.#rttMs = this.stalls.withholds(rtt, at, at) ? undefined : rtt;
			}
		}
	}

	#report(): void {
		if (!this.#srtcp || !this.#sendTo) return;
		const now = performance.timeOrigin + performance.now();
		const blocks = [...this.#streams.values()].filter((s) => s.stats.packetsReceived > 0).map((s) => s.stats.reportBlock(s.ssrc, now));
		const packet = this.#srtcp.encrypt(receiverReport(this.#ssrc, blocks, now));
		this.#bytesSent += packet.length;
		this.#socket.send(packet, this.#sendTo.port, this.#sendTo.address);
	}

	setNetwork(network: NetworkConditions): void {
		this.#network = network;
		this.#relay?.setConditions(network);
	}

	/** One snapshot in getStats' shape: inbound-rtp per stream, and the path's round trip on its candidate pair. */
	async snapshots(): Promise<StatsSnapshot[]> {
		const ts = Date.now();
		const stats: Record<string, unknown>[] = [
			{ type: 'transport', id: 'T0', timestamp: ts, selectedCandidatePairId: 'CP0' },
			{
				type: 'candidate-pair',
				id: 'CP0',
				timestamp: ts,
				transportId: 'T0',
				state: 'succeeded',
				nominated: true,
				bytesSent: this.#bytesSent,
				bytesReceived: this.#bytesReceived,
				...(this.#rttMs !== undefined ? { currentRoundTripTime: this.#rttMs / 1000 } : {}),
			},
		];
		for (const stream of this.#streams.values()) {
			const s = stream.stats;
			if (s.firstPacketAtMs === undefined) continue;
			stats.push({
				type: 'inbound-rtp',
				id: `IT${stream.ssrc}`,
				timestamp: ts,
				ssrc: stream.ssrc,
				kind: stream.kind,
				trackIdentifier: stream.consumerId,
				...(stream.mid !== undefined ? { mid: stream.mid } : {}),
				...(stream.screen ? { contentType: 'screenshare' } : {}),
				transportId: 'T0',
				packetsReceived: s.packetsReceived,
				packetsLost: s.packetsLost,
				bytesReceived: s.bytesReceived,
				jitter: s.jitterSeconds,
			});
		}
		return [{ ts, pc: 'recv', stats }];
	}

	async leave(): Promise<void> {
		if (this.#state === 'joined') {
			this.#state = 'closed';
			await this.#signaling.request('leave', {}).catch(() => undefined);
			this.events.push({ type: 'leave', ts: Date.now(), reason: 'left' });
		}
		this.close();
	}

	close(): void {
		this.#state = 'closed';
		clearInterval(this.#reportTimer);
		this.#signaling.disconnect();
		this.#relay?.close();
		this.#relay = undefined;
		try {
			this.#socket.close();
		} catch {
			// already closed
		}
	}
}

/**
 * What a viewer can receive: the router's codecs without retransmission or any feedback (a
 * viewer neither asks for retransmissions nor estimates bandwidth, so what it counts as lost is
 * the network's loss), and no header extensions.
 */
export function viewerCapabilities(router: RtpCapabilities): RtpCapabilities {
	return {
		codecs: (router.codecs ?? [])
			.filter((codec) => !/\/rtx$/i.test(String(codec.mimeType)))
			.map((codec) => ({ ...codec, rtcpFeedback: [] })),
		headerExtensions: [],
	};
}

function isLoopback(address: string): boolean {
	return address.startsWith('127.') || address === 'localhost' || address === '::1';
}

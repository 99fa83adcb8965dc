import { EventEmitter } from 'node:events';
import type { BotKind, NotificationData, PeerInfo, SignalingNotificationName } from '../protocol/signaling.ts';
import type { RtpCapabilities } from '../protocol/rtp.ts';
import type { types } from './mediasoup.ts';
import { SignalingError } from './SignalingError.ts';

export type Notify = <N extends SignalingNotificationName>(name: N, data: NotificationData<N>) => void;

export interface PeerEvents {
	close: [];
}

/**
 * One participant of a room: its transports, producers and consumers. Closing the peer closes
 * its transports, and mediasoup closes their producers and consumers with them.
 */
export class Peer extends EventEmitter<PeerEvents> {
	readonly transports = new Map<string, types.WebRtcTransport | types.PlainTransport>();
	readonly producers = new Map<string, types.Producer>();
	readonly consumers = new Map<string, types.Consumer>();
	rtpCapabilities: RtpCapabilities | undefined;
	#closed = false;

	constructor(
		readonly id: string,
		readonly displayName: string,
		readonly botKind: BotKind,
		readonly notify: Notify,
	) {
		super();
	}

	get closed(): boolean {
		return this.#closed;
	}

	info(): PeerInfo {
		return {
			peerId: this.id,
			displayName: this.displayName,
			botKind: this.botKind,
			producers: [...this.producers.values()].map((p) => ({
				producerId: p.id,
				peerId: this.id,
				kind: p.kind,
				paused: p.paused,
				appData: producerAppData(p),
			})),
		};
	}

	transport(transportId: string): types.WebRtcTransport | types.PlainTransport {
		const transport = this.transports.get(transportId);
		if (!transport) throw new SignalingError('not_found', `no transport ${transportId} for this peer`, 'transportId');
		return transport;
	}

	webRtcTransport(transportId: string): types.WebRtcTransport {
		const transport = this.transport(transportId);
		if (transport.type !== 'webrtc') throw new SignalingError('bad_request', `transport ${transportId} is a ${transport.type} transport`, 'data.transportId');
		return transport;
	}

	plainTransport(transportId: string): types.PlainTransport {
		const transport = this.transport(transportId);
		if (transport.type !== 'plain') throw new SignalingError('bad_request', `transport ${transportId} is a ${transport.type} transport`, 'data.transportId');
		return transport;
	}

	producer(producerId: string): types.Producer {
		const producer = this.producers.get(producerId);
		if (!producer) throw new SignalingError('not_found', `no producer ${producerId} for this peer`, 'producerId');
		return producer;
	}

	consumer(consumerId: string): types.Consumer {
		const consumer = this.consumers.get(consumerId);
		if (!consumer) throw new SignalingError('not_found', `no consumer ${consumerId} for this peer`, 'consumerId');
		return consumer;
	}

	addTransport(transport: types.WebRtcTransport | types.PlainTransport): void {
		this.transports.set(transport.id, transport);
		(transport.observer as types.TransportObserver).once('close', () => this.transports.delete(transport.id));
	}

	addProducer(producer: types.Producer): void {
		this.producers.set(producer.id, producer);
		producer.observer.once('close', () => this.producers.delete(producer.id));
	}

	addConsumer(consumer: types.Consumer): void {
		this.consumers.set(consumer.id, consumer);
		consumer.observer.once('close', () => this.consumers.delete(consumer.id));
		consumer.on('producerclose', () => {
			this.notify('consumerClosed', { consumerId: consumer.id, producerId: consumer.producerId });
		});
		consumer.on('producerpause', () => this.notify('consumerPaused', { consumerId: consumer.id }));
		consumer.on('producerresume', () => this.notify('consumerResumed', { consumerId: consumer.id }));
	}

	close(): void {
		if (this.#closed) return;
		this.#closed = true;
		for (const transport of this.transports.values()) transport.close();
		this.emit('close');
	}
}

export function producerAppData(producer: types.Producer): Record<string, string | number | boolean> {
	const out: Record<string, string | number | boolean> = {};
	for (const [key, value] of Object.entries(producer.appData)) {
		if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') out[key] = value;
	}
	return out;
}

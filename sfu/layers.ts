import type { VideoLayer } from '../protocol/signaling.ts';
import type { types } from './mediasoup.ts';

/**
 * The layers a consumer of a simulcast or SVC producer asks mediasoup for. mediasoup already
 * sends the highest layers the receiver's bandwidth estimate allows, up to these: "auto" (and
 * "high") ask for the top, "medium" and "low" cap it lower. Undefined for a single-layer stream.
 */
export function preferredLayers(consumer: Pick<types.Consumer, 'type' | 'rtpParameters'>, layer: VideoLayer): types.ConsumerLayers | undefined {
	if (consumer.type !== 'simulcast' && consumer.type !== 'svc') return undefined;
	// mediasoup describes what a consumer can get as one encoding with "L<spatial>T<temporal>".
	const match = /^[LS](\d+)T(\d+)/.exec(consumer.rtpParameters.encodings?.[0]?.scalabilityMode ?? '');
	const temporal = Number(match?.[2] ?? 1);
	return { spatialLayer: spatialLayerOf(Number(match?.[1] ?? 1), layer), temporalLayer: temporal - 1 };
}

/** The spatial layer (0 the smallest) a receiver asking for `layer` gets of a sender's `spatialLayers`. */
export function spatialLayerOf(spatialLayers: number, layer: VideoLayer): number {
	const top = spatialLayers - 1;
	return layer === 'low' ? 0 : layer === 'medium' ? Math.floor(top / 2) : top;
}

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSfu, type Sfu } from '../../sfu/index.ts';
import { preferredLayers } from '../../sfu/layers.ts';
import type { types } from '../../sfu/mediasoup.ts';
import { fakeParticipant, waitFor } from '../helpers/signaling.ts';

const consumer = (type: types.ConsumerType, scalabilityMode?: string) =>
	({ type, rtpParameters: { codecs: [], encodings: [{ ssrc: 1, ...(scalabilityMode ? { scalabilityMode } : {}) }] } }) as Pick<types.Consumer, 'type' | 'rtpParameters'>;

describe('the layer a receiver asks for', () => {
	it('maps low, medium, high and auto onto the spatial layers a simulcast or SVC consumer has, at full frame rate', () => {
		const simulcast = consumer('simulcast', 'L3T3');
		expect(preferredLayers(simulcast, 'low')).toEqual({ spatialLayer: 0, temporalLayer: 2 });
		expect(preferredLayers(simulcast, 'medium')).toEqual({ spatialLayer: 1, temporalLayer: 2 });
		expect(preferredLayers(simulcast, 'high')).toEqual({ spatialLayer: 2, temporalLayer: 2 });
		expect(preferredLayers(simulcast, 'auto')).toEqual({ spatialLayer: 2, temporalLayer: 2 });
		// Two layers (a browser sends fewer for small frames): medium is the low one.
		expect(preferredLayers(consumer('simulcast', 'L2T1'), 'medium')).toEqual({ spatialLayer: 0, temporalLayer: 0 });
		expect(preferredLayers(consumer('svc', 'L3T3_KEY'), 'medium')).toEqual({ spatialLayer: 1, temporalLayer: 2 });
	});

	it('leaves single-layer streams alone', () => {
		expect(preferredLayers(consumer('simple'), 'low')).toBeUndefined();
		expect(preferredLayers(consumer('pipe'), 'high')).toBeUndefined();
	});
});

describe('layers through signaling (bundled SFU, real mediasoup worker)', () => {
	let sfu: Sfu;
	beforeAll(async () => {
		sfu = await startSfu({ port: 0, workers: 1, logLevel: 'none' });
	});
	afterAll(async () => {
		await sfu?.close();
	});

	it('consumes a simulcast producer at the layer asked for, changes it on request, and names bad requests', async () => {
		await fakeParticipant(sfu.wsUrl, 'layers', 'sender', {
			video: { encodings: [{ rid: 'r0', scaleResolutionDownBy: 4 }, { rid: 'r1', scaleResolutionDownBy: 2 }, { rid: 'r2' }] },
			subscribe: { audio: false, video: false },
		});
		const thumbnail = await fakeParticipant(sfu.wsUrl, 'layers', 'thumbnail', { publish: false, subscribe: { audio: false, layer: 'low' } });
		await waitFor(() => thumbnail.call.consumers.size === 1, 'the thumbnail consuming the video');
		const [consumerId] = [...thumbnail.call.consumers.keys()];
		const serverSide = () => sfu.rooms.get('layers')!.peers.get('thumbnail')!.consumer(consumerId!);
		expect(serverSide().type).toBe('simulcast');
		expect(serverSide().preferredLayers).toMatchObject({ spatialLayer: 0 });

		await thumbnail.signaling.request('setConsumerLayer', { consumerId: consumerId!, layer: 'medium' });
		expect(serverSide().preferredLayers).toMatchObject({ spatialLayer: 1 });
		await thumbnail.signaling.request('setConsumerLayer', { consumerId: consumerId!, layer: 'auto' });
		expect(serverSide().preferredLayers).toMatchObject({ spatialLayer: 2 });

		await expect(thumbnail.signaling.request('setConsumerLayer', { consumerId: consumerId!, layer: 'top' as 'high' })).rejects.toThrow(/layer/);
		await expect(thumbnail.signaling.request('setConsumerLayer', { consumerId: '00000000-0000-4000-8000-000000000000', layer: 'low' })).rejects.toThrow(/not_found|no consumer/);
	});
});

describe('last-N ranking in the call client (bundled SFU, real mediasoup worker, no media)', () => {
	let sfu: Sfu;
	beforeAll(async () => {
		sfu = await startSfu({ port: 0, workers: 1, logLevel: 'none' });
	});
	afterAll(async () => {
		await sfu?.close();
	});

	it('forwards the N latest speakers’ videos, then the earliest to arrive, and pauses the rest at the SFU', async () => {
		const viewer = await fakeParticipant(sfu.wsUrl, 'ranking', 'viewer', { publish: false, subscribe: { audio: false, lastN: 2 } });
		const room = sfu.rooms.get('ranking')!;
		// The test plays the speaker detector. The room's own would name a speaker on its first tick
		// even in silence (one of the producers it holds), at a moment that depends on the machine's
		// pace, in between the test's turns.
		await room.speakers.pause();
		for (const peer of ['a', 'b', 'c', 'd']) await fakeParticipant(sfu.wsUrl, 'ranking', peer, { subscribe: { audio: false, video: false } });
		const forwarded = () => [...viewer.call.consumers.values()].filter((r) => r.forwarded).map((r) => r.peerId).sort();
		const pausedAtSfu = () =>
			[...room.peers.get('viewer')!.consumers.values()].filter((c) => c.paused).map((c) => [...viewer.call.consumers.values()].find((r) => r.consumer.id === c.id)!.peerId).sort();
		await waitFor(() => viewer.call.consumers.size === 4 && forwarded().length === 2, 'four videos, two forwarded');
		// Nobody has spoken: the first two to arrive.
		expect(forwarded()).toEqual(['a', 'b']);
		expect(pausedAtSfu()).toEqual(['c', 'd']);

		const speaks = async (peerId: string, expected: string[]) => {
			room.broadcast(undefined, 'activeSpeaker', { peerId });
			await waitFor(() => forwarded().join() === expected.join() && pausedAtSfu().length === 2, `forwarded ${expected.join(', ')} after ${peerId} spoke`);
		};
		await speaks('d', ['a', 'd']);
		await speaks('c', ['c', 'd']);
		// The viewer's own voice changes nothing; a known speaker again keeps the two latest.
		await speaks('viewer', ['c', 'd']);
		await speaks('a', ['a', 'c']);
		expect(viewer.call.activeSpeaker).toBe('a');
		expect(pausedAtSfu()).toEqual(['b', 'd']);
	});
});

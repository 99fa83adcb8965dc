import { describe, expect, it } from 'vitest';
import { describeZodError, formatIssuePath } from '../../protocol/issues.ts';
import { ResponseEnvelope, signalingMethods, signalingNotifications } from '../../protocol/signaling.ts';

describe('signaling schemas', () => {
	it('accept a well-formed produce request and name the field of a bad one', () => {
		const produce = signalingMethods.produce.request;
		const good = produce.safeParse({
			transportId: 't1',
			kind: 'video',
			rtpParameters: { codecs: [{ mimeType: 'video/VP8', payloadType: 96, clockRate: 90000 }], encodings: [{ ssrc: 1 }] },
		});
		expect(good.success).toBe(true);
		expect(good.data?.paused).toBe(false);

		const bad = produce.safeParse({
			transportId: 't1',
			kind: 'video',
			rtpParameters: { codecs: [{ mimeType: 'VP8', payloadType: 300, clockRate: 90000 }] },
		});
		expect(bad.success).toBe(false);
		expect(describeZodError(bad.error!)).toContain('rtpParameters.codecs[0].mimeType: must be "audio/<codec>" or "video/<codec>"');
		expect(describeZodError(bad.error!)).toContain('rtpParameters.codecs[0].payloadType');
	});

	it('restrict room and peer ids to safe characters', () => {
		expect(signalingMethods.join.request.safeParse({ roomId: 'team-1.room_a' }).success).toBe(true);
		expect(signalingMethods.join.request.safeParse({ roomId: '../etc' }).success).toBe(false);
		expect(signalingMethods.join.request.safeParse({ roomId: '' }).success).toBe(false);
	});

	it('tell replies from errors and validate notifications', () => {
		expect(ResponseEnvelope.parse({ id: 1, ok: true, data: {} }).ok).toBe(true);
		expect(ResponseEnvelope.safeParse({ id: 1, ok: false, error: { code: 'nope', message: 'x' } }).success).toBe(false);
		expect(signalingNotifications.roomReset.safeParse({ roomId: 'r', reason: 'media worker died' }).success).toBe(true);
		expect(signalingNotifications.newProducer.safeParse({ producerId: 'p', peerId: 'x', kind: 'data', paused: false }).success).toBe(false);
	});

	it('formats issue paths like code does', () => {
		expect(formatIssuePath(['data', 'rtpParameters', 'codecs', 0, 'mimeType'])).toBe('data.rtpParameters.codecs[0].mimeType');
		expect(formatIssuePath([])).toBe('');
	});
});

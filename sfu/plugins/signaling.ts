import websocket from '@fastify/websocket';
import type { FastifyPluginAsync } from 'fastify';
import { SignalingSession, type SessionHost } from '../SignalingSession.ts';

/**
 * WebSocket signaling at /ws. Frames above 4x maxMessageBytes are dropped by ws itself, closing
 * the socket (1009); anything between maxMessageBytes and that gets an error reply instead.
 */
export const signalingPlugin: FastifyPluginAsync<{ host: SessionHost }> = async (app, { host }) => {
	await app.register(websocket, { options: { maxPayload: host.options.maxMessageBytes * 4 } });
	app.get('/ws', { websocket: true }, (socket) => {
		new SignalingSession(socket, host);
	});
};

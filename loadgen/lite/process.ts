/**
 * A lite-bot process. werift is loaded before werift/polyfill (the other order leaves
 * MediaStreamTrack undefined), then installed as the WebRTC globals mediasoup-client uses.
 * The ICE settings let werift connect in a loopback-only sandbox and never reach a STUN server.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { useH264, useOPUS, useVP8, useVP9 } from 'werift';
import { createEmptyRegister, installPolyfill } from 'werift/polyfill';
import { describeZodError } from '../../protocol/issues.ts';
import { LiteCommand, type LiteReply } from './ipc.ts';

installPolyfill({
	mediaRegister: [createEmptyRegister()],
	peerConnectionConfig: {
		iceServers: [],
		iceAdditionalHostAddresses: ['127.0.0.1'],
		// VP8 is what lite bots send; H264 and VP9 let them receive what browser bots send.
		codecs: { audio: [useOPUS()], video: [useVP8(), useH264(), useVP9()] },
	} as never,
});
const { LiteHost } = await import('./LiteHost.ts');

const send = (reply: LiteReply) => process.send?.(reply);

const lag = monitorEventLoopDelay({ resolution: 10 });
lag.enable();
setInterval(() => {
	send({ op: 'health', lagMs: lag.percentile(99) / 1e6 });
	lag.reset();
}, 1000).unref();
const host = new LiteHost(send);
let queue = Promise.resolve();

process.on('message', (message) => {
	const command = LiteCommand.safeParse(message);
	if (!command.success) {
		send({ op: 'log', message: `bad command: ${describeZodError(command.error)}` });
		return;
	}
	// join / leave of one bot must not wait for another bot's join.
	const work = () =>
		host.handle(command.data).catch((error: unknown) => send({ op: 'log', message: String(error) }));
	if (command.data.op === 'stop') {
		queue = queue.then(async () => {
			await work();
			process.exit(0);
		});
	} else void work();
});
process.on('disconnect', () => process.exit(0));

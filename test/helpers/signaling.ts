import { FakeMediaStreamTrack } from 'fake-mediastreamtrack';
import { FakeHandler, Device, testFakeParameters } from 'mediasoup-client';
import { WebSocket } from 'ws';
import { CallClient, SignalingClient, type PublishOptions, type Subscription } from '../../sfu/client/index.ts';

/** A raw WebSocket that records every message, for poking the server with bad input. */
export class RawSocket {
	readonly messages: Array<Record<string, unknown>> = [];
	readonly #waiters: Array<() => void> = [];
	closeCode: number | undefined;

	private constructor(readonly ws: WebSocket) {
		ws.on('message', (data) => {
			this.messages.push(JSON.parse(String(data)) as Record<string, unknown>);
			for (const wake of this.#waiters.splice(0)) wake();
		});
		ws.on('close', (code) => {
			this.closeCode = code;
			for (const wake of this.#waiters.splice(0)) wake();
		});
	}

	static async open(url: string): Promise<RawSocket> {
		const ws = new WebSocket(url);
		await new Promise<void>((resolve, reject) => {
			ws.once('open', () => resolve());
			ws.once('error', reject);
		});
		return new RawSocket(ws);
	}

	send(text: string): void {
		this.ws.send(text);
	}

	request(id: number | string, method: string, data?: unknown): Promise<Record<string, unknown>> {
		this.ws.send(JSON.stringify({ id, method, data }));
		return this.next((m) => m.id === id);
	}

	/** The first message (already received or coming) that matches. */
	async next(match: (m: Record<string, unknown>) => boolean, timeoutMs = 10_000): Promise<Record<string, unknown>> {
		const deadline = Date.now() + timeoutMs;
		for (;;) {
			const index = this.messages.findIndex(match);
			if (index >= 0) return this.messages.splice(index, 1)[0]!;
			if (this.closeCode !== undefined) throw new Error(`socket closed (${this.closeCode})`);
			if (Date.now() > deadline) throw new Error(`no matching message in ${timeoutMs} ms`);
			await new Promise<void>((resolve) => {
				this.#waiters.push(resolve);
				setTimeout(resolve, 100);
			});
		}
	}

	async closed(timeoutMs = 5000): Promise<number> {
		const deadline = Date.now() + timeoutMs;
		while (this.closeCode === undefined && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
		if (this.closeCode === undefined) throw new Error('socket did not close');
		return this.closeCode;
	}

	close(): void {
		this.ws.close();
	}
}

export function nodeSignaling(wsUrl: string): SignalingClient {
	return new SignalingClient(wsUrl, (url) => new WebSocket(url) as unknown as ReturnType<ConstructorParameters<typeof SignalingClient>[1]>);
}

/**
 * A participant with mediasoup-client's FakeHandler: real signaling and real server-side
 * transports, producers and consumers, but no media. For protocol and lifecycle tests.
 */
export async function fakeParticipant(
	wsUrl: string,
	roomId: string,
	peerId: string,
	options: { publish?: boolean; rejoinOnReset?: boolean; video?: PublishOptions; subscribe?: Partial<Subscription> } = {},
): Promise<{ call: CallClient; signaling: SignalingClient }> {
	const signaling = nodeSignaling(wsUrl);
	await signaling.connect();
	const call = new CallClient({
		roomId,
		peerId,
		botKind: 'app',
		signaling,
		createDevice: () =>
			new Device({
				handlerFactory: FakeHandler.createFactory(testFakeParameters),
			}),
		subscribe: { audio: true, video: true, ...options.subscribe },
		rejoinOnReset: options.rejoinOnReset ?? false,
	});
	if (options.publish !== false) {
		await call.publish(new FakeMediaStreamTrack({ kind: 'audio' }) as unknown as MediaStreamTrack);
		await call.publish(new FakeMediaStreamTrack({ kind: 'video' }) as unknown as MediaStreamTrack, options.video);
	}
	await call.join();
	return { call, signaling };
}

export async function waitFor<T>(
	check: () => T | undefined | false | Promise<T | undefined | false>,
	what: string,
	timeoutMs = 15_000,
	intervalMs = 50,
): Promise<T> {
	const deadline = Date.now() + timeoutMs;
	for (;;) {
		const value = await check();
		if (value) return value;
		if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
		await new Promise((r) => setTimeout(r, intervalMs));
	}
}

/**
 * How often to poll a check that flushes the in-process collector and queries the store: each
 * flush is an insert (and its rollups), and at 50 ms they load the machine and the event loop that
 * also relays the bots' media, which then shows in the very delays the test measures.
 */
export const storePollMs = 1000;

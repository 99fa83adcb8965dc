/**
 * Client side of the signaling protocol, for browsers (the bot page) and Node (lite bots).
 * Replies and notifications are checked against protocol/ before anything acts on them.
 */
import { enhancedEvents } from 'mediasoup-client';
import {
	NotificationEnvelope,
	ResponseEnvelope,
	signalingMethods,
	signalingNotifications,
	type NotificationData,
	type RequestData,
	type ResponseData,
	type SignalingError,
	type SignalingMethod,
	type SignalingNotificationName,
} from '../../protocol/signaling.ts';
import { describeZodError } from '../../protocol/issues.ts';

/** The part of the WebSocket API used here: the browser's, or the `ws` package's in Node. */
export interface WebSocketLike {
	readonly readyState: number;
	send(data: string): void;
	close(code?: number, reason?: string): void;
	addEventListener(type: 'open' | 'close' | 'error', listener: (event: unknown) => void): void;
	addEventListener(type: 'message', listener: (event: { data: unknown }) => void): void;
}
export type WebSocketFactory = (url: string) => WebSocketLike;

export class SignalingRequestError extends Error {
	override name = 'SignalingRequestError';
	readonly code: SignalingError['code'];
	readonly path: string | undefined;
	constructor(method: string, error: SignalingError) {
		super(`${method}: ${error.code}: ${error.message}${error.path ? ` (at ${error.path})` : ''}`);
		this.code = error.code;
		this.path = error.path;
	}
}

type NotificationEvents = { [N in SignalingNotificationName]: [NotificationData<N>] };
export type SignalingClientEvents = NotificationEvents & {
	close: [code: number, reason: string];
	/** A server message that failed validation: logged, never acted on. */
	protocolerror: [message: string];
};

interface Pending {
	method: string;
	resolve: (data: unknown) => void;
	reject: (error: Error) => void;
	timer: ReturnType<typeof setTimeout>;
}

export class SignalingClient extends enhancedEvents.EnhancedEventEmitter<SignalingClientEvents> {
	#socket: WebSocketLike | undefined;
	#nextId = 1;
	readonly #pending = new Map<number, Pending>();
	#closed = false;

	constructor(
		readonly url: string,
		private readonly createSocket: WebSocketFactory,
		private readonly requestTimeoutMs = 20_000,
	) {
		super();
	}

	get closed(): boolean {
		return this.#closed;
	}

	connect(): Promise<void> {
		return new Promise((resolve, reject) => {
			const socket = this.createSocket(this.url);
			this.#socket = socket;
			let opened = false;
			socket.addEventListener('open', () => {
				opened = true;
				resolve();
			});
			socket.addEventListener('error', () => {
				if (!opened) reject(new Error(`cannot connect to signaling at ${this.url}`));
			});
			socket.addEventListener('close', (event) => {
				const { code, reason } = (event ?? {}) as { code?: number; reason?: string };
				this.#closed = true;
				for (const pending of this.#pending.values()) {
					clearTimeout(pending.timer);
					pending.reject(new Error(`${pending.method}: signaling connection closed`));
				}
				this.#pending.clear();
				if (!opened) reject(new Error(`signaling connection to ${this.url} closed (${code ?? ''})`));
				this.safeEmit('close', code ?? 1006, String(reason ?? ''));
			});
			socket.addEventListener('message', (event) => this.#onMessage(event.data));
		});
	}

	request<M extends SignalingMethod>(method: M, data: RequestData<M>): Promise<ResponseData<M>> {
		const socket = this.#socket;
		if (!socket || this.#closed) return Promise.reject(new Error(`${method}: signaling is not connected`));
		const id = this.#nextId++;
		return new Promise<ResponseData<M>>((resolve, reject) => {
			const timer = setTimeout(() => {
				this.#pending.delete(id);
				reject(new Error(`${method}: no reply within ${this.requestTimeoutMs} ms`));
			}, this.requestTimeoutMs);
			this.#pending.set(id, { method, resolve: resolve as (d: unknown) => void, reject, timer });
			socket.send(JSON.stringify({ id, method, data }));
		});
	}

	/** Closes the connection; listeners stay and see 'close'. */
	disconnect(): void {
		this.#closed = true;
		this.#socket?.close(1000, 'bye');
	}

	#onMessage(raw: unknown): void {
		let json: unknown;
		try {
			json = JSON.parse(String(raw));
		} catch {
			this.safeEmit('protocolerror', 'server sent a message that is not JSON');
			return;
		}
		if (json && typeof json === 'object' && 'notification' in json) this.#onNotification(json);
		else this.#onResponse(json);
	}

	#onResponse(json: unknown): void {
		const envelope = ResponseEnvelope.safeParse(json);
		if (!envelope.success) {
			this.safeEmit('protocolerror', `bad reply: ${describeZodError(envelope.error)}`);
			return;
		}
		const reply = envelope.data;
		const pending = typeof reply.id === 'number' ? this.#pending.get(reply.id) : undefined;
		if (!pending) {
			if (!reply.ok) this.safeEmit('protocolerror', `server error: ${reply.error.code}: ${reply.error.message}`);
			return;
		}
		this.#pending.delete(reply.id as number);
		clearTimeout(pending.timer);
		if (!reply.ok) {
			pending.reject(new SignalingRequestError(pending.method, reply.error));
			return;
		}
		const schema = signalingMethods[pending.method as SignalingMethod].response;
		const data = schema.safeParse(reply.data);
		if (data.success) pending.resolve(data.data);
		else pending.reject(new Error(`${pending.method}: bad reply: ${describeZodError(data.error)}`));
	}

	#onNotification(json: unknown): void {
		const envelope = NotificationEnvelope.safeParse(json);
		if (!envelope.success || !Object.hasOwn(signalingNotifications, envelope.data.notification)) {
			this.safeEmit('protocolerror', 'unknown notification');
			return;
		}
		const name = envelope.data.notification as SignalingNotificationName;
		const data = signalingNotifications[name].safeParse(envelope.data.data);
		if (!data.success) {
			this.safeEmit('protocolerror', `bad ${name} notification: ${describeZodError(data.error)}`);
			return;
		}
		(this.safeEmit as (n: string, d: unknown) => boolean)(name, data.data);
	}
}

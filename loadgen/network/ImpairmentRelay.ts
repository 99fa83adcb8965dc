import dgram from 'node:dgram';
import type { NetworkConditions } from '../../protocol/scenario.ts';

interface Direction {
	/** When the link is free again (rate cap), ms since the relay started. */
	busyUntil: number;
}

interface Client {
	address: string;
	port: number;
	/** This client's socket toward the target (connected to it): the target sees one address per client, as behind a NAT. */
	back: dgram.Socket;
	/** Packets waiting for the socket to connect (a connected socket sends without an address lookup). */
	pending: Buffer[] | undefined;
}

/** A packet waiting for its departure time (ms since the relay started). */
interface Delayed {
	at: number;
	packet: Buffer;
	client: Client;
	up: boolean;
}

/** Packets queued beyond this much sending time are dropped (a router's tail drop). */
const maxQueueMs = 300;
/** Delayed packets leave in ticks of this many ms: one wakeup serves every packet due in it. */
const tickMs = 2;

/**
 * One participant's network link, in user space (the kernels this project runs on have no netem
 * qdisc): a UDP relay in front of a target (the SFU for lite bots, the TURN server for browser
 * bots) that applies delay with jitter, random loss and a rate cap with a bounded queue, in both
 * directions. Every client address (each connection of the participant) gets its own socket
 * toward the target; the rate cap is shared, as one access link is. Changes apply to the next
 * packet: no reconnect.
 */
export class ImpairmentRelay {
	readonly #front = dgram.createSocket('udp4');
	readonly #clients = new Map<string, Client>();
	#conditions: NetworkConditions;
	readonly #up: Direction = { busyUntil: 0 };
	readonly #down: Direction = { busyUntil: 0 };
	readonly #start = performance.now();
	#closed = false;
	/** Delayed packets, earliest first (a binary heap): one timer for all of them, not one per packet. */
	readonly #queue: Delayed[] = [];
	#timer: NodeJS.Timeout | undefined;
	#timerAt = Infinity;
	stats = { forwarded: 0, dropped: 0 };

	private constructor(
		private readonly target: { address: string; port: number },
		conditions: NetworkConditions,
		private readonly bindAddress: string,
	) {
		this.#conditions = conditions;
		this.#front.on('message', (packet, from) => this.#forward(packet, this.#client(from.address, from.port), true));
		this.#front.on('error', () => undefined);
	}

	static async open(target: { address: string; port: number }, conditions: NetworkConditions, bindAddress = '127.0.0.1'): Promise<ImpairmentRelay> {
		const relay = new ImpairmentRelay(target, conditions, bindAddress);
		await new Promise<void>((resolve) => relay.#front.bind(0, bindAddress, resolve));
		return relay;
	}

	get address(): { address: string; port: number } {
		const a = this.#front.address();
		return { address: a.address, port: a.port };
	}

	get conditions(): NetworkConditions {
		return this.#conditions;
	}

	setConditions(conditions: NetworkConditions): void {
		this.#conditions = conditions;
	}

	#client(address: string, port: number): Client {
		const key = `${address}:${port}`;
		let client = this.#clients.get(key);
		if (!client) {
			const back = dgram.createSocket('udp4');
			back.on('error', () => undefined);
			const c: Client = { address, port, back, pending: [] };
			client = c;
			back.bind(0, this.bindAddress, () =>
				back.connect(this.target.port, this.target.address, () => {
					const waiting = c.pending ?? [];
					c.pending = undefined;
					for (const packet of waiting) back.send(packet);
				}),
			);
			back.on('message', (packet) => this.#forward(packet, c, false));
			this.#clients.set(key, client);
		}
		return client;
	}

	#send(packet: Buffer, client: Client, up: boolean): void {
		if (!up) this.#front.send(packet, client.port, client.address);
		else if (client.pending) client.pending.push(packet);
		else client.back.send(packet);
	}

	#forward(packet: Buffer, client: Client, up: boolean): void {
		if (this.#closed) return;
		const { delayMs, jitterMs, lossPct, rateKbps } = this.#conditions;
		if (lossPct > 0 && Math.random() * 100 < lossPct) {
			this.stats.dropped++;
			return;
		}
		const now = performance.now() - this.#start;
		let departure = now;
		if (rateKbps > 0) {
			const direction = up ? this.#up : this.#down;
			const start = Math.max(now, direction.busyUntil);
			if (start - now > maxQueueMs) {
				this.stats.dropped++;
				return;
			}
			direction.busyUntil = start + (packet.length * 8) / rateKbps;
			departure = direction.busyUntil;
		}
		const jitter = jitterMs > 0 ? (Math.random() * 2 - 1) * jitterMs : 0;
		const at = departure + Math.max(0, delayMs + jitter);
		this.stats.forwarded++;
		if (at - now < 1) {
			this.#send(packet, client, up);
			return;
		}
		this.#push({ at, packet, client, up });
		this.#arm();
	}

	/** One timer, for the earliest waiting packet; it sends every packet due within the tick. */
	#arm(): void {
		const next = this.#queue[0];
		if (!next || next.at >= this.#timerAt - tickMs) return;
		clearTimeout(this.#timer);
		this.#timerAt = next.at;
		this.#timer = setTimeout(() => {
			this.#timerAt = Infinity;
			const now = performance.now() - this.#start + tickMs / 2;
			while (this.#queue.length && this.#queue[0]!.at <= now) {
				const due = this.#pop()!;
				if (!this.#closed) this.#send(due.packet, due.client, due.up);
			}
			this.#arm();
		}, Math.max(0, next.at - (performance.now() - this.#start)));
	}

	#push(item: Delayed): void {
		const q = this.#queue;
		q.push(item);
		let i = q.length - 1;
		while (i > 0) {
			const parent = (i - 1) >> 1;
			if (q[parent]!.at <= item.at) break;
			q[i] = q[parent]!;
			i = parent;
		}
		q[i] = item;
	}

	#pop(): Delayed | undefined {
		const q = this.#queue;
		const top = q[0];
		const last = q.pop();
		if (!top || !last || q.length === 0) return top;
		let i = 0;
		for (;;) {
			const left = 2 * i + 1;
			if (left >= q.length) break;
			const right = left + 1;
			const child = right < q.length && q[right]!.at < q[left]!.at ? right : left;
			if (q[child]!.at >= last.at) break;
			q[i] = q[child]!;
			i = child;
		}
		q[i] = last;
		return top;
	}

	close(): void {
		if (this.#closed) return;
		this.#closed = true;
		clearTimeout(this.#timer);
		this.#queue.length = 0;
		this.#front.close();
		for (const client of this.#clients.values()) client.back.close();
		this.#clients.clear();
	}
}

import dgram from 'node:dgram';
import type { NetworkConditions } from '../../protocol/scenario.ts';

interface Direction {
	/** When the link is free again (rate cap), ms since the relay started. */
	busyUntil: number;
}

interface Client {
	address: string;
	port: number;
	/** This client's socket toward the target: the target sees one address per client (a NAT). */
	back: dgram.Socket;
}

/** Packets queued beyond this much sending time are dropped (a router's tail drop). */
const maxQueueMs = 300;

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
	readonly timers = new Set<NodeJS.Timeout>();
	stats = { forwarded: 0, dropped: 0 };

	private constructor(
		private readonly target: { address: string; port: number },
		conditions: NetworkConditions,
		private readonly bindAddress: string,
	) {
		this.#conditions = conditions;
		this.#front.on('message', (packet, from) => {
			const client = this.#client(from.address, from.port);
			this.#forward(packet, this.#up, (p) => client.back.send(p, this.target.port, this.target.address));
		});
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
			back.bind(0, this.bindAddress);
			client = { address, port, back };
			const c = client;
			back.on('message', (packet) => this.#forward(packet, this.#down, (p) => this.#front.send(p, c.port, c.address)));
			this.#clients.set(key, client);
		}
		return client;
	}

	#forward(packet: Buffer, direction: Direction, send: (p: Buffer) => void): void {
		if (this.#closed) return;
		const { delayMs, jitterMs, lossPct, rateKbps } = this.#conditions;
		if (lossPct > 0 && Math.random() * 100 < lossPct) {
			this.stats.dropped++;
			return;
		}
		const now = performance.now() - this.#start;
		let departure = now;
		if (rateKbps > 0) {
			const start = Math.max(now, direction.busyUntil);
			if (start - now > maxQueueMs) {
				this.stats.dropped++;
				return;
			}
			direction.busyUntil = start + (packet.length * 8) / rateKbps;
			departure = direction.busyUntil;
		}
		const jitter = jitterMs > 0 ? (Math.random() * 2 - 1) * jitterMs : 0;
		const wait = Math.max(0, departure - now + delayMs + jitter);
		this.stats.forwarded++;
		if (wait < 1) {
			send(packet);
			return;
		}
		const timer = setTimeout(() => {
			this.timers.delete(timer);
			if (!this.#closed) send(packet);
		}, wait);
		this.timers.add(timer);
	}

	close(): void {
		if (this.#closed) return;
		this.#closed = true;
		for (const timer of this.timers) clearTimeout(timer);
		this.timers.clear();
		this.#front.close();
		for (const client of this.#clients.values()) client.back.close();
		this.#clients.clear();
	}
}

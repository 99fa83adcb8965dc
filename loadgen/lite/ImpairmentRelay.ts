import dgram from 'node:dgram';
import type { NetworkConditions } from '../../protocol/scenario.ts';

interface Direction {
	/** When the link is free again (rate cap), ms since the relay started. */
	busyUntil: number;
}

/** Packets queued beyond this much sending time are dropped (a router's tail drop). */
const maxQueueMs = 300;

/**
 * A UDP relay between one lite bot transport and the SFU that impairs both directions: delay
 * with jitter, random loss and a rate cap with a bounded queue (what netem does, in user space:
 * the kernels this project runs on have no netem qdisc). The bot is given the relay's address
 * instead of the SFU's ICE candidate; the SFU sees the relay as the bot.
 */
export class ImpairmentRelay {
	readonly #front = dgram.createSocket('udp4');
	readonly #back = dgram.createSocket('udp4');
	#client: { address: string; port: number } | undefined;
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
	) {
		this.#conditions = conditions;
		this.#front.on('message', (packet, from) => {
			this.#client = { address: from.address, port: from.port };
			this.#forward(packet, this.#up, (p) => this.#back.send(p, this.target.port, this.target.address));
		});
		this.#back.on('message', (packet) => {
			const client = this.#client;
			if (client) this.#forward(packet, this.#down, (p) => this.#front.send(p, client.port, client.address));
		});
		this.#front.on('error', () => undefined);
		this.#back.on('error', () => undefined);
	}

	static async open(target: { address: string; port: number }, conditions: NetworkConditions, bindAddress = '127.0.0.1'): Promise<ImpairmentRelay> {
		const relay = new ImpairmentRelay(target, conditions);
		await Promise.all([
			new Promise<void>((resolve) => relay.#front.bind(0, bindAddress, resolve)),
			new Promise<void>((resolve) => relay.#back.bind(0, bindAddress, resolve)),
		]);
		return relay;
	}

	get address(): { address: string; port: number } {
		const a = this.#front.address();
		return { address: a.address, port: a.port };
	}

	setConditions(conditions: NetworkConditions): void {
		this.#conditions = conditions;
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
		this.#back.close();
	}
}

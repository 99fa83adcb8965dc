import type { NetworkConditions } from '../../protocol/scenario.ts';
import type { LiteReply, ParsedLiteCommand } from './ipc.ts';
import { LiteBot } from './LiteBot.ts';
import { newBatch, participantSource } from '../../protocol/telemetry.ts';
import { MediaPump } from './MediaPump.ts';
import { LoopStalls } from './LoopStalls.ts';
import { ViewerBot } from '../viewer/ViewerBot.ts';

/**
 * A process's lite bots are sampled a slice at a time over the stats interval, not all at once:
 * 50 senders' stats in one go held the loop long enough to send up to 1.8 % (median 0.26 %) of
 * their frames more than 40 ms late (bench:lite, 100 bots at 50 per process), which their
 * receivers measure as jitter; in slices, 0–0.05 %.
 */
const samplingSlices = 10;

/** What the host needs of a bot it holds: a lite bot or a viewer. */
type HostedBot = Pick<LiteBot & ViewerBot, 'slot' | 'events' | 'warnings' | 'joined' | 'join' | 'snapshots' | 'leave' | 'close' | 'setNetwork'>;

/**
 * The inside of a lite-bot process: many bots sharing one media pump, each sampled once every
 * stats interval; their telemetry batches go to the parent, which sends them to the collector.
 */
export class LiteHost {
	readonly #bots = new Map<number, HostedBot>();
	readonly #stalls = new LoopStalls();
	readonly #pump = new MediaPump(this.#stalls);
	#timer: NodeJS.Timeout | undefined;
	/** The slice sampled next, and each bot's: the count of lite bots that had joined this process before it. */
	#slice = 0;
	readonly #phase = new WeakMap<HostedBot, number>();
	#joins = 0;
	#config: Extract<ParsedLiteCommand, { op: 'start' }> | undefined;

	constructor(private readonly send: (reply: LiteReply) => void) {}

	async handle(command: ParsedLiteCommand): Promise<void> {
		switch (command.op) {
			case 'start':
				this.#config = command;
				this.#timer = setInterval(() => void this.#sampleSlice(), command.statsIntervalMs / samplingSlices);
				this.send({ op: 'ready' });
				return;
			case 'join':
				return this.#join(command.slot, command.network);
			case 'leave':
				return this.#leave(command.index);
			case 'network':
				for (const bot of this.#bots.values()) if (bot.slot.group === command.group) bot.setNetwork(command.network);
				return;
			case 'stop':
				await Promise.all([...this.#bots.keys()].map((index) => this.#leave(index)));
				clearInterval(this.#timer);
				this.#stalls.close();
				await this.#pump.close();
				return;
		}
	}

	async #join(slot: HostedBot['slot'], network: NetworkConditions | null): Promise<void> {
		const bot: HostedBot = slot.bot === 'viewer' ? new ViewerBot(slot, this.#config!.signalingUrl, this.#stalls, network) : new LiteBot(slot, this.#config!.signalingUrl, this.#pump, this.#stalls, network, this.#config!.e2e);
		this.#bots.set(slot.index, bot);
		// Viewers send nothing to be late, and sampling them in slices bought nothing (README, Benchmarks): all in one.
		this.#phase.set(bot, slot.bot === 'viewer' ? 0 : this.#joins++);
		try {
			await bot.join();
		} catch (error) {
			bot.events.push({ type: 'fail', ts: Date.now(), reason: `join failed: ${(error as Error).message}` });
			this.#flush(bot, []);
			bot.close();
			this.#bots.delete(slot.index);
		}
	}

	async #leave(index: number): Promise<void> {
		const bot = this.#bots.get(index);
		if (!bot) {
			this.send({ op: 'left', index });
			return;
		}
		this.#bots.delete(index);
		const snapshots = await bot.snapshots().catch(() => []);
		await bot.leave().catch(() => bot.close());
		this.#flush(bot, snapshots);
		this.send({ op: 'withheld', counts: this.#stalls.counts });
		this.send({ op: 'left', index });
	}

	/** Every bot once per stats interval, a slice of them at a time (by the order they joined this process). */
	async #sampleSlice(): Promise<void> {
		const slice = this.#slice;
		this.#slice = (slice + 1) % samplingSlices;
		await Promise.all(
			[...this.#bots.values()].filter((bot) => this.#phase.get(bot)! % samplingSlices === slice).map(async (bot) => {
				if (!bot.joined && bot.events.length === 0) return;
				const snapshots = bot.joined ? await bot.snapshots().catch(() => []) : [];
				this.#flush(bot, snapshots);
			}),
		);
		if (this.#bots.size > 0 && slice === samplingSlices - 1) this.send({ op: 'withheld', counts: this.#stalls.counts });
	}

	#flush(bot: HostedBot, snapshots: Awaited<ReturnType<HostedBot['snapshots']>>): void {
		for (const warning of bot.warnings.splice(0, bot.warnings.length)) this.send({ op: 'log', message: warning });
		const events = bot.events.splice(0, bot.events.length);
		if (snapshots.length === 0 && events.length === 0) return;
		this.send({
			op: 'batch',
			batch: newBatch(
				this.#config!.runId,
				participantSource(bot.slot.bot, bot.slot.roomId, bot.slot.peerId, bot.slot.bot === 'viewer' ? `callswarm-viewer (pid ${process.pid})` : `callswarm-lite werift (pid ${process.pid})`),
				snapshots,
				events,
			),
		});
	}
}

import type { GeneratorReading, WatchedProcess } from './GeneratorMonitor.ts';

/** The load generator's bot processes: browsers (browser bots) and lite-bot processes (lite bots and viewers). */
export type BotRole = WatchedProcess['role'];
export const botRoles: readonly BotRole[] = ['browser', 'lite'];

/** Whose processes carry a bot of this kind: a browser's, or a lite-bot process's (lite bots and viewers alike). */
export function botRoleOf(bot: 'browser' | 'lite' | 'viewer'): BotRole {
	return bot === 'browser' ? 'browser' : 'lite';
}

/** What one bot of a role cost this machine over a run. */
export interface BotCost {
	role: BotRole;
	/** Most bots of the role in calls at once. */
	peak: number;
	/** Cores per bot in a call: its processes' CPU seconds over the seconds its bots spent in calls. */
	coresEach: number;
	/**
	 * The preflight's estimate of the same from its table of costs (loadgen/sizing/costs.ts), or
	 * null: a bot's cost in a call, and its share of what the run's joins cost at once.
	 */
	estimatedCoresEach: number | null;
	/** The joins' share of that estimate: the table's CPU seconds per join, for the run's joins, over the same bot-seconds in calls. */
	estimatedJoinCoresEach: number | null;
}

/**
 * What each kind of bot costs this machine, measured over a run: the CPU its processes took (a
 * browser with all its processes; a lite-bot process with its lite bots and viewers), over the
 * time its bots spent in calls. Joins, leaves and the processes' own work are in it, as they are
 * in what a run costs; the preflight's table of costs per bot is set beside it, so a machine
 * slower than the one the table was measured on shows before its estimates mislead. The table's
 * join costs go into the estimate the same way, so a short run, whose joins weigh most, is
 * compared like with like.
 */
export class BotCostMeter {
	#lastTs: number | undefined;
	readonly #cpuSeconds: Record<BotRole, number> = { browser: 0, lite: 0 };
	readonly #botSeconds: Record<BotRole, number> = { browser: 0, lite: 0 };
	readonly #peak: Record<BotRole, number> = { browser: 0, lite: 0 };
	readonly #joinCpuSeconds: Record<BotRole, number> = { browser: 0, lite: 0 };

	/**
	 * Takes a reading of the monitor (each process's CPU since the one before) and how many bots
	 * of each role were in calls at it. The first reading only starts the count: what it holds
	 * was spent before the meter looked.
	 */
	add(reading: GeneratorReading, inCalls: Record<BotRole, number>): void {
		const last = this.#lastTs;
		this.#lastTs = reading.ts;
		if (last === undefined || reading.ts <= last) return;
		const seconds = (reading.ts - last) / 1000;
		for (const stat of reading.stats) {
			if (stat.role === 'browser' || stat.role === 'lite') this.#cpuSeconds[stat.role] += (stat.cpuPct / 100) * seconds;
		}
		for (const role of botRoles) {
			this.#botSeconds[role] += inCalls[role] * seconds;
			this.#peak[role] = Math.max(this.#peak[role], inCalls[role]);
		}
	}

	/**
	 * A bot of the role joined, and the table says a join costs this many CPU seconds at once.
	 * Joins before the meter's first reading are left out, as their CPU is.
	 */
	joined(role: BotRole, tableCpuSeconds: number): void {
		if (this.#lastTs !== undefined) this.#joinCpuSeconds[role] += tableCpuSeconds;
	}

	/**
	 * Each role that had bots in calls: cores per bot in a call, and beside it, where the preflight
	 * has one, its estimate of a bot's cost in a call with the role's share of the joins added.
	 */
	costs(estimatedInCallCoresEach: Partial<Record<BotRole, number>> = {}): BotCost[] {
		return botRoles
			.filter((role) => this.#botSeconds[role] > 0)
			.map((role) => {
				const inCall = estimatedInCallCoresEach[role];
				const joins = this.#joinCpuSeconds[role] / this.#botSeconds[role];
				return {
					role,
					peak: this.#peak[role],
					coresEach: this.#cpuSeconds[role] / this.#botSeconds[role],
					estimatedCoresEach: inCall === undefined ? null : inCall + joins,
					estimatedJoinCoresEach: inCall === undefined ? null : joins,
				};
			});
	}
}

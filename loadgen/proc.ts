/** Process and machine figures from Linux /proc: CPU time, memory, process trees. */
import { readdirSync, readFileSync } from 'node:fs';

const ticksPerSecond = 100;
const pageBytes = 4096;

export interface ProcInfo {
	pid: number;
	ppid: number;
	/** The executable's short name (comm). */
	name: string;
	/** User + system CPU seconds so far. */
	cpuSeconds: number;
	/** User + system CPU seconds of its children that have exited (and been waited for). */
	exitedChildrenCpuSeconds: number;
	rssBytes: number;
}

export function readProcess(pid: number): ProcInfo | undefined {
	try {
		const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
		// Fields after the parenthesised command name (which may contain spaces).
		const close = stat.lastIndexOf(')');
		const rest = stat.slice(close + 2).split(' ');
		return {
			pid,
			ppid: Number(rest[1]),
			name: stat.slice(stat.indexOf('(') + 1, close),
			cpuSeconds: (Number(rest[11]) + Number(rest[12])) / ticksPerSecond,
			exitedChildrenCpuSeconds: (Number(rest[13]) + Number(rest[14])) / ticksPerSecond,
			rssBytes: Number(rest[21]) * pageBytes,
		};
	} catch {
		return undefined;
	}
}

/** Every process now, by pid. */
export function processTable(): Map<number, ProcInfo> {
	const table = new Map<number, ProcInfo>();
	for (const entry of readdirSync('/proc')) {
		if (!/^\d+$/.test(entry)) continue;
		const info = readProcess(Number(entry));
		if (info) table.set(info.pid, info);
	}
	return table;
}

/** A process and all its descendants (Chromium's renderers, GPU and utility processes). */
export function processTree(root: number, table: Map<number, ProcInfo> = processTable()): number[] {
	const children = new Map<number, number[]>();
	for (const p of table.values()) {
		let list = children.get(p.ppid);
		if (!list) children.set(p.ppid, (list = []));
		list.push(p.pid);
	}
	const out: number[] = [];
	const queue = [root];
	while (queue.length) {
		const pid = queue.shift()!;
		out.push(pid);
		queue.push(...(children.get(pid) ?? []));
	}
	return out;
}

/** CPU seconds (user + system) used so far by a process tree. */
export function treeCpuSeconds(root: number, table: Map<number, ProcInfo> = processTable()): number {
	return processTree(root, table).reduce((sum, pid) => sum + (table.get(pid)?.cpuSeconds ?? 0), 0);
}

/**
 * CPU seconds so far of a Chromium process tree's processes other than its renderers (one per
 * page): the browser process, the GPU process and the utility processes (network, audio,
 * storage), which a browser runs whatever its number of pages.
 */
export function browserWideCpuSeconds(root: number, table: Map<number, ProcInfo> = processTable()): number {
	let sum = 0;
	for (const pid of processTree(root, table)) {
		let command: string;
		try {
			command = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
		} catch {
			continue;
		}
		if (!command.split(/[\0 ]/).includes('--type=renderer')) sum += table.get(pid)?.cpuSeconds ?? 0;
	}
	return sum;
}

/**
 * Seconds a process's threads have so far spent ready to run but waiting for a core (the
 * scheduler's run delay, `/proc/<pid>/task/<tid>/schedstat`). CPU time says how much a process
 * worked; this says how long its work waited, which is what a packet queued behind it feels
 * before the process is anywhere near a full core. Undefined if the process is gone or the
 * kernel keeps no scheduler statistics.
 */
export function runQueueSeconds(pid: number): number | undefined {
	let tasks: string[];
	try {
		tasks = readdirSync(`/proc/${pid}/task`);
	} catch {
		return undefined;
	}
	let nanoseconds = 0;
	let read = false;
	for (const tid of tasks) {
		try {
			// "<on-cpu ns> <run delay ns> <timeslices>"
			nanoseconds += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[1]);
			read = true;
		} catch {
			// the thread ended, or no schedstat in this kernel
		}
	}
	return read ? nanoseconds / 1e9 : undefined;
}

/**
 * Resolves once the process trees together use less than `maxCores` of CPU over `windowMs`
 * (a browser keeps starting up for seconds after it answers), or after `timeoutMs` at most.
 * Returns whether they settled.
 */
export async function settled(roots: number[], { maxCores = 0.2, windowMs = 250, timeoutMs = 15_000 } = {}): Promise<boolean> {
	const cpu = (): number => {
		const table = processTable();
		return roots.reduce((sum, root) => sum + treeCpuSeconds(root, table), 0);
	};
	const deadline = Date.now() + timeoutMs;
	let before = cpu();
	while (Date.now() < deadline) {
		const started = Date.now();
		await new Promise((resolve) => setTimeout(resolve, windowMs));
		const now = cpu();
		if ((now - before) / ((Date.now() - started) / 1000) < maxCores) return true;
		before = now;
	}
	return false;
}

/** Proportional set size of a process tree, bytes (shared pages split between sharers). */
export function treePssBytes(root: number): number {
	let total = 0;
	for (const pid of processTree(root)) {
		try {
			const match = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
			total += match ? Number(match[1]) * 1024 : 0;
		} catch {
			// gone
		}
	}
	return total;
}

/** Busy and total CPU time of the whole machine so far (all cores), from /proc/stat. */
export function machineCpu(): { busySeconds: number; totalSeconds: number; cores: number } {
	const text = readFileSync('/proc/stat', 'utf8');
	const fields = text.slice(0, text.indexOf('\n')).split(/\s+/).slice(1).map(Number);
	// user nice system idle iowait irq softirq steal
	const total = fields.slice(0, 8).reduce((a, b) => a + b, 0);
	const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
	const cores = (text.match(/^cpu\d+ /gm) ?? []).length || 1;
	return { busySeconds: (total - idle) / ticksPerSecond, totalSeconds: total / ticksPerSecond, cores };
}

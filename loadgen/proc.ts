import { readdirSync, readFileSync } from 'node:fs';

const ticksPerSecond = 100;

interface ProcInfo {
	pid: number;
	ppid: number;
	cpuSeconds: number;
}

function read(pid: number): ProcInfo | undefined {
	try {
		const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
		// Fields after the parenthesised command name (which may contain spaces).
		const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
		return { pid, ppid: Number(rest[1]), cpuSeconds: (Number(rest[11]) + Number(rest[12])) / ticksPerSecond };
	} catch {
		return undefined;
	}
}

/** A process and all its descendants (Chromium's renderers, GPU and utility processes). */
export function processTree(root: number): number[] {
	const all = readdirSync('/proc')
		.filter((d) => /^\d+$/.test(d))
		.map((d) => read(Number(d)))
		.filter((p): p is ProcInfo => p !== undefined);
	const children = new Map<number, number[]>();
	for (const p of all) children.set(p.ppid, [...(children.get(p.ppid) ?? []), p.pid]);
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
export function treeCpuSeconds(root: number): number {
	return processTree(root).reduce((sum, pid) => sum + (read(pid)?.cpuSeconds ?? 0), 0);
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

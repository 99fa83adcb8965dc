/**
 * Network namespaces as stand-in hosts: each gets a veth pair to this (the root) namespace and
 * its own address on a private /24, so a server here sees connections from a non-loopback
 * address. Needs root and iproute2; `netnsUnavailable()` says why not when it cannot work.
 */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface Host {
	name: string;
	/** The host's address, inside its namespace. */
	address: string;
	/** The root namespace's address on the host's link (a server here listens on it). */
	gateway: string;
	/** Runs a command inside the host's namespace. */
	exec(command: string, args: string[], options?: { timeout?: number; env?: NodeJS.ProcessEnv }): Promise<{ stdout: string; stderr: string }>;
}

let probed: string | undefined | null = null;

/** Why namespaces cannot be made here, or undefined when they can. */
export function netnsUnavailable(): string | undefined {
	if (probed !== null) return probed;
	if (process.getuid?.() !== 0) return (probed = 'needs root (ip netns)');
	const name = `cs-probe-${randomBytes(3).toString('hex')}`;
	try {
		execFileSync('ip', ['netns', 'add', name], { stdio: 'pipe' });
		execFileSync('ip', ['netns', 'delete', name], { stdio: 'pipe' });
		probed = undefined;
	} catch (error) {
		probed = `cannot create a network namespace: ${(error as Error).message.split('\n')[0]}`;
	}
	return probed;
}

/** Hosts on subnet 10.<subnet>.<i>.0/24 each (one link per host), removed by `removeHosts`. */
export async function createHosts(count: number, subnet = 100 + Math.floor(Math.random() * 100)): Promise<Host[]> {
	const hosts: Host[] = [];
	const tag = randomBytes(2).toString('hex');
	for (let i = 0; i < count; i++) {
		const name = `cs-${tag}-${i}`;
		const outside = `csv${tag}${i}a`;
		const inside = `csv${tag}${i}b`;
		const gateway = `10.${subnet}.${i}.1`;
		const address = `10.${subnet}.${i}.2`;
		await run('ip', ['netns', 'add', name]);
		await run('ip', ['link', 'add', outside, 'type', 'veth', 'peer', 'name', inside]);
		await run('ip', ['link', 'set', inside, 'netns', name]);
		await run('ip', ['addr', 'add', `${gateway}/24`, 'dev', outside]);
		await run('ip', ['link', 'set', outside, 'up']);
		await run('ip', ['netns', 'exec', name, 'ip', 'addr', 'add', `${address}/24`, 'dev', inside]);
		await run('ip', ['netns', 'exec', name, 'ip', 'link', 'set', inside, 'up']);
		await run('ip', ['netns', 'exec', name, 'ip', 'link', 'set', 'lo', 'up']);
		await run('ip', ['netns', 'exec', name, 'ip', 'route', 'add', 'default', 'via', gateway]);
		hosts.push({
			name,
			address,
			gateway,
			exec: (command, args, options = {}) =>
				run('ip', ['netns', 'exec', name, command, ...args], { timeout: options.timeout ?? 60_000, maxBuffer: 16 << 20, env: { ...process.env, ...options.env } }),
		});
	}
	return hosts;
}

export async function removeHosts(hosts: Host[]): Promise<void> {
	// Deleting a namespace deletes its end of the veth pair, and with it the other end.
	for (const host of hosts) await run('ip', ['netns', 'delete', host.name]).catch(() => undefined);
}

/** An HTTP request made from inside a host, by Node's fetch: status and body text. `caFile` trusts a test certificate. */
export async function fetchFrom(
	host: Host,
	url: string,
	init: { method?: string; headers?: Record<string, string>; body?: string } = {},
	caFile?: string,
): Promise<{ status: number; body: string }> {
	const script = `const r = await fetch(${JSON.stringify(url)}, ${JSON.stringify(init)}); process.stdout.write(JSON.stringify({ status: r.status, body: await r.text() }));`;
	const { stdout } = await host.exec(process.execPath, ['--input-type=module', '-e', script], caFile ? { env: { NODE_EXTRA_CA_CERTS: caFile } } : {});
	return JSON.parse(stdout) as { status: number; body: string };
}

/** A process started inside a host; stop it by its id. */
export interface HostProcess {
	child: ChildProcess;
	output: string[];
	exited: Promise<number | null>;
}

/**
 * Hosts on one switched /24 (a bridge in a namespace of its own), so they reach each other
 * directly, as machines on one LAN: no routing or forwarding in this namespace. The test runner
 * joins the LAN too (as `.1`) to watch, like an operator's laptop.
 */
export interface Lan {
	hosts: Host[];
	/** This (the root) namespace's address on the LAN. */
	runnerAddress: string;
	/** Starts a long-running process inside a host. */
	spawn(host: Host, command: string, args: string[], env?: NodeJS.ProcessEnv): HostProcess;
	close(): Promise<void>;
}

export async function createLan(count: number, subnet = 100 + Math.floor(Math.random() * 100)): Promise<Lan> {
	const tag = randomBytes(2).toString('hex');
	const switchNs = `cs-${tag}-sw`;
	const prefix = `10.${subnet}.250`;
	const names: string[] = [switchNs];
	const processes: HostProcess[] = [];
	const attach = async (inside: string, ns: string | undefined, address: string, link: string) => {
		const outside = `${link}a`;
		await run('ip', ['link', 'add', outside, 'type', 'veth', 'peer', 'name', inside]);
		await run('ip', ['link', 'set', outside, 'netns', switchNs]);
		await run('ip', ['netns', 'exec', switchNs, 'ip', 'link', 'set', outside, 'master', 'br0']);
		await run('ip', ['netns', 'exec', switchNs, 'ip', 'link', 'set', outside, 'up']);
		if (ns) await run('ip', ['link', 'set', inside, 'netns', ns]);
		const inNs = (args: string[]) => (ns ? run('ip', ['netns', 'exec', ns, 'ip', ...args]) : run('ip', args));
		await inNs(['addr', 'add', `${address}/24`, 'dev', inside]);
		await inNs(['link', 'set', inside, 'up']);
	};
	try {
		await run('ip', ['netns', 'add', switchNs]);
		await run('ip', ['netns', 'exec', switchNs, 'ip', 'link', 'add', 'br0', 'type', 'bridge']);
		await run('ip', ['netns', 'exec', switchNs, 'ip', 'link', 'set', 'br0', 'up']);
		const hosts: Host[] = [];
		for (let i = 0; i < count; i++) {
			const name = `cs-${tag}-h${i}`;
			names.push(name);
			await run('ip', ['netns', 'add', name]);
			await run('ip', ['netns', 'exec', name, 'ip', 'link', 'set', 'lo', 'up']);
			const address = `${prefix}.${i + 2}`;
			await attach(`csl${tag}${i}b`, name, address, `csl${tag}${i}`);
			hosts.push({
				name,
				address,
				gateway: `${prefix}.1`,
				exec: (command, args, options = {}) =>
					run('ip', ['netns', 'exec', name, command, ...args], { timeout: options.timeout ?? 60_000, maxBuffer: 16 << 20, env: { ...process.env, ...options.env } }),
			});
		}
		await attach(`csl${tag}rb`, undefined, `${prefix}.1`, `csl${tag}r`);
		return {
			hosts,
			runnerAddress: `${prefix}.1`,
			spawn(host, command, args, env = {}) {
				const child = spawn('ip', ['netns', 'exec', host.name, command, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
				const output: string[] = [];
				const keep = (data: Buffer) => {
					output.push(...String(data).split('\n').filter(Boolean));
					if (output.length > 400) output.splice(0, output.length - 400);
				};
				child.stdout!.on('data', keep);
				child.stderr!.on('data', keep);
				const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
				const started = { child, output, exited };
				processes.push(started);
				return started;
			},
			async close() {
				for (const p of processes) {
					if (p.child.exitCode === null && p.child.signalCode === null) {
						p.child.kill('SIGTERM');
						const timer = setTimeout(() => p.child.kill('SIGKILL'), 5000);
						await p.exited;
						clearTimeout(timer);
					}
				}
				for (const name of names.reverse()) await run('ip', ['netns', 'delete', name]).catch(() => undefined);
			},
		};
	} catch (error) {
		for (const name of names.reverse()) await run('ip', ['netns', 'delete', name]).catch(() => undefined);
		throw error;
	}
}

import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { existsSync } from 'node:fs';

export class TurnNotFoundError extends Error {
	override name = 'TurnNotFoundError';
}

export interface TurnServerOptions {
	/** Where browsers reach it (through their relays): the address it listens on. */
	listenIp: string;
	/** The address its relayed candidates carry: one the SFU (or the app's peers) can reach. */
	relayIp: string;
}

/** Debian's coturn, installed by scripts/setup.sh; TURN_SERVER_BIN overrides. */
export function resolveTurnServer(env: NodeJS.ProcessEnv = process.env): string {
	const candidates = [env.TURN_SERVER_BIN, '/usr/bin/turnserver'].filter((c): c is string => Boolean(c));
	for (const candidate of candidates) if (existsSync(candidate)) return candidate;
	throw new TurnNotFoundError(`no TURN server found (looked at ${candidates.join(', ')}): run "npm install" (it apt-installs coturn) or set TURN_SERVER_BIN`);
}

async function freeUdpPort(ip: string): Promise<number> {
	const socket = dgram.createSocket('udp4');
	await new Promise<void>((resolve) => socket.bind(0, ip, resolve));
	const { port } = socket.address();
	await new Promise<void>((resolve) => socket.close(() => resolve()));
	return port;
}

/**
 * A real TURN server (coturn) for one run: long-term credentials made up for the run, UDP only,
 * no TLS, relaying to loopback and private peers (which coturn refuses by default). Browser bots
 * reach it through their own impairment relays, so each participant's media takes that
 * participant's network. Stopped by its process id.
 */
export class TurnServer {
	private constructor(
		readonly process: ChildProcess,
		readonly address: { address: string; port: number },
		readonly username: string,
		readonly credential: string,
		private readonly output: string[],
	) {}

	static async start(options: TurnServerOptions = { listenIp: '127.0.0.1', relayIp: '127.0.0.1' }): Promise<TurnServer> {
		const bin = resolveTurnServer();
		const port = await freeUdpPort(options.listenIp);
		// Relayed ports well away from the SFU's media range (40000-49999 by default).
		const minPort = 50_000 + Math.floor(Math.random() * 100) * 100;
		const username = `bot-${randomBytes(4).toString('hex')}`;
		const credential = randomBytes(12).toString('hex');
		const child = spawn(
			bin,
			[
				'-n',
				`--listening-ip=${options.listenIp}`,
				`--relay-ip=${options.relayIp}`,
				`--listening-port=${port}`,
				`--min-port=${minPort}`,
				`--max-port=${minPort + 1999}`,
				'--lt-cred-mech',
				`--user=${username}:${credential}`,
				'--realm=callswarm',
				'--allow-loopback-peers',
				'--no-tls',
				'--no-dtls',
				'--no-tcp',
				'--no-cli',
				'--no-stun-backward-compatibility',
				'--log-file=stdout',
				'--simple-log',
			],
			{ stdio: ['ignore', 'pipe', 'pipe'] },
		);
		const output: string[] = [];
		const keep = (data: Buffer) => {
			output.push(...String(data).split('\n').filter(Boolean));
			if (output.length > 200) output.splice(0, output.length - 200);
		};
		child.stdout.on('data', keep);
		child.stderr.on('data', keep);
		const server = new TurnServer(child, { address: options.listenIp, port }, username, credential, output);
		await server.#ready();
		return server;
	}

	/** Resolves once coturn listens (it says so), rejects if it exits first. */
	#ready(): Promise<void> {
		return new Promise((resolve, reject) => {
			const deadline = setTimeout(() => reject(new Error(`TURN server did not start: ${this.output.slice(-5).join(' | ')}`)), 15_000);
			const check = setInterval(() => {
				if (this.output.some((line) => /Total (UDP|General) servers|relay.*initialized|listener opened/i.test(line))) done(resolve);
			}, 50);
			const done = (fn: () => void) => {
				clearTimeout(deadline);
				clearInterval(check);
				fn();
			};
			this.process.once('exit', (code, signal) => done(() => reject(new Error(`TURN server exited (${signal ?? code}): ${this.output.slice(-5).join(' | ')}`))));
		});
	}

	/** The ICE server entry for a participant whose relay forwards to this server. */
	iceServer(through: { address: string; port: number }): { urls: string; username: string; credential: string } {
		return { urls: `turn:${through.address}:${through.port}?transport=udp`, username: this.username, credential: this.credential };
	}

	async stop(): Promise<void> {
		if (this.process.exitCode !== null || this.process.signalCode !== null) return;
		const exited = new Promise((resolve) => this.process.once('exit', resolve));
		this.process.kill('SIGTERM');
		const timer = setTimeout(() => this.process.kill('SIGKILL'), 3000);
		await exited;
		clearTimeout(timer);
	}
}

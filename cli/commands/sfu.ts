import { z } from 'zod';
import { sfuOptionsFromEnv, startSfu, type SfuOptionsInput } from '../../sfu/index.ts';
import { wholeNumberText } from '../../protocol/issues.ts';
import { parseCommandLine } from '../args.ts';
import { untilSignal } from '../signals.ts';

export const sfuHelp = `callswarm sfu [flags]: run the bundled mediasoup SFU

  --listen <ip>               HTTP/WebSocket address (default 127.0.0.1; env CALLSWARM_SFU_LISTEN_IP)
  --port <n>                  HTTP/WebSocket port (default 4000; env CALLSWARM_SFU_PORT)
  --rtc-listen <ip>           media socket address (default: --listen; env CALLSWARM_SFU_RTC_LISTEN_IP)
  --announced-address <host>  address put in ICE candidates (env CALLSWARM_SFU_ANNOUNCED_ADDRESS)
  --rtc-ports <min-max>       UDP/TCP port range for media (default 40000-49999; env CALLSWARM_SFU_RTC_PORTS)
  --workers <n>               mediasoup worker processes (default: one per core; env CALLSWARM_SFU_WORKERS)
  --max-rooms <n>             rooms per server (default 1000; env CALLSWARM_SFU_MAX_ROOMS)
  --max-peers-per-room <n>    peers per room (default 200; env CALLSWARM_SFU_MAX_PEERS_PER_ROOM)
  --max-viewers-per-room <n>  viewers per room besides them (default 5000; env CALLSWARM_SFU_MAX_VIEWERS_PER_ROOM)
  --viewers-on-room-worker    viewers receive from their room's worker only (default: each from the
                              least-loaded worker, the room's media piped there)
  --heartbeat <ms>            ping interval; a peer that misses one ping is closed (default 10000;
                              env CALLSWARM_SFU_HEARTBEAT_MS)
  --no-tcp                    UDP only for media
  --log-level <level>         debug | warn | error | none (default warn)
`;


const SfuFlags = z.object({
	listen: z.string().optional(),
	port: wholeNumberText.pipe(z.number().max(65535)).optional(),
	'rtc-listen': z.string().optional(),
	'announced-address': z.string().optional(),
	'rtc-ports': z.string().regex(/^\d+-\d+$/, 'must look like 40000-49999').optional(),
	workers: wholeNumberText.pipe(z.number().min(1)).optional(),
	'max-rooms': wholeNumberText.pipe(z.number().min(1)).optional(),
	'max-peers-per-room': wholeNumberText.pipe(z.number().min(1)).optional(),
	'max-viewers-per-room': wholeNumberText.optional(),
	heartbeat: wholeNumberText.pipe(z.number().min(100)).optional(),
	'no-tcp': z.boolean().optional(),
	'viewers-on-room-worker': z.boolean().optional(),
	'log-level': z.enum(['debug', 'warn', 'error', 'none']).optional(),
	positionals: z.array(z.string()).max(0, 'takes no positional arguments'),
});

export function sfuOptionsFromArgs(argv: string[], env: NodeJS.ProcessEnv): SfuOptionsInput {
	const flags = parseCommandLine(argv, SfuFlags, 'sfu');
	const [rtcMinPort, rtcMaxPort] = flags['rtc-ports']?.split('-').map(Number) ?? [];
	const fromFlags: SfuOptionsInput = {
		listenIp: flags.listen,
		port: flags.port,
		rtcListenIp: flags['rtc-listen'],
		announcedAddress: flags['announced-address'],
		rtcMinPort,
		rtcMaxPort,
		workers: flags.workers,
		maxRooms: flags['max-rooms'],
		maxPeersPerRoom: flags['max-peers-per-room'],
		maxViewersPerRoom: flags['max-viewers-per-room'],
		heartbeatMs: flags.heartbeat,
		enableTcp: flags['no-tcp'] ? false : undefined,
		spreadViewers: flags['viewers-on-room-worker'] ? false : undefined,
		logLevel: flags['log-level'],
	};
	const defined = Object.fromEntries(Object.entries(fromFlags).filter(([, v]) => v !== undefined));
	return { ...sfuOptionsFromEnv(env), ...defined };
}

export async function sfuCommand(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
	const sfu = await startSfu({ logLevel: 'warn', ...sfuOptionsFromArgs(argv, env) });
	const { workers, rtcMinPort, rtcMaxPort } = sfu.options;
	console.log(`callswarm SFU on ${sfu.url}  (${workers} mediasoup workers, media ports ${rtcMinPort}-${rtcMaxPort})`);
	console.log(`  signaling  ${sfu.wsUrl}`);
	console.log(`  bot page   ${sfu.botPageUrl}?room=demo`);
	console.log(`  metrics    ${sfu.url}/metrics   rooms ${sfu.url}/v1/rooms   health ${sfu.url}/healthz`);
	await untilSignal();
	console.log('stopping the SFU');
	await sfu.close();
	return 0;
}

import { describe, expect, it } from 'vitest';
import { sfuOptionsFromArgs } from '../../cli/commands/sfu.ts';
import { InputError } from '../../protocol/issues.ts';
import { SfuOptions } from '../../sfu/options.ts';

describe('callswarm sfu flags and environment', () => {
	it('flags win over the environment, which wins over defaults', () => {
		const options = SfuOptions.parse(
			sfuOptionsFromArgs(['--port', '5000', '--rtc-ports', '50000-50100', '--no-tcp', '--max-viewers-per-room', '20000'], {
				CALLSWARM_SFU_PORT: '4100',
				CALLSWARM_SFU_MAX_VIEWERS_PER_ROOM: '10',
				CALLSWARM_SFU_WORKERS: '3',
				CALLSWARM_SFU_ANNOUNCED_ADDRESS: '203.0.113.7',
			}),
		);
		expect(options).toMatchObject({
			port: 5000,
			workers: 3,
			rtcMinPort: 50000,
			rtcMaxPort: 50100,
			enableTcp: false,
			announcedAddress: '203.0.113.7',
			listenIp: '127.0.0.1',
			maxViewersPerRoom: 20000,
			maxPeersPerRoom: 200,
		});
		expect(SfuOptions.parse(sfuOptionsFromArgs([], { CALLSWARM_SFU_MAX_VIEWERS_PER_ROOM: '10' })).maxViewersPerRoom).toBe(10);
		// Viewers spread over the workers unless told to stay on their room's.
		expect(options.spreadViewers).toBe(true);
		expect(SfuOptions.parse(sfuOptionsFromArgs(['--viewers-on-room-worker'], {})).spreadViewers).toBe(false);
	});

	it('names the bad flag or variable', () => {
		expect(() => sfuOptionsFromArgs(['--port', 'http'], {})).toThrow(new InputError('invalid flags for "callswarm sfu": port: must be a whole number'));
		expect(() => sfuOptionsFromArgs([], { CALLSWARM_SFU_RTC_PORTS: '40000' })).toThrow(/CALLSWARM_SFU_RTC_PORTS: must look like 40000-49999/);
		expect(() => sfuOptionsFromArgs(['--wat'], {})).toThrow(/Unknown option '--wat'/);
		expect(() => sfuOptionsFromArgs(['--max-viewers-per-room', 'many'], {})).toThrow(/max-viewers-per-room: must be a whole number/);
		expect(() => SfuOptions.parse({ rtcMinPort: 5000, rtcMaxPort: 4000 })).toThrow(/rtcMinPort must not exceed rtcMaxPort/);
	});
});

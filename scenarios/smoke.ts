import { defineScenario } from '../protocol/scenario.ts';

/** Two rooms of two browser bots for about 40 s: proves SFU, bots, telemetry and thresholds work. */
export default defineScenario({
	name: 'smoke',
	description: 'Two rooms of two browser bots (180p15 camera, microphone) for about 40 s.',
	rooms: { count: 2 },
	participants: [{ bot: 'browser', count: 2, publish: '180p15' }],
	schedule: {
		executor: 'ramping-vus',
		stages: [
			{ duration: '5s', target: 4 },
			{ duration: '35s', target: 4 },
		],
	},
	statsInterval: '2s',
	thresholds: {
		join_failed: ['rate<0.01'],
		rtt_ms: ['p(95)<150'],
		loss_pct: ['avg<2'],
		first_media_ms: ['p(95)<5000'],
		fps: ['med>10'],
	},
});

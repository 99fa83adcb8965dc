import { defineScenario } from '../protocol/scenario.ts';

/**
 * Two rooms of two browser bots for about 44 s: proves SFU, bots, telemetry and thresholds work.
 * The bots arrive about 4 s apart: a browser bot's join (page, devices, encoder) takes most of two
 * cores for 2–3 s on a slower 2-core machine, and joins closer together saturate it for longer
 * than the generator's limit, which rightly makes the run invalid.
 */
export default defineScenario({
	name: 'smoke',
	description: 'Two rooms of two browser bots (180p15 camera, microphone) for about 44 s, arriving 4 s apart.',
	rooms: { count: 2 },
	participants: [{ bot: 'browser', count: 2, publish: '180p15' }],
	schedule: {
		executor: 'ramping-vus',
		stages: [
			{ duration: '16s', target: 4 },
			{ duration: '28s', target: 4 },
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

import { defineScenario } from '../protocol/scenario.ts';

/**
 * Browsers carry the realism, lite bots carry the volume: each room has 2 browser bots and 10
 * werift bots (pre-encoded VP8 + Opus), and the browsers decode the lite bots' video.
 */
export default defineScenario({
	name: 'hybrid',
	description: '2 rooms of 2 browser bots + 10 lite bots, ramped up in 20 s, held for 1 min.',
	rooms: { count: 2 },
	participants: [
		{ bot: 'browser', count: 2, publish: '180p15' },
		// Lite bots hear everyone but watch nobody: receiving costs them far more than sending.
		{ bot: 'lite', count: 10, publish: '180p15', subscribe: 'audio' },
	],
	schedule: {
		executor: 'ramping-vus',
		stages: [
			{ duration: '20s', target: 24 },
			{ duration: '1m', target: 24 },
		],
	},
	thresholds: {
		join_failed: ['rate<0.01'],
		rtt_ms: ['p(95)<150'],
		loss_pct: ['avg<1'],
	},
});

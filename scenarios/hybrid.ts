import { defineScenario } from '../protocol/scenario.ts';

/**
 * Browsers carry the realism, lite bots carry the volume: 2 browser bots and 8 werift bots
 * (pre-encoded VP8 + Opus) in one room; the browsers decode everyone's video. Sized for a
 * 2-core machine, where decoding nine videos makes each browser the most expensive participant.
 */
export default defineScenario({
	name: 'hybrid',
	description: 'One room of 2 browser bots + 8 lite bots, ramped up in 20 s, held for 1 min.',
	rooms: { count: 1 },
	participants: [
		{ bot: 'browser', count: 2, publish: '180p15' },
		// Lite bots hear everyone but watch nobody: receiving costs them far more than sending.
		{ bot: 'lite', count: 8, publish: '180p15', subscribe: 'audio' },
	],
	schedule: {
		executor: 'ramping-vus',
		stages: [
			{ duration: '20s', target: 10 },
			{ duration: '1m', target: 10 },
		],
	},
	thresholds: {
		join_failed: ['rate<0.01'],
		rtt_ms: ['p(95)<150'],
		loss_pct: ['avg<1'],
	},
});

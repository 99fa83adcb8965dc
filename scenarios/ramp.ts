import { defineScenario } from '../protocol/scenario.ts';

/**
 * Ramps browser bots up to what a 2-core machine holds comfortably (8 bots at 180p15, about
 * 0.2 core each), holds, and ramps down. Raise the target on bigger machines or with shards.
 */
export default defineScenario({
	name: 'ramp',
	description: 'ramping-vus 0 -> 8 browser bots in 4 rooms over 1 min, hold 1 min, ramp down.',
	rooms: { count: 4 },
	participants: [{ bot: 'browser', count: 2, publish: '180p15' }],
	schedule: {
		executor: 'ramping-vus',
		startVUs: 0,
		stages: [
			{ duration: '1m', target: 8 },
			{ duration: '1m', target: 8 },
			{ duration: '20s', target: 0 },
		],
	},
	statsInterval: '2s',
	thresholds: {
		join_failed: ['rate<0.01'],
		rtt_ms: ['p(95)<150'],
		loss_pct: ['p(95)<2'],
		first_media_ms: ['p(95)<5000'],
		mos: [{ threshold: 'p(5)>3.5', abortOnFail: true, delayAbortEval: '30s' }],
	},
});

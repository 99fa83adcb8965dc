import { defineScenario } from '../protocol/scenario.ts';

/**
 * Ramps browser bots up to what a 2-core machine carries with headroom (6 bots at 180p15 in
 * rooms of 2, about 0.16 core each), holds, and ramps down. Rooms fill one after the other, so
 * every joiner is soon in a call with someone. Raise the target on bigger machines or with shards.
 */
export default defineScenario({
	name: 'ramp',
	description: 'ramping-vus 0 -> 6 browser bots in 3 rooms of 2 over 1 min, hold 1 min, ramp down.',
	rooms: { count: 3, fill: 'pack' },
	participants: [{ bot: 'browser', count: 2, publish: '180p15' }],
	schedule: {
		executor: 'ramping-vus',
		startVUs: 0,
		stages: [
			{ duration: '1m', target: 6 },
			{ duration: '1m', target: 6 },
			{ duration: '20s', target: 0 },
		],
	},
	statsInterval: '2s',
	thresholds: {
		join_failed: ['rate<0.01'],
		rtt_ms: ['p(95)<150'],
		loss_pct: ['p(95)<2'],
		first_media_ms: ['p(95)<5000'],
		// Waits for received audio: a participant alone in a room has none yet.
		mos: [{ threshold: 'p(5)>3.5', abortOnFail: true, delayAbortEval: '30s' }],
	},
});

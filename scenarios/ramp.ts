import { defineScenario } from '../protocol/scenario.ts';

/**
 * Ramps browser bots up to what a 2-core machine carries with headroom (4 bots at 180p15 in
 * rooms of 2), holds, and ramps down. Rooms fill one after the other, so every joiner is soon in
 * a call with someone. Raise the target on bigger machines or with shards: with 6, a slower
 * 2-core machine sat at 70–90 % once all had joined, and a join on top of that held it over the
 * generator's limit (the run rightly invalid).
 */
export default defineScenario({
	name: 'ramp',
	description: 'ramping-vus 0 -> 4 browser bots in 2 rooms of 2 over 1 min, hold 1 min, ramp down.',
	rooms: { count: 2, fill: 'pack' },
	participants: [{ bot: 'browser', count: 2, publish: '180p15' }],
	schedule: {
		executor: 'ramping-vus',
		startVUs: 0,
		stages: [
			{ duration: '1m', target: 4 },
			{ duration: '1m', target: 4 },
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

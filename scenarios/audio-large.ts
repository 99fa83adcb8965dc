import { defineScenario } from '../protocol/scenario.ts';

/**
 * A town hall: one large audio-only room where a few people speak and everyone listens. Four
 * speakers (a browser bot, which decodes and conceals like a real client, and three lite bots)
 * and twenty listening lite bots, arriving at one per second.
 */
export default defineScenario({
	name: 'audio-large',
	description: 'One audio-only room of 24: 4 speakers (1 browser + 3 lite) and 20 listeners, arriving at 1 per second.',
	rooms: { count: 1 },
	participants: [
		{ name: 'speaker', bot: 'browser', count: 1, publish: 'audio-only', subscribe: 'audio' },
		{ name: 'speaker-lite', bot: 'lite', count: 3, publish: 'audio-only', subscribe: 'audio' },
		{ name: 'listener', bot: 'lite', count: 20, publish: 'none', subscribe: 'audio' },
	],
	schedule: {
		executor: 'ramping-arrival-rate',
		startRate: 1,
		timeUnit: '1s',
		stages: [
			{ duration: '24s', target: 1 },
			{ duration: '1m', target: 0 },
		],
	},
	thresholds: {
		join_failed: ['rate<0.01'],
		jitter_ms: ['p(95)<30'],
		concealment_pct: ['p(95)<5'],
		mos: ['p(50)>4'],
	},
});

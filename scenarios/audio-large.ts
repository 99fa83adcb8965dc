import { defineScenario } from '../protocol/scenario.ts';

/** One large audio-only room (a town hall): 16 microphones, everyone hears everyone. */
export default defineScenario({
	name: 'audio-large',
	description: '16 audio-only browser participants in one room, arriving at 1 per second.',
	rooms: { count: 1 },
	participants: [{ bot: 'browser', count: 16, publish: 'audio-only', subscribe: 'audio' }],
	schedule: {
		executor: 'ramping-arrival-rate',
		startRate: 1,
		timeUnit: '1s',
		stages: [
			{ duration: '16s', target: 1 },
			{ duration: '1m', target: 0 },
		],
	},
	pagesPerBrowser: 16,
	thresholds: {
		join_failed: ['rate<0.01'],
		jitter_ms: ['p(95)<30'],
		concealment_pct: ['p(95)<5'],
		mos: ['p(50)>4'],
	},
});

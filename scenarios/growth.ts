import { defineScenario } from '../protocol/scenario.ts';

/** User growth: participants double every 15 s (exponential adoption), then a plateau. */
export default defineScenario({
	name: 'growth',
	description: 'Exponential growth from 1 to 12 audio+video participants in 3 rooms, then 1 min at the ceiling.',
	rooms: { count: 3 },
	participants: [{ bot: 'browser', count: 4, publish: '180p15' }],
	schedule: {
		executor: 'growth',
		curve: 'exponential',
		start: 1,
		ceiling: 12,
		doublingTime: '15s',
		duration: '1m',
		plateau: '1m',
	},
	thresholds: {
		join_failed: ['rate<0.01'],
		rtt_ms: ['p(95)<200'],
		loss_pct: ['avg<2'],
	},
});

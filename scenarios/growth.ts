import { defineScenario } from '../protocol/scenario.ts';

/**
 * User growth: participants double every 15 s (exponential adoption) up to 12, then a plateau.
 * Rooms of 6 like a team call: a browser bot for full realism (it decodes what it receives),
 * two lite bots with camera and three with only a microphone for volume (rooms of 8 held a
 * slower 2-core machine at its limit). Sized for a 2-core machine (about 0.8 core at the
 * peak, see `callswarm run`'s preflight); scale the counts up with --shard over more machines.
 */
export default defineScenario({
	name: 'growth',
	description: 'Exponential growth from 1 to 12 participants in 2 rooms of 6 (1 browser + 5 lite bots each), then 1 min at the ceiling.',
	rooms: { count: 2, fill: 'pack' },
	participants: [
		{ name: 'browser', bot: 'browser', count: 1, publish: '180p15' },
		// Lite bots hear the three loudest, as a messenger's SFU forwards them.
		{ name: 'camera', bot: 'lite', count: 2, publish: '180p15', subscribe: 'audio', audioTopN: 3 },
		{ name: 'microphone', bot: 'lite', count: 3, publish: 'audio-only', subscribe: 'audio', audioTopN: 3 },
	],
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

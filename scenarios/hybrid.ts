import { defineScenario } from '../protocol/scenario.ts';

/**
 * Browsers carry the realism, lite bots carry the volume: 2 browser bots and 8 werift bots
 * (pre-encoded VP8 + Opus) in one room; the browsers decode everyone's video and hear
 * everyone. Two of the lite bots show a camera, six only speak: sized for a 2-core machine,
 * where each decoded video is what makes a browser bot expensive.
 */
export default defineScenario({
	name: 'hybrid',
	description: 'One room of 2 browser bots + 8 lite bots (2 with camera), ramped up in 40 s, held for 1 min.',
	rooms: { count: 1 },
	participants: [
		{ bot: 'browser', count: 2, publish: '180p15' },
		// Lite bots watch nobody and hear the three loudest, as a messenger's SFU forwards them: receiving
		// costs them more than sending, and nine voices each held a slower 2-core machine at its limit.
		{ name: 'lite-camera', bot: 'lite', count: 2, publish: '180p15', subscribe: 'audio', audioTopN: 3 },
		{ name: 'lite-voice', bot: 'lite', count: 6, publish: 'audio-only', subscribe: 'audio', audioTopN: 3 },
	],
	schedule: {
		executor: 'ramping-vus',
		stages: [
			{ duration: '40s', target: 10 },
			{ duration: '1m', target: 10 },
		],
	},
	thresholds: {
		join_failed: ['rate<0.01'],
		rtt_ms: ['p(95)<150'],
		loss_pct: ['avg<1'],
	},
});

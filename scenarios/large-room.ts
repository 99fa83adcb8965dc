import { defineScenario } from '../protocol/scenario.ts';

/**
 * One big room shaped like a messenger's group call, at the size a 2-core machine holds: video
 * speakers sending simulcast and taking turns to talk (browser bots), one of them presenting
 * slides, and viewers who watch the current speaker's video at the low layer beside the shared
 * screen and hear the two loudest (lite bots, for volume). Two speakers: with a third, a slower
 * 2-core machine stayed at 100 % once all had joined (each speaker encodes three layers at 30
 * frames a second), and the run was rightly invalid.
 *
 * It scales by its counts: across shards (`--shards`), keep the speakers in one room and give
 * each machine its share of viewers. A Telegram-sized call is about 30 video senders and 1,000
 * viewers: `count: 29` speakers and `count: 1000` viewers over ten or more machines.
 */
export default defineScenario({
	name: 'large-room',
	description: 'One room: 2 simulcast video speakers taking turns, one presenting slides (browser) + 10 last-N viewers (lite), ramped up in 40 s, held for 1 min.',
	rooms: { count: 1 },
	participants: [
		// Speakers watch whoever spoke last, at the best layer their network allows.
		{ name: 'speakers', bot: 'browser', count: 1, publish: '360p30', simulcast: true, subscribe: 'all', lastN: 1 },
		// A speaker who also shares slides (1080p, 5 frames a second), and watches them rather than the others.
		{ name: 'presenter', bot: 'browser', count: 1, publish: '360p30', simulcast: true, screenShare: true, subscribe: 'audio' },
		// Viewers (no camera, no microphone): the current speaker as a thumbnail, the shared screen, and the two loudest voices.
		{ name: 'viewers', bot: 'lite', count: 10, publish: 'none', subscribe: 'all', lastN: 1, layer: 'low', audioTopN: 2 },
	],
	speaking: { concurrent: 1, turnSeconds: [3, 6] },
	schedule: {
		executor: 'ramping-vus',
		stages: [
			{ duration: '40s', target: 12 },
			{ duration: '1m', target: 12 },
		],
	},
	thresholds: {
		join_failed: ['rate<0.01'],
		rtt_ms: ['p(95)<150'],
		loss_pct: ['avg<1'],
	},
});

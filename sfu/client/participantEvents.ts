import type { ParticipantEvent } from '../../protocol/telemetry.ts';
import type { CallClient } from './CallClient.ts';

/**
 * Turns a CallClient's life into telemetry events: join, first media, reconnect (with the
 * reason given to `reconnecting`), fail. Shared by the bot page and lite bots.
 */
export function recordParticipantEvents(call: CallClient, push: (event: ParticipantEvent) => void): {
	reconnecting(reason: string): void;
} {
	let reconnectReason = 'room reset';
	call.on('joined', ({ attempt, joinMs }) => {
		push(
			attempt === 1
				? { type: 'join', ts: Date.now(), durationMs: joinMs, attempt }
				: { type: 'reconnect', ts: Date.now(), durationMs: joinMs, attempt, reason: reconnectReason },
		);
		reconnectReason = 'room reset';
	});
	call.on('firstmedia', ({ ms, kind }) => push({ type: 'first-media', ts: Date.now(), durationMs: ms, mediaKind: kind }));
	call.on('failed', (error) => push({ type: 'fail', ts: Date.now(), reason: error.message }));
	return {
		reconnecting(reason: string) {
			reconnectReason = reason;
		},
	};
}

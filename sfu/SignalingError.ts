import type { SignalingErrorCode } from '../protocol/signaling.ts';

/** An error that becomes a typed `{ ok: false, error }` reply; the connection stays usable. */
export class SignalingError extends Error {
	override name = 'SignalingError';
	constructor(
		readonly code: SignalingErrorCode,
		message: string,
		readonly path?: string,
	) {
		super(message);
	}
}

/**
 * What the monitoring SDK and the collector must agree on, without a schema library (the SDK
 * is loaded by real users' pages and must stay small): the app id and key shapes, the path it
 * posts to, which calls are sampled, and how ids are hashed in the page.
 */

export const appIdPattern = /^[a-z0-9][a-z0-9_-]{0,31}$/;
export const ingestKeyPattern = /^csk_([0-9a-f]{8})_([0-9a-f]{40})$/;
/** The header carrying an ingest key (sendBeacon cannot set headers: it uses `?key=`). */
export const ingestKeyHeader = 'x-callswarm-key';
export const appTelemetryPath = '/v1/apps/:appId/telemetry';

/**
 * Whether a call is among the share an app monitors: decided from the call id alone, so every
 * participant of a call (and the collector) reaches the same answer without talking.
 */
export function callSampledIn(callId: string, share: number): boolean {
	if (share >= 1) return true;
	if (share <= 0) return false;
	// FNV-1a: tiny, the same in the browser and in Node, evenly spread enough for a share.
	let hash = 0x811c9dc5;
	for (let i = 0; i < callId.length; i++) {
		hash ^= callId.charCodeAt(i);
		hash = Math.imul(hash, 0x01000193) >>> 0;
	}
	return hash / 0x1_0000_0000 < share;
}

/** Ids hashed in the page (or, when it could not, by the collector the same way) start with this. */
export const edgeHashPrefix = 'h:';

/**
 * What is hashed at the edge: the app and the id, so the same user id of two apps never gives
 * the same value. SHA-256 in the page keeps a raw user or call id from leaving it; the
 * collector then keys the result with the app's secret salt (HMAC) before storing it.
 */
export const edgeHashInput = (appId: string, id: string): string => `${appId}\u0000${id}`;

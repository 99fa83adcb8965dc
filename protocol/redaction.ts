/**
 * Privacy by default for call telemetry. getStats() reports carry personal data: candidate
 * addresses (a person's IP addresses), ICE usernames, certificate fingerprints. Before anything
 * leaves a page (callswarm's capture, the monitoring SDK) and again before the collector stores
 * a whole report, every stats object is cut down to an allow-list of fields per stats type; a
 * candidate's address becomes what quality analysis needs (family, private or public), and
 * nothing of it that identifies anyone. Types not on the list are dropped whole.
 *
 * Two modes: "known" keeps only the types and fields the collector reads (the strictest, and a
 * quarter of the bytes); "full" keeps the allow-listed fields of every listed type, for
 * drill-down into whole reports.
 */
import { knownFields } from './knownFields.ts';

const common = ['id', 'type', 'timestamp'] as const;
const rtp = ['ssrc', 'kind', 'mediaType', 'transportId', 'codecId'] as const;

/** Per W3C stats type, the fields that may leave the page (README "Data inventory"). */
export const statsAllowList: Readonly<Record<string, readonly string[]>> = {
	'inbound-rtp': [
		...common, ...rtp, 'trackIdentifier', 'mid', 'contentType', 'remoteId', 'playoutId',
		'packetsReceived', 'packetsLost', 'packetsDiscarded', 'jitter', 'bytesReceived', 'headerBytesReceived',
		'lastPacketReceivedTimestamp', 'fecPacketsReceived', 'fecPacketsDiscarded', 'nackCount', 'pliCount', 'firCount',
		'framesDecoded', 'keyFramesDecoded', 'framesRendered', 'framesDropped', 'frameWidth', 'frameHeight', 'framesPerSecond',
		'framesReceived', 'qpSum', 'totalDecodeTime', 'totalInterFrameDelay', 'totalSquaredInterFrameDelay', 'pauseCount',
		'totalPausesDuration', 'freezeCount', 'totalFreezesDuration', 'totalProcessingDelay', 'framesAssembledFromMultiplePackets',
		'totalAssemblyTime', 'jitterBufferDelay', 'jitterBufferTargetDelay', 'jitterBufferMinimumDelay', 'jitterBufferEmittedCount',
		'totalSamplesReceived', 'concealedSamples', 'silentConcealedSamples', 'concealmentEvents', 'insertedSamplesForDeceleration',
		'removedSamplesForAcceleration', 'audioLevel', 'totalAudioEnergy', 'totalSamplesDuration', 'decoderImplementation',
		'powerEfficientDecoder', 'retransmittedPacketsReceived', 'retransmittedBytesReceived', 'estimatedPlayoutTimestamp',
	],
	'outbound-rtp': [
		...common, ...rtp, 'mid', 'contentType', 'rid', 'remoteId', 'mediaSourceId', 'packetsSent', 'bytesSent', 'headerBytesSent',
		'retransmittedPacketsSent', 'retransmittedBytesSent', 'targetBitrate', 'totalEncodedBytesTarget', 'frameWidth',
		'frameHeight', 'framesPerSecond', 'framesSent', 'hugeFramesSent', 'framesEncoded', 'keyFramesEncoded', 'qpSum',
		'totalEncodeTime', 'totalPacketSendDelay', 'qualityLimitationReason', 'qualityLimitationDurations',
		'qualityLimitationResolutionChanges', 'nackCount', 'pliCount', 'firCount', 'encoderImplementation',
		'powerEfficientEncoder', 'active', 'scalabilityMode',
	],
	'remote-inbound-rtp': [...common, ...rtp, 'localId', 'packetsReceived', 'packetsLost', 'jitter', 'roundTripTime', 'totalRoundTripTime', 'fractionLost', 'roundTripTimeMeasurements'],
	'remote-outbound-rtp': [...common, ...rtp, 'localId', 'packetsSent', 'bytesSent', 'remoteTimestamp', 'reportsSent', 'roundTripTime', 'totalRoundTripTime', 'roundTripTimeMeasurements'],
	'media-source': [...common, 'trackIdentifier', 'kind', 'audioLevel', 'totalAudioEnergy', 'totalSamplesDuration', 'echoReturnLoss', 'echoReturnLossEnhancement', 'width', 'height', 'frames', 'framesPerSecond'],
	'media-playout': [...common, 'kind', 'synthesizedSamplesDuration', 'synthesizedSamplesEvents', 'totalSamplesDuration', 'totalPlayoutDelay', 'totalSamplesCount'],
	codec: [...common, 'payloadType', 'transportId', 'mimeType', 'clockRate', 'channels', 'sdpFmtpLine'],
	'peer-connection': [...common, 'dataChannelsOpened', 'dataChannelsClosed'],
	transport: [
		...common, 'packetsSent', 'packetsReceived', 'bytesSent', 'bytesReceived', 'iceRole', 'iceState', 'dtlsState',
		'dtlsRole', 'selectedCandidatePairId', 'selectedCandidatePairChanges', 'tlsVersion', 'dtlsCipher', 'srtpCipher',
	],
	'candidate-pair': [
		...common, 'transportId', 'localCandidateId', 'remoteCandidateId', 'state', 'nominated', 'selected', 'packetsSent',
		'packetsReceived', 'bytesSent', 'bytesReceived', 'lastPacketSentTimestamp', 'lastPacketReceivedTimestamp',
		'totalRoundTripTime', 'currentRoundTripTime', 'availableOutgoingBitrate', 'availableIncomingBitrate', 'requestsReceived',
		'requestsSent', 'responsesReceived', 'responsesSent', 'consentRequestsSent', 'packetsDiscardedOnSend', 'bytesDiscardedOnSend',
	],
	// Addresses, ports, foundations, usernames and TURN URLs are not on the list: see candidate().
	'local-candidate': [...common, 'transportId', 'candidateType', 'protocol', 'relayProtocol', 'networkType', 'isRemote', 'priority'],
	'remote-candidate': [...common, 'transportId', 'candidateType', 'protocol', 'relayProtocol', 'networkType', 'isRemote', 'priority'],
	// Fingerprints and the certificate itself are not, nor the id: browsers build it from the fingerprint ("CF9A:24:…").
	certificate: ['type', 'timestamp', 'fingerprintAlgorithm'],
	'data-channel': [...common, 'protocol', 'dataChannelIdentifier', 'state', 'messagesSent', 'bytesSent', 'messagesReceived', 'bytesReceived'],
	// callswarm's own server-side types carry no personal data. Their fields are listed here, not
	// taken from their schemas: pages bundle this module, and the schemas would bring zod with them.
	'sfu-worker': [...common, 'worker', 'pid', 'cpuSeconds', 'maxRssBytes', 'rooms', 'peers', 'producers', 'consumers'],
	'generator-process': [...common, 'role', 'pid', 'cpuPct', 'lagMs', 'rssBytes', 'saturated', 'roundTripsJudged', 'roundTripsWithheld', 'jitterJudged', 'jitterWithheld', 'mediaRoundTripsJudged', 'mediaRoundTripsWithheld', 'framesDue', 'framesSentLate'],
	'callswarm-e2e': [...common, 'kind', 'senderMark', 'sender', 'framesSeen', 'marksRead', 'delaySumMs', 'freezeCount', 'frozenMs'],
};

export type AddressFamily = 'ipv4' | 'ipv6' | 'mdns' | 'unknown';
export type AddressScope = 'loopback' | 'private' | 'link-local' | 'public' | 'mdns' | 'unknown';

/** What an address is, without the address: its family and whether it is private or public. */
export function classifyAddress(address: unknown): { addressFamily: AddressFamily; addressScope: AddressScope } {
	if (typeof address !== 'string' || address === '') return { addressFamily: 'unknown', addressScope: 'unknown' };
	if (address.endsWith('.local')) return { addressFamily: 'mdns', addressScope: 'mdns' };
	const v4 = /^(\d{1,3})\.(\d{1,3})\.\d{1,3}\.\d{1,3}$/.exec(address);
	if (v4) {
		const [a, b] = [Number(v4[1]), Number(v4[2])];
		const scope: AddressScope =
			a === 127 ? 'loopback'
			: a === 10 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168) || (a === 100 && b >= 64 && b <= 127) ? 'private'
			: a === 169 && b === 254 ? 'link-local'
			: 'public';
		return { addressFamily: 'ipv4', addressScope: scope };
	}
	if (address.includes(':')) {
		const lower = address.toLowerCase().replace(/^\[|\]$/g, '');
		const scope: AddressScope =
			lower === '::1' ? 'loopback'
			: /^fe[89ab]/.test(lower) ? 'link-local'
			: /^f[cd]/.test(lower) ? 'private'
			: lower.startsWith('::ffff:') ? classifyAddress(lower.slice(7)).addressScope
			: 'public';
		return { addressFamily: 'ipv6', addressScope: scope };
	}
	return { addressFamily: 'unknown', addressScope: 'unknown' };
}

function candidate(stat: Record<string, unknown>, kept: Record<string, unknown>): Record<string, unknown> {
	return { ...kept, ...classifyAddress(stat.address ?? stat.ip) };
}

/** Each stats object of a listed type, cut down to its type's fields (`finish` may add some). */
function keepListed(
	stats: ReadonlyArray<Record<string, unknown>>,
	fields: Readonly<Record<string, readonly string[]>>,
	finish: (type: string, stat: Record<string, unknown>, kept: Record<string, unknown>) => Record<string, unknown> = (_t, _s, kept) => kept,
): Array<Record<string, unknown>> {
	const out: Array<Record<string, unknown>> = [];
	for (const stat of stats) {
		const type = stat.type;
		if (typeof type !== 'string' || !Object.hasOwn(fields, type)) continue;
		const kept: Record<string, unknown> = {};
		for (const field of fields[type]!) if (stat[field] !== undefined) kept[field] = stat[field];
		out.push(finish(type, stat, kept));
	}
	return out;
}

/**
 * A stats report cut down to what the collector reads: the known types with their known
 * fields. Senders that do not ask for raw-report drill-down use it to send (and have the
 * collector parse) about a quarter of the bytes. Cheap enough to run in a page.
 */
export function keepKnownStats(stats: ReadonlyArray<Record<string, unknown>>): Array<Record<string, unknown>> {
	return keepListed(stats, knownFields);
}

export type RedactionMode = 'known' | 'full';

/**
 * The stats objects of a report with everything personal taken out: "known" keeps only what
 * the collector reads, "full" every allow-listed field of every allow-listed type. Unlisted
 * types and fields are dropped, so what a future browser adds stays home until it is listed.
 */
export function redactStats(stats: ReadonlyArray<Record<string, unknown>>, mode: RedactionMode): Array<Record<string, unknown>> {
	if (mode === 'known') return keepKnownStats(stats);
	return keepListed(stats, statsAllowList, (type, stat, kept) => (type === 'local-candidate' || type === 'remote-candidate' ? candidate(stat, kept) : kept));
}

/** A user agent cut down to what a breakdown by browser needs: "Chrome 156 / Linux". */
export function coarseUserAgent(userAgent: string | undefined): string {
	if (!userAgent) return '';
	const browser =
		/Edg\/(\d+)/.exec(userAgent)?.[1] !== undefined ? `Edge ${/Edg\/(\d+)/.exec(userAgent)![1]}`
		: /Firefox\/(\d+)/.exec(userAgent) ? `Firefox ${/Firefox\/(\d+)/.exec(userAgent)![1]}`
		: /Chrom(?:e|ium)\/(\d+)/.exec(userAgent) ? `Chrome ${/Chrom(?:e|ium)\/(\d+)/.exec(userAgent)![1]}`
		: /Version\/(\d+).*Safari/.exec(userAgent) ? `Safari ${/Version\/(\d+).*Safari/.exec(userAgent)![1]}`
		: /^callswarm-lite/.test(userAgent) ? 'callswarm lite'
		: 'other';
	const os = /Android/.test(userAgent) ? 'Android' : /iPhone|iPad|iOS/.test(userAgent) ? 'iOS' : /Windows/.test(userAgent) ? 'Windows' : /Mac OS X|Macintosh/.test(userAgent) ? 'macOS' : /Linux/.test(userAgent) ? 'Linux' : 'other';
	return `${browser} / ${os}`;
}

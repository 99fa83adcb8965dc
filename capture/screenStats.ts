/**
 * Shared screens in stats: inbound-rtp and outbound-rtp entries of a screen get contentType
 * "screenshare" (the name libwebrtc itself uses, where the screen-content RTP extension is
 * negotiated), so the collector tells a 5 fps presentation from a camera.
 */

/** A track that is a shared screen: from getDisplayMedia, or hinted as detailed content. */
export function looksLikeScreen(track: MediaStreamTrack | null | undefined): boolean {
	if (!track || track.kind !== 'video') return false;
	if (track.contentHint === 'detail' || track.contentHint === 'text') return true;
	const settings = typeof track.getSettings === 'function' ? (track.getSettings() as { displaySurface?: string }) : {};
	return settings.displaySurface !== undefined;
}

/**
 * Copies of `stats` with screens marked: outbound entries whose mid is in `sentMids`, inbound
 * entries whose trackIdentifier is in `receivedTracks` (or whose mid is in `receivedMids`).
 */
export function markScreenStats(
	stats: ReadonlyArray<Record<string, unknown>>,
	screens: { sentMids?: ReadonlySet<string>; receivedTracks?: ReadonlySet<string>; receivedMids?: ReadonlySet<string> },
): Array<Record<string, unknown>> {
	return stats.map((stat) => {
		if (stat.contentType !== undefined) return stat;
		const mid = typeof stat.mid === 'string' ? stat.mid : undefined;
		const screen =
			stat.type === 'outbound-rtp' ? mid !== undefined && screens.sentMids?.has(mid) === true
			: stat.type === 'inbound-rtp' ?
				(typeof stat.trackIdentifier === 'string' && screens.receivedTracks?.has(stat.trackIdentifier) === true) ||
				(mid !== undefined && screens.receivedMids?.has(mid) === true)
			: false;
		return screen ? { ...stat, contentType: 'screenshare' } : stat;
	});
}

/** The mids of a connection's transceivers sending a screen, and of those receiving a marked track. */
export function screenMids(pc: RTCPeerConnection, markedTracks: ReadonlySet<string>): { sentMids: Set<string>; receivedMids: Set<string> } {
	const sentMids = new Set<string>();
	const receivedMids = new Set<string>();
	for (const transceiver of pc.getTransceivers()) {
		if (!transceiver.mid) continue;
		if (looksLikeScreen(transceiver.sender.track)) sentMids.add(transceiver.mid);
		if (markedTracks.has(transceiver.receiver.track.id)) receivedMids.add(transceiver.mid);
	}
	return { sentMids, receivedMids };
}

import type { Page } from 'puppeteer-core';
import type { BotPageState, RawStatsSnapshot } from '../../sfu/botpage/api.ts';
import type { ParticipantEvent } from '../../protocol/telemetry.ts';

export async function pageState(page: Page): Promise<BotPageState> {
	return page.evaluate(() => window.callswarm.state());
}

export async function pageStats(page: Page): Promise<RawStatsSnapshot[]> {
	return page.evaluate(() => window.callswarm.getStats());
}

export async function pageEvents(page: Page): Promise<ParticipantEvent[]> {
	return page.evaluate(() => window.callswarm.drainEvents());
}

/** Per remote peer: frames decoded of its video and packets of its audio, from the page's own getStats. */
export async function mediaByRemotePeer(
	page: Page,
): Promise<Map<string, { framesDecoded: number; audioPackets: number; audioSamples: number }>> {
	const [state, snapshots] = await Promise.all([pageState(page), pageStats(page)]);
	const byTrack = new Map(state.consumers.map((c) => [c.trackId, c.peerId]));
	const out = new Map<string, { framesDecoded: number; audioPackets: number; audioSamples: number }>();
	for (const snapshot of snapshots) {
		for (const stat of snapshot.stats) {
			if (stat.type !== 'inbound-rtp') continue;
			const peerId = byTrack.get(String(stat.trackIdentifier));
			if (!peerId) continue;
			const entry = out.get(peerId) ?? { framesDecoded: 0, audioPackets: 0, audioSamples: 0 };
			if (stat.kind === 'video') entry.framesDecoded += Number(stat.framesDecoded ?? 0);
			else {
				entry.audioPackets += Number(stat.packetsReceived ?? 0);
				entry.audioSamples += Number(stat.totalSamplesReceived ?? 0);
			}
			out.set(peerId, entry);
		}
	}
	return out;
}

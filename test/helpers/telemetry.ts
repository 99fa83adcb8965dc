import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import type { RawStatsSnapshot } from '../../sfu/botpage/api.ts';
import type { ObjectBatchInput, ParticipantEvent, StatsSnapshotInput } from '../../protocol/telemetry.ts';

export interface ChromiumFixture {
	capturedAt: string;
	userAgent: string;
	intervalMs: number;
	snapshots: RawStatsSnapshot[];
}

/** Real Chromium getStats() snapshots captured by scripts/capture-stats-fixture.ts. */
export function chromiumFixture(): ChromiumFixture {
	return JSON.parse(readFileSync(new URL('../fixtures/chromium-stats.json', import.meta.url), 'utf8')) as ChromiumFixture;
}

export function batch(
	runId: string,
	peerId: string,
	snapshots: StatsSnapshotInput[],
	events: ParticipantEvent[] = [],
	overrides: Partial<ObjectBatchInput> = {},
): ObjectBatchInput {
	return {
		batchId: randomUUID(),
		runId,
		source: { botId: `bot-${peerId}`, roomId: 'room-a', peerId, kind: 'browser' },
		snapshots,
		events,
		...overrides,
	};
}

export async function post(url: string, body: unknown, init: { gzip?: boolean; headers?: Record<string, string> } = {}) {
	const json = typeof body === 'string' ? body : JSON.stringify(body);
	const response = await fetch(`${url}/v1/telemetry`, {
		method: 'POST',
		headers: {
			'content-type': 'application/json',
			...(init.gzip ? { 'content-encoding': 'gzip' } : {}),
			...init.headers,
		},
		body: init.gzip ? gzipSync(json) : json,
	});
	const text = await response.text();
	return { status: response.status, headers: response.headers, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

export const statOf = (snapshot: RawStatsSnapshot, type: string, kind?: string) =>
	snapshot.stats.find((s) => s.type === type && (kind === undefined || s.kind === kind) && s.mid !== 'probator') as
		| Record<string, number | string>
		| undefined;

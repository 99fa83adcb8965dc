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

const dayMs = 86_400_000;
let fixtureShift: number | undefined;

/**
 * Real Chromium getStats() snapshots captured by scripts/capture-stats-fixture.ts, moved in time
 * so that the last one is now. Stored rows expire a retention after their own time (raw reports
 * after 7 days), so the capture's own times would be dropped by the tables' TTL once the
 * fixture is that old. Every time on the capture's clock moves by the same amount, the same for
 * every call in a test file: the intervals, and so every figure made from them, stay as captured.
 */
export function chromiumFixture(): ChromiumFixture {
	const fixture = JSON.parse(readFileSync(new URL('../fixtures/chromium-stats.json', import.meta.url), 'utf8')) as ChromiumFixture;
	const captured = Math.max(...fixture.snapshots.map((s) => s.ts));
	const shift = (fixtureShift ??= Date.now() - captured);
	const onCaptureClock = (value: unknown): value is number => typeof value === 'number' && Math.abs(value - captured) < dayMs;
	for (const snapshot of fixture.snapshots) {
		snapshot.ts += shift;
		for (const stat of snapshot.stats as Array<Record<string, unknown>>) {
			for (const [field, value] of Object.entries(stat)) if (/^timestamp$|Timestamp$/.test(field) && onCaptureClock(value)) stat[field] = value + shift;
		}
	}
	fixture.capturedAt = new Date(captured + shift).toISOString();
	return fixture;
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

export async function post(url: string, body: unknown, init: { gzip?: boolean; headers?: Record<string, string>; query?: string } = {}) {
	const json = typeof body === 'string' ? body : JSON.stringify(body);
	const response = await fetch(`${url}/v1/telemetry${init.query ? `?${init.query}` : ''}`, {
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

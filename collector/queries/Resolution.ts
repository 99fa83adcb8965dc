import type { RunInfo } from '../../protocol/api.ts';
import { rollupLevels, type RollupLevel } from '../store/schema.ts';
import type { Sql } from './sql.ts';

/** Most points a chart gets by default. */
export const maxChartPoints = 160;

export interface Resolution {
	/** Bucket width of the answer, seconds. */
	bucket: number;
	/** The rollup level read, or raw samples when the bucket is finer than every level. */
	level: RollupLevel | 'raw';
}

/**
 * The bucket for a chart over a run of `durationMs`: the finest rollup level that keeps the
 * chart under maxChartPoints, so a view merges a bounded number of states however long the run.
 * A requested bucket reads the coarsest level it is a multiple of.
 */
export function chooseResolution(durationMs: number, requested?: number): Resolution {
	if (requested) {
		const level = [...rollupLevels].reverse().find((l) => requested % l === 0);
		return { bucket: requested, level: level ?? 'raw' };
	}
	const seconds = durationMs / 1000;
	const level = rollupLevels.find((l) => seconds / l <= maxChartPoints) ?? rollupLevels.at(-1)!;
	return { bucket: level, level };
}

/** Per-peer figures come only from rollups: a raw bucket reads the finest level instead. */
export function peerResolution(resolution: Resolution): { bucket: number; level: RollupLevel } {
	return resolution.level === 'raw'
		? { bucket: rollupLevels[0], level: rollupLevels[0] }
		: { bucket: resolution.bucket, level: resolution.level };
}

/** At what resolution to answer about a run: the one asked for, or one fitting the run's length. */
export class Resolutions {
	constructor(private readonly sql: Sql) {}

	/** How long the run has data for (from the 60 s rollup: a handful of rows). */
	async spanMs(runId: string): Promise<number> {
		const [row] = await this.sql.rows<{ from: number; to: number }>(
			`SELECT toUnixTimestamp(min(bucket)) * 1000 AS from, toUnixTimestamp(max(bucket)) * 1000 + 60000 AS to
			FROM ${this.sql.db}.rollup_60s WHERE run_id = {run:String}`,
			{ run: runId },
		);
		return row && row.from > 0 ? row.to - row.from : 0;
	}

	async of(runId: string, requested?: number, run?: RunInfo): Promise<Resolution> {
		if (requested) return chooseResolution(0, requested);
		// A finished run knows its length; a running one is measured.
		const duration = run?.endedAt && run.startedAt ? run.durationMs : await this.spanMs(runId);
		return chooseResolution(duration);
	}
}

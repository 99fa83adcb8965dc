/**
 * Helpers shared by the query modules. Values always travel as bound parameters; the only
 * identifiers put into SQL text are column names from the metric catalogue (a fixed list).
 */
import type { SampleMetric } from '../../protocol/metrics.ts';
import type { ClickHouseStore, QueryParams } from '../store/ClickHouseStore.ts';

/** WHERE conditions selecting a sample metric's rows. */
export function metricFilter(metric: SampleMetric): string {
	return `direction = '${metric.direction}'${metric.kind ? ` AND kind = '${metric.kind}'` : ''}`;
}

export const finiteOrNull = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

export const scaled = (v: unknown, scale = 1): number | null => {
	const n = finiteOrNull(v);
	return n === null ? null : n * scale;
};

/** `column = {column:String}` for each given value, its parameter added to `params`. */
export function equalities(params: QueryParams, values: Record<string, string | undefined>): string[] {
	const conditions: string[] = [];
	for (const [column, value] of Object.entries(values)) {
		if (value === undefined) continue;
		conditions.push(`${column} = {${column}:String}`);
		params[column] = value;
	}
	return conditions;
}

export function parseJson<T>(text: string, fallback: T): T {
	try {
		return text ? (JSON.parse(text) as T) : fallback;
	} catch {
		return fallback;
	}
}

/** A query module's access to the store: the database name and parameterised queries. */
export class Sql {
	constructor(readonly store: ClickHouseStore) {}

	/** The database, quoted for SQL text. */
	get db(): string {
		return `\`${this.store.database}\``;
	}

	rows<R>(sql: string, params: QueryParams): Promise<R[]> {
		return this.store.query<R>(sql, params);
	}
}

/** Which rows of samples and events a question is about: a run, or an app's calls in a time window. */
export interface Scope {
	/** Conditions on samples and events (both have run_id, app_id and ts). */
	where: string;
	params: QueryParams;
}

export const runScope = (runId: string): Scope => ({ where: 'run_id = {run:String}', params: { run: runId } });

/** An app's rows from `fromMs` on (the partition key keeps the scan to the days in the window). */
export const appWindowScope = (appId: string, fromMs: number, toMs: number): Scope => ({
	where: 'app_id = {app:String} AND ts >= fromUnixTimestamp64Milli({from:Int64}) AND ts < fromUnixTimestamp64Milli({to:Int64})',
	params: { app: appId, from: Math.floor(fromMs), to: Math.ceil(toMs) },
});

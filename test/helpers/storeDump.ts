/**
 * Reads a collector's embedded store in a process of its own (chDB takes one data directory per
 * process): `dump <dataDir> <runId>` prints the run's samples and events; `summarize <dataDir>
 * <runId> <dump.json>...` loads dumps into a fresh store and prints the run's exact summary.
 */
import { readFileSync } from 'node:fs';
import { ClickHouseStore } from '../../collector/store/ClickHouseStore.ts';
import { Queries } from '../../collector/queries/index.ts';

const [mode, dataDir, runId, ...files] = process.argv.slice(2);
const store = await ClickHouseStore.open({ dataDir: dataDir! });
const columns = (table: string) => `* EXCEPT (${table === 'samples' ? 'retention_days' : 'retention_days'})`;
try {
	if (mode === 'dump') {
		const rows: Record<string, unknown[]> = {};
		for (const table of ['samples', 'events']) {
			rows[table] = await store.query(`SELECT ${columns(table)} FROM callswarm.${table} WHERE run_id = {run:String} ORDER BY ALL`, { run: runId! });
		}
		process.stdout.write(JSON.stringify(rows));
	} else if (mode === 'summarize') {
		for (const file of files) {
			const dump = JSON.parse(readFileSync(file, 'utf8')) as Record<string, Array<Record<string, unknown>>>;
			for (const [table, values] of Object.entries(dump)) {
				if (values.length) await store.client.insert({ table: `callswarm.${table}`, values, format: 'JSONEachRow' });
			}
		}
		const queries = new Queries(store);
		await store.command(`INSERT INTO callswarm.runs (run_id, scenario, status, started_at, updated_at) VALUES ({run:String}, 'merged', 'passed', now64(3), now64(3))`, { run: runId! });
		const { participants } = await queries.series.people(runId!, await queries.resolutions.of(runId!));
		process.stdout.write(JSON.stringify(await queries.summaries.summary(runId!, true, participants)));
	}
} finally {
	await store.close();
}

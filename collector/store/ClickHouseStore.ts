import { randomUUID } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { ClickHouseError, createClient, type ClickHouseClient, type ClickHouseSettings } from '@clickhouse/client';
import { parseInput } from '../../protocol/issues.ts';
import { columnsStructure, RowBinaryWriter, type Column, type RowOf } from './columns.ts';
import { StoreOptions, type StoreOptionsInput } from './options.ts';
import { ReadsFirst } from './ReadsFirst.ts';
import { catchUpStatements, migrations, migrationsTableStatement, type SchemaOptions } from './schema.ts';
import { tables, type TableName } from './tables.ts';

type ChdbClientConnection = NonNullable<NonNullable<Parameters<typeof createClient>[0]>['connection']>;

export type QueryParams = Record<string, string | number | boolean | string[] | number[]>;

/**
 * ClickHouse through @clickhouse/client: the embedded engine (chDB, in this process) by
 * default, a server or cluster when a URL is given. Both run the same DDL and queries. Rows
 * go in as RowBinary: over HTTP on a server, through a temporary file and file() in chDB,
 * whose client connection would otherwise pass the payload as SQL text.
 */
export class ClickHouseStore {
	readonly #tmpDir = path.join(os.tmpdir(), `callswarm-ingest-${process.pid}-${randomUUID().slice(0, 8)}`);
	/** The embedded engine runs one statement at a time: queries go before inserts (a server runs both at once). */
	readonly #turns: ReadsFirst | undefined;
	#closed = false;

	private constructor(
		readonly options: StoreOptions,
		readonly client: ClickHouseClient,
		readonly kind: 'embedded' | 'server',
	) {
		this.#turns = kind === 'embedded' ? new ReadsFirst() : undefined;
	}

	static async open(input: StoreOptionsInput = {}): Promise<ClickHouseStore> {
		const options = parseInput(StoreOptions, input, 'ClickHouse options');
		let store: ClickHouseStore;
		if (options.url) {
			const client = createClient({
				url: options.url,
				username: options.username,
				password: options.password,
				clickhouse_settings: { output_format_json_quote_64bit_integers: 0 },
			});
			store = new ClickHouseStore(options, client, 'server');
		} else {
			const dataDir = path.resolve(options.dataDir ?? '.callswarm/clickhouse');
			await mkdir(dataDir, { recursive: true });
			const { createChdbConnection } = await import('chdb/connection');
			const client = createClient({
				// chdb types the connection against its own copy of @clickhouse/client-common.
				connection: createChdbConnection({ path: dataDir }) as unknown as ChdbClientConnection,
				clickhouse_settings: { output_format_json_quote_64bit_integers: 0 },
			});
			store = new ClickHouseStore(options, client, 'embedded');
		}
		try {
			await store.migrate();
		} catch (error) {
			await store.close();
			throw error;
		}
		return store;
	}

	get database(): string {
		return this.options.database;
	}

	get schema(): SchemaOptions {
		return {
			database: this.options.database,
			cluster: this.options.cluster,
			sampleTtlDays: this.options.sampleTtlDays,
			rawReportTtlDays: this.options.rawReportTtlDays,
		};
	}

	/** Applies the migrations this database has not seen, in order. */
	async migrate(): Promise<number[]> {
		const schema = this.schema;
		for (const statement of migrationsTableStatement(schema)) await this.client.command({ query: statement });
		const applied = new Set(
			(await this.query<{ version: number }>(`SELECT version FROM \`${schema.database}\`.schema_migrations`)).map(
				(r) => r.version,
			),
		);
		const done: number[] = [];
		for (const migration of migrations) {
			if (applied.has(migration.version)) continue;
			for (const statement of migration.statements(schema)) await this.client.command({ query: statement });
			await this.client.insert({
				table: `${schema.database}.schema_migrations`,
				values: [{ version: migration.version, name: migration.name, applied_at: Math.floor(Date.now() / 1000) }],
				format: 'JSONEachRow',
			});
			done.push(migration.version);
		}
		const columns = await this.query<{ table: string; name: string }>(`SELECT table, name FROM system.columns WHERE database = {db:String}`, {
			db: schema.database,
		});
		const existing = (table: string) => new Set(columns.filter((c) => c.table === table).map((c) => c.name));
		for (const statement of catchUpStatements(schema, existing)) await this.client.command({ query: statement });
		return done;
	}

	/**
	 * Inserts rows already encoded as RowBinary for `table`'s columns. With a deduplication
	 * token, inserting the same data with the same token again stores nothing (the tables keep
	 * a deduplication window), so a replayed journal segment never doubles rows.
	 */
	async insertRowBinary(table: TableName, data: Buffer, deduplicationToken?: string, columns: readonly Column[] = tables[table]): Promise<void> {
		const settings: ClickHouseSettings = {
			// Tables are partitioned by day. A segment of everyone's rows holds whatever days its
			// senders' times fell on (bounded by the retention the normaliser enforces), and
			// ClickHouse's guard against a wrong partition key (100 per insert) would refuse the
			// whole segment again on every retry, stopping all ingest for one sender's times.
			max_partitions_per_insert_block: '0',
			...(deduplicationToken ? { insert_deduplication_token: deduplicationToken, insert_deduplicate: 1, deduplicate_blocks_in_dependent_materialized_views: 1 } : {}),
		};
		await this.#insert(table, columns, data, settings);
	}

	async #insert(table: string, columns: readonly Column[], data: Buffer, settings: ClickHouseSettings): Promise<void> {
		if (data.length === 0) return;
		const target = `\`${this.database}\`.\`${table}\``;
		const columnList = columns.map((c) => `\`${c.name}\``).join(', ');
		if (this.kind === 'server') {
			const result = await this.client.exec({
				query: `INSERT INTO ${target} (${columnList}) FORMAT RowBinary`,
				values: Readable.from([data], { objectMode: false }),
				clickhouse_settings: settings,
			});
			result.stream.resume();
			return;
		}
		await mkdir(this.#tmpDir, { recursive: true });
		const file = path.join(this.#tmpDir, `${table}-${randomUUID()}.rowbinary`);
		try {
			await writeFile(file, data);
			await this.command(
				`INSERT INTO ${target} (${columnList}) SELECT * FROM file({file:String}, 'RowBinary', {structure:String})`,
				{ file, structure: columnsStructure(columns) },
				{ ...settings, ...(settings.insert_deduplication_token ? { insert_select_deduplicate: 1 as const } : {}) },
			);
		} finally {
			await rm(file, { force: true });
		}
	}

	/** Rows of a table outside the journal (registries written by the API), encoded as RowBinary. */
	async insertRows<C extends readonly Column[]>(table: string, columns: C, rows: ReadonlyArray<RowOf<C>>): Promise<void> {
		const writer = new RowBinaryWriter(64 * 1024);
		writer.writeRows(columns, rows);
		await this.#insert(table, columns, Buffer.from(writer.bytes()), {});
	}

	async query<R>(query: string, params: QueryParams = {}): Promise<R[]> {
		const read = async () => (await this.client.query({ query, query_params: params, format: 'JSONEachRow' })).json<R>();
		return this.#turns ? this.#turns.read(read) : read();
	}

	async command(query: string, params: QueryParams = {}, settings: ClickHouseSettings = {}): Promise<void> {
		const write = async () => void (await this.client.command({ query, query_params: params, clickhouse_settings: settings }));
		await (this.#turns ? this.#turns.write(write) : write());
	}

	async ping(): Promise<boolean> {
		const result = await this.client.ping();
		if (!result.success) return false;
		// A server can answer ping while its tables are gone: probe the one ingest needs.
		try {
			await this.query(`SELECT 1 FROM \`${this.database}\`.samples LIMIT 0`);
			return true;
		} catch {
			return false;
		}
	}

	async close(): Promise<void> {
		if (this.#closed) return;
		this.#closed = true;
		await this.client.close();
		await rm(this.#tmpDir, { recursive: true, force: true });
	}
}

/**
 * Whether a failed insert would fail the same way again (malformed data), as opposed to the
 * store being unavailable. Poison data is set aside; anything else is retried from the spool.
 */
export function isPoisonError(error: unknown): boolean {
	return error instanceof ClickHouseError && /CANNOT_PARSE|TOO_LARGE|TYPE_MISMATCH|INCORRECT_DATA|CANNOT_READ_ALL_DATA/.test(error.type ?? '');
}

import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { isPoisonError, type ClickHouseStore } from '../store/ClickHouseStore.ts';
import { migrations } from '../store/schema.ts';
import { tables, type TableName } from '../store/tables.ts';

const schemaVersion = migrations.at(-1)!.version;
const fileName = /^(\d{12})\.([a-z_0-9]+)\.v(\d+)\.rowbinary$/;

export interface SpoolReplay {
	files: number;
	bytes: number;
	/** Set aside because the store refused the data itself (it would never go in). */
	quarantined: number;
	/** The store failed again; the rest waits for the next try. */
	stoppedBy?: Error;
}

/**
 * RowBinary payloads the store could not take, on disk in arrival order, replayed when the
 * store is back. Files are written whole (temp file, then rename), so a crash never leaves a
 * half payload to replay.
 */
export class Spool {
	#next = 0;
	#bytes = 0;
	#files = 0;

	private constructor(readonly dir: string) {}

	static async open(dir: string): Promise<Spool> {
		const spool = new Spool(dir);
		await mkdir(path.join(dir, 'quarantine'), { recursive: true });
		for (const name of await spool.#list()) {
			spool.#files++;
			spool.#bytes += (await stat(path.join(dir, name))).size;
			spool.#next = Math.max(spool.#next, Number(fileName.exec(name)![1]) + 1);
		}
		return spool;
	}

	get files(): number {
		return this.#files;
	}

	get bytes(): number {
		return this.#bytes;
	}

	async write(table: TableName, data: Buffer): Promise<void> {
		const name = `${String(this.#next++).padStart(12, '0')}.${table}.v${schemaVersion}.rowbinary`;
		const temp = path.join(this.dir, `.${name}.tmp`);
		await writeFile(temp, data);
		await rename(temp, path.join(this.dir, name));
		this.#files++;
		this.#bytes += data.length;
	}

	/** Inserts spooled payloads oldest first, deleting each once stored. */
	async replay(store: ClickHouseStore): Promise<SpoolReplay> {
		const result: SpoolReplay = { files: 0, bytes: 0, quarantined: 0 };
		for (const name of await this.#list()) {
			const [, , table, version] = fileName.exec(name)!;
			const file = path.join(this.dir, name);
			const data = await readFile(file);
			if (Number(version) !== schemaVersion || !(table! in tables)) {
				await this.#quarantine(name, data.length);
				result.quarantined++;
				continue;
			}
			try {
				await store.insertRowBinary(table as TableName, data);
			} catch (error) {
				if (isPoisonError(error)) {
					await this.#quarantine(name, data.length);
					result.quarantined++;
					continue;
				}
				result.stoppedBy = error instanceof Error ? error : new Error(String(error));
				return result;
			}
			await rm(file);
			this.#files--;
			this.#bytes -= data.length;
			result.files++;
			result.bytes += data.length;
		}
		return result;
	}

	async #quarantine(name: string, bytes: number): Promise<void> {
		await rename(path.join(this.dir, name), path.join(this.dir, 'quarantine', name));
		this.#files--;
		this.#bytes -= bytes;
	}

	async #list(): Promise<string[]> {
		return (await readdir(this.dir)).filter((n) => fileName.test(n)).sort();
	}
}

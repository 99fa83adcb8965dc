import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { crc32 } from 'node:zlib';
import type { Column } from '../store/columns.ts';
import { migrations } from '../store/schema.ts';
import { tableNames, tables, type TableName } from '../store/tables.ts';

const schemaVersion = migrations.at(-1)!.version;
/** `<sequence>.<instance>.v<schema>.journal`: the instance id keeps every segment name (a deduplication token) unique across restarts. */
const segmentName = /^(\d{12})\.([0-9a-f]{8})\.v(\d+)\.journal$/;
const magic = 0x314a5343; // "CSJ1"
/** The first record of a segment: the columns its rows are encoded with ("CSL1"). */
const layoutMagic = 0x314c5343;
const headerBytes = 12;

/** Per table, the columns rows are encoded with (RowBinary is positional). */
export type TableLayout = Partial<Record<TableName, readonly Column[]>>;
/** This version's layout, written at the head of every segment it opens. */
const currentLayout: TableLayout = tables;

/** The encoded rows of one accepted request, per table, and the batch ids they carry. */
export interface JournalEntry {
	batchIds: string[];
	tables: Partial<Record<TableName, { rows: number; data: Buffer }>>;
	/** The runs its rows belong to; in memory only (not written), so absent in entries read back from disk. */
	runIds?: readonly string[];
}

/** A closed segment: its entries wait for the store, then the file is removed. */
export interface SealedSegment {
	readonly name: string;
	readonly file: string;
	readonly bytes: number;
	readonly rows: number;
	readonly schemaVersion: number;
	/**
	 * The columns the segment's rows were encoded with: a segment written before a column was
	 * added is inserted with its own columns (the new ones take their defaults). Absent in
	 * segments of versions that did not write it.
	 */
	readonly layout: TableLayout | undefined;
	/** In memory while the store keeps up; dropped (and read back from disk) while it is down. */
	entries: JournalEntry[] | undefined;
	/** The runs whose rows it holds; undefined for a segment an earlier process left (not known). */
	readonly runIds: ReadonlySet<string> | undefined;
}

interface ActiveSegment {
	name: string;
	file: string;
	handle: FileHandle;
	bytes: number;
	rows: number;
	entries: JournalEntry[];
	runIds: Set<string>;
}

/** No room left on the journal's disk: nothing of the write was kept, retry later. */
export class JournalFullError extends Error {
	override name = 'JournalFullError';
}

const diskFullCodes = new Set(['ENOSPC', 'EDQUOT', 'EFBIG']);

export function isDiskFull(error: unknown): boolean {
	return error instanceof JournalFullError || diskFullCodes.has((error as NodeJS.ErrnoException)?.code ?? '');
}

/**
 * The collector's write-ahead journal. Every accepted request's encoded rows are appended and
 * fsynced before the collector answers 202, so an acknowledged row survives a killed process.
 * Appends that arrive while a write is on disk share the next write and fsync (group commit).
 * The store writer seals segments and inserts them; a segment is removed once stored. While
 * the store is down, sealed segments stay on disk: the journal is also the spool.
 *
 * A record is `magic | payload length | crc32 | payload`; a torn tail (a process killed in the
 * middle of a write, before the fsync that would have acknowledged it) is cut off when the
 * segment is read back.
 */
export class Journal {
	#active: ActiveSegment | undefined;
	#next = 0;
	readonly #instance = randomBytes(4).toString('hex');
	#chain: Promise<unknown> = Promise.resolve();
	#pending: Array<{ record: Buffer; entry: JournalEntry; resolve: () => void; reject: (error: Error) => void }> = [];
	#groupScheduled = false;
	#sealedBytes = 0;
	#sealedFiles = 0;
	#closed = false;
	/** The last append failed for want of disk space (cleared by the next good one). */
	diskFull = false;

	private constructor(
		readonly dir: string,
		private readonly sync: boolean,
	) {}

	/** Opens the journal; segments left by an earlier process come back sealed, oldest first. */
	static async open(dir: string, options: { sync: boolean } = { sync: true }): Promise<{ journal: Journal; recovered: SealedSegment[] }> {
		const journal = new Journal(dir, options.sync);
		await mkdir(path.join(dir, 'quarantine'), { recursive: true });
		const recovered: SealedSegment[] = [];
		for (const name of (await readdir(dir)).filter((n) => segmentName.test(n)).sort()) {
			const [, seq, , version] = segmentName.exec(name)!;
			journal.#next = Math.max(journal.#next, Number(seq) + 1);
			const file = path.join(dir, name);
			const { entries, layout, validBytes, fileBytes } = decodeSegment(await readFile(file));
			if (validBytes < fileBytes) {
				// The tail was never fsynced, so never acknowledged: drop it.
				const handle = await open(file, 'r+');
				await handle.truncate(validBytes).finally(() => handle.close());
			}
			if (entries.length === 0) {
				await rm(file, { force: true });
				continue;
			}
			recovered.push({
				name,
				file,
				bytes: validBytes,
				rows: countRows(entries),
				schemaVersion: Number(version),
				layout,
				entries,
				runIds: undefined,
			});
			journal.#sealedBytes += validBytes;
			journal.#sealedFiles++;
		}
		// Stray temporary files of an older spool format.
		for (const name of await readdir(dir)) if (name.endsWith('.tmp')) await rm(path.join(dir, name), { force: true });
		return { journal, recovered };
	}

	/** Bytes of every segment on disk (sealed and active). */
	get bytes(): number {
		return this.#sealedBytes + (this.#active?.bytes ?? 0);
	}

	get files(): number {
		return this.#sealedFiles + (this.#active ? 1 : 0);
	}

	/** Rows in the active segment (not yet sealed). */
	get activeRows(): number {
		return this.#active?.rows ?? 0;
	}

	/** Resolves once the entry is on disk (fsynced); rejects with JournalFullError when the disk is full. */
	append(entry: JournalEntry): Promise<void> {
		if (this.#closed) return Promise.reject(new Error('the journal is closed'));
		const record = encodeRecord(entry);
		return new Promise((resolve, reject) => {
			this.#pending.push({ record, entry, resolve, reject });
			if (!this.#groupScheduled) {
				this.#groupScheduled = true;
				this.#chain = this.#chain.then(() => this.#writeGroup());
			}
		});
	}

	/** Closes the active segment (after the appends made before this call) and returns it. */
	seal(): Promise<SealedSegment | undefined> {
		const sealed = this.#chain.then(() => this.#sealNow());
		this.#chain = sealed.catch(() => undefined);
		return sealed;
	}

	async read(segment: SealedSegment): Promise<JournalEntry[]> {
		return decodeSegment(await readFile(segment.file)).entries;
	}

	/** The segment is stored: its file goes. */
	async remove(segment: SealedSegment): Promise<void> {
		await rm(segment.file, { force: true });
		this.#sealedBytes -= segment.bytes;
		this.#sealedFiles--;
	}

	/** The store refuses the segment's data for good: it is kept aside for a person to look at. */
	async quarantine(segment: SealedSegment): Promise<void> {
		await rename(segment.file, path.join(this.dir, 'quarantine', segment.name)).catch(() => rm(segment.file, { force: true }));
		this.#sealedBytes -= segment.bytes;
		this.#sealedFiles--;
	}

	/** Seals what is written; appends after this fail. */
	async close(): Promise<SealedSegment | undefined> {
		const last = await this.seal();
		this.#closed = true;
		return last;
	}

	async #writeGroup(): Promise<void> {
		this.#groupScheduled = false;
		const group = this.#pending.splice(0);
		if (group.length === 0) return;
		try {
			const segment = await this.#activeSegment();
			const data = group.length === 1 ? group[0]!.record : Buffer.concat(group.map((g) => g.record));
			const before = segment.bytes;
			try {
				let written = 0;
				while (written < data.length) {
					const { bytesWritten } = await segment.handle.write(data, written, data.length - written, before + written);
					written += bytesWritten;
				}
				if (this.sync) await segment.handle.datasync();
			} catch (error) {
				// A partial record must not stay in front of the next one.
				await segment.handle.truncate(before).catch(() => undefined);
				throw error;
			}
			segment.bytes += data.length;
			for (const g of group) {
				segment.entries.push(g.entry);
				segment.rows += countRows([g.entry]);
				for (const runId of g.entry.runIds ?? []) segment.runIds.add(runId);
			}
			this.diskFull = false;
			for (const g of group) g.resolve();
		} catch (error) {
			const full = isDiskFull(error);
			if (full) this.diskFull = true;
			const failure = full
				? new JournalFullError(`no space left for the journal in ${this.dir}`)
				: error instanceof Error
					? error
					: new Error(String(error));
			for (const g of group) g.reject(failure);
		}
	}

	async #activeSegment(): Promise<ActiveSegment> {
		if (this.#active) return this.#active;
		const name = `${String(this.#next++).padStart(12, '0')}.${this.#instance}.v${schemaVersion}.journal`;
		const file = path.join(this.dir, name);
		const handle = await open(file, 'w');
		const layout = encodeLayout(currentLayout);
		try {
			await handle.write(layout);
		} catch (error) {
			await handle.close().catch(() => undefined);
			await rm(file, { force: true });
			throw error;
		}
		this.#active = { name, file, handle, bytes: layout.length, rows: 0, entries: [], runIds: new Set() };
		return this.#active;
	}

	async #sealNow(): Promise<SealedSegment | undefined> {
		const active = this.#active;
		if (!active) return undefined;
		this.#active = undefined;
		await active.handle.close().catch(() => undefined);
		if (active.entries.length === 0) {
			await rm(active.file, { force: true });
			return undefined;
		}
		this.#sealedBytes += active.bytes;
		this.#sealedFiles++;
		return {
			name: active.name,
			file: active.file,
			bytes: active.bytes,
			rows: active.rows,
			schemaVersion,
			layout: currentLayout,
			entries: active.entries,
			runIds: active.runIds,
		};
	}
}

function countRows(entries: JournalEntry[]): number {
	let rows = 0;
	for (const entry of entries) for (const table of Object.values(entry.tables)) rows += table?.rows ?? 0;
	return rows;
}

function encodeRecord(entry: JournalEntry): Buffer {
	const ids = entry.batchIds.map((id) => Buffer.from(id, 'utf8'));
	const tables = Object.entries(entry.tables).filter(([, t]) => t && t.data.length > 0) as Array<[TableName, { rows: number; data: Buffer }]>;
	let size = 2 + 1;
	for (const id of ids) size += 2 + id.length;
	for (const [, t] of tables) size += 1 + 4 + 4 + t.data.length;
	const record = Buffer.allocUnsafe(headerBytes + size);
	let o = headerBytes;
	o = record.writeUInt16LE(ids.length, o);
	for (const id of ids) {
		o = record.writeUInt16LE(id.length, o);
		o += id.copy(record, o);
	}
	o = record.writeUInt8(tables.length, o);
	for (const [name, t] of tables) {
		o = record.writeUInt8(tableNames.indexOf(name), o);
		o = record.writeUInt32LE(t.rows, o);
		o = record.writeUInt32LE(t.data.length, o);
		o += t.data.copy(record, o);
	}
	record.writeUInt32LE(magic, 0);
	record.writeUInt32LE(size, 4);
	record.writeUInt32LE(crc32(record.subarray(headerBytes)), 8);
	return record;
}

function frame(recordMagic: number, payload: Buffer): Buffer {
	const header = Buffer.allocUnsafe(headerBytes);
	header.writeUInt32LE(recordMagic, 0);
	header.writeUInt32LE(payload.length, 4);
	header.writeUInt32LE(crc32(payload), 8);
	return Buffer.concat([header, payload]);
}

function encodeLayout(layout: TableLayout): Buffer {
	return frame(layoutMagic, Buffer.from(JSON.stringify(layout), 'utf8'));
}

/** The whole records of a segment file (after its layout record, when it has one), and how many bytes they span. */
function decodeSegment(file: Buffer): { entries: JournalEntry[]; layout: TableLayout | undefined; validBytes: number; fileBytes: number } {
	const entries: JournalEntry[] = [];
	let layout: TableLayout | undefined;
	let o = 0;
	if (file.length >= headerBytes && file.readUInt32LE(0) === layoutMagic) {
		const size = file.readUInt32LE(4);
		const payload = file.subarray(headerBytes, headerBytes + size);
		if (payload.length !== size || crc32(payload) !== file.readUInt32LE(8)) return { entries, layout, validBytes: 0, fileBytes: file.length };
		try {
			layout = JSON.parse(payload.toString('utf8')) as TableLayout;
		} catch {
			return { entries, layout, validBytes: 0, fileBytes: file.length };
		}
		o = headerBytes + size;
	}
	while (o + headerBytes <= file.length) {
		if (file.readUInt32LE(o) !== magic) break;
		const size = file.readUInt32LE(o + 4);
		if (o + headerBytes + size > file.length) break;
		const payload = file.subarray(o + headerBytes, o + headerBytes + size);
		if (crc32(payload) !== file.readUInt32LE(o + 8)) break;
		const entry = decodePayload(payload);
		if (!entry) break;
		entries.push(entry);
		o += headerBytes + size;
	}
	return { entries, layout, validBytes: o, fileBytes: file.length };
}

function decodePayload(p: Buffer): JournalEntry | undefined {
	try {
		let o = 0;
		const batchIds: string[] = [];
		const idCount = p.readUInt16LE(o);
		o += 2;
		for (let i = 0; i < idCount; i++) {
			const length = p.readUInt16LE(o);
			o += 2;
			batchIds.push(p.toString('utf8', o, o + length));
			o += length;
		}
		const tables: JournalEntry['tables'] = {};
		const tableCount = p.readUInt8(o++);
		for (let i = 0; i < tableCount; i++) {
			const name = tableNames[p.readUInt8(o++)];
			const rows = p.readUInt32LE(o);
			const length = p.readUInt32LE(o + 4);
			o += 8;
			if (!name || o + length > p.length) return undefined;
			tables[name] = { rows, data: p.subarray(o, o + length) };
			o += length;
		}
		return { batchIds, tables };
	} catch {
		return undefined;
	}
}

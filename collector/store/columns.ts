/**
 * Table columns as data: the DDL, the RowBinary encoder and the row types all come from these
 * lists, so a column is declared once.
 */

export type ColumnType =
	| 'String'
	| 'LowCardinality(String)'
	| 'DateTime64(3)'
	| 'UInt8'
	| 'UInt16'
	| 'UInt32'
	| 'Int64'
	| 'Float32'
	| 'Float64'
	| 'Nullable(Int64)'
	| 'Nullable(DateTime64(3))'
	| 'Nullable(Float32)'
	| 'Nullable(Float64)';

export interface Column {
	readonly name: string;
	readonly type: ColumnType;
	/** Compression codec, e.g. 'Delta, ZSTD(1)'. */
	readonly codec?: string;
	/** SQL default for rows that existed before the column (a column added to a live database). */
	readonly default?: string;
}

type TsType<T extends ColumnType> = T extends 'String' | 'LowCardinality(String)'
	? string
	: T extends `Nullable(${string})`
		? number | null
		: number;

/** The JS row a column list describes: DateTime64(3) is epoch milliseconds. */
export type RowOf<C extends readonly Column[]> = { [K in C[number] as K['name']]: TsType<K['type']> };

export function columnsDdl(columns: readonly Column[]): string {
	return columns.map((c) => `\`${c.name}\` ${c.type}${c.default ? ` DEFAULT ${c.default}` : ''}${c.codec ? ` CODEC(${c.codec})` : ''}`).join(',\n  ');
}

/** "name Type, ..." as the structure argument of the file() table function. */
export function columnsStructure(columns: readonly Column[]): string {
	return columns.map((c) => `${c.name} ${c.type}`).join(', ');
}

type ValueWriter = (w: RowBinaryWriter, value: unknown) => void;

/** Bytes reserved per row for its fixed-width values (at most 9 per column, nullable Int64). */
const rowSlackBytes = 1024;
type RowsWriter = (w: RowBinaryWriter, rows: ReadonlyArray<Record<string, unknown>>) => void;

/**
 * A loop over rows that reads each column as a named property (`row.rtt_ms`), generated once
 * per column list: with one shape of row object these reads stay monomorphic, where
 * `row[name]` over 36 names is several times slower. Names are our own column identifiers.
 */
function compileRowsWriter(columns: readonly Column[]): RowsWriter {
	for (const c of columns) if (!/^[A-Za-z_]\w*$/.test(c.name)) throw new Error(`bad column name ${c.name}`);
	const writers = columns.map((c) => valueWriter(c.type));
	if (columns.length * 9 + 64 > rowSlackBytes) throw new Error(`a row of ${columns.length} columns needs more than ${rowSlackBytes} reserved bytes`);
	const body = columns.map((c, i) => `v[${i}](w, row.${c.name});`).join('\n');
	const loop = new Function(
		'v',
		'w',
		'rows',
		`for (let r = 0; r < rows.length; r++) { const row = rows[r]; w.reserve(${rowSlackBytes});\n${body}\n}`,
	) as (v: ValueWriter[], w: RowBinaryWriter, rows: ReadonlyArray<Record<string, unknown>>) => void;
	return (w, rows) => loop(writers, w, rows);
}

/**
 * Encodes rows in ClickHouse's RowBinary format: the cheapest format for the server to parse
 * (no text to number conversion), several times faster to insert than JSONEachRow. Per column
 * list a writer function per column is built once.
 */
export class RowBinaryWriter {
	buffer: Buffer;
	offset = 0;
	readonly #plans = new WeakMap<readonly Column[], RowsWriter>();

	constructor(initialBytes = 1 << 20) {
		this.buffer = Buffer.allocUnsafe(initialBytes);
	}

	get length(): number {
		return this.offset;
	}

	/** The encoded bytes (a view: copy it before reusing the writer). */
	bytes(): Buffer {
		return this.buffer.subarray(0, this.offset);
	}

	reset(): void {
		this.offset = 0;
	}

	/** Drops everything written after `offset` (a batch that could not be encoded whole). */
	rewind(offset: number): void {
		this.offset = Math.min(this.offset, offset);
	}

	writeRows<C extends readonly Column[]>(columns: C, rows: ReadonlyArray<RowOf<C>>): void {
		let write = this.#plans.get(columns);
		if (!write) this.#plans.set(columns, (write = compileRowsWriter(columns)));
		write(this, rows as ReadonlyArray<Record<string, unknown>>);
	}

	writeRow(columns: readonly Column[], row: Record<string, unknown>): void {
		this.writeRows(columns, [row] as never);
	}

	/** Ensures room for `bytes` more bytes. */
	reserve(bytes: number): void {
		if (this.offset + bytes <= this.buffer.length) return;
		const next = Buffer.allocUnsafe(Math.max(this.buffer.length * 2, this.offset + bytes));
		this.buffer.copy(next, 0, 0, this.offset);
		this.buffer = next;
	}

	/**
	 * Length-prefixed UTF-8. Ids and short names are written a byte per character when they are
	 * ASCII, which is cheaper than a lookup and copy of cached bytes and allocates nothing; other
	 * text goes through the UTF-8 encoder. Each row reserves room for its fixed-width values up
	 * front, so a string also reserves that much after itself: a long string never leaves the
	 * values after it without room.
	 */
	writeString(text: string): void {
		const n = text.length;
		if (n < 0x80) {
			this.reserve(n + 1 + rowSlackBytes);
			const buffer = this.buffer;
			const start = this.offset + 1;
			let i = 0;
			for (; i < n; i++) {
				const code = text.charCodeAt(i);
				if (code > 0x7f) break;
				buffer[start + i] = code;
			}
			if (i === n) {
				buffer[this.offset] = n;
				this.offset = start + n;
				return;
			}
		}
		let length = Buffer.byteLength(text, 'utf8');
		this.reserve(length + 5 + rowSlackBytes);
		while (length >= 0x80) {
			this.buffer[this.offset++] = (length & 0x7f) | 0x80;
			length >>>= 7;
		}
		this.buffer[this.offset++] = length;
		this.offset += this.buffer.write(text, this.offset, 'utf8');
	}

}

/**
 * Int64 and DateTime64(3) from a double. The contract bounds every value to the safe-integer
 * range; clamping here means even a value that slipped past it cannot make the writer throw.
 */
function int64(w: RowBinaryWriter, value: unknown): void {
	const finite = typeof value === 'number' && Number.isFinite(value) ? value : 0;
	const n = Math.trunc(Math.min(Number.MAX_SAFE_INTEGER, Math.max(-Number.MAX_SAFE_INTEGER, finite)));
	// Two 32-bit halves: a BigInt per value would dominate the encoding cost.
	const low = n % 0x1_0000_0000;
	w.buffer.writeUInt32LE(low >= 0 ? low : low + 0x1_0000_0000, w.offset);
	w.buffer.writeInt32LE(Math.floor(n / 0x1_0000_0000), w.offset + 4);
	w.offset += 8;
}

function valueWriter(type: ColumnType): ValueWriter {
	switch (type) {
		case 'String':
		case 'LowCardinality(String)':
			return (w, v) => w.writeString(typeof v === 'string' ? v : '');
		case 'DateTime64(3)':
		case 'Int64':
			return int64;
		case 'UInt8':
			return (w, v) => {
				w.buffer[w.offset++] = typeof v === 'number' ? v & 0xff : 0;
			};
		case 'UInt16':
			return (w, v) => {
				w.buffer.writeUInt16LE(typeof v === 'number' && v >= 0 && v <= 0xffff ? v & 0xffff : 0, w.offset);
				w.offset += 2;
			};
		case 'UInt32':
			return (w, v) => {
				w.buffer.writeUInt32LE(typeof v === 'number' && v >= 0 && v <= 0xffff_ffff ? v >>> 0 : 0, w.offset);
				w.offset += 4;
			};
		case 'Float32':
			return (w, v) => {
				w.buffer.writeFloatLE(typeof v === 'number' ? v : 0, w.offset);
				w.offset += 4;
			};
		case 'Float64':
			return (w, v) => {
				w.buffer.writeDoubleLE(typeof v === 'number' ? v : 0, w.offset);
				w.offset += 8;
			};
		case 'Nullable(Int64)':
		case 'Nullable(DateTime64(3))':
		case 'Nullable(Float32)':
		case 'Nullable(Float64)': {
			const inner = valueWriter(type.slice(9, -1) as ColumnType);
			return (w, v) => {
				if (typeof v !== 'number' || !Number.isFinite(v)) {
					w.buffer[w.offset++] = 1;
					return;
				}
				w.buffer[w.offset++] = 0;
				inner(w, v);
			};
		}
	}
}

import type { TelemetryBatch } from '../../protocol/telemetry.ts';
import type { NormalizeOptions, Normalizer } from '../normalize/Normalizer.ts';
import { RowBinaryWriter } from '../store/columns.ts';
import { tables, type RowOfTable, type RunRow, type TableName } from '../store/tables.ts';

export type Rows = { [T in TableName]?: Array<RowOfTable<T>> };

/**
 * A batch with who owns its rows: a load-test batch as sent, or a production call's batch
 * translated by the app ingest (its call as the run, its rows' app, hashed user and retention).
 */
export interface OwnedBatch {
	batch: TelemetryBatch;
	options?: NormalizeOptions;
	/** A run registry row to store with the batch (without one, a new run gets a placeholder load-test row). */
	run?: RunRow;
	/** More rows stored with the batch, atomically (a call's participant record). */
	rows?: Rows;
}

/** One table's rows of a batch, RowBinary-encoded. */
export interface EncodedRows {
	rows: number;
	data: Uint8Array;
}

/**
 * A batch normalised and encoded, ready for the journal: what a worker thread sends back, or
 * what the collector's own thread made. Only plain data (it crosses threads), except `commit`.
 */
export interface PreparedBatch {
	batchId: string;
	runId: string;
	/** The earliest time in the batch: a run first seen here starts then. */
	firstTs: number;
	/** Sample rows of streams and SFU workers (the batch's count in the `batches` table). */
	streamSamples: number;
	/** Load-generator health rows. */
	generatorSamples: number;
	events: number;
	rejected: Array<{ path: string; message: string }>;
	tables: Partial<Record<TableName, EncodedRows>>;
	/** The owner gave the batch's run registry row (it is in `tables.runs`). */
	ownRun: boolean;
	/** Why the batch could not be turned into rows (a bug, never the client's fault alone): it is refused. */
	failure?: string;
	/**
	 * Makes this batch's counters the streams' previous ones, once its rows are on disk. Absent
	 * from a worker's batches: they carry their baselines, and a worker's memory is never read.
	 */
	commit?: () => void;
}

/** Normalises a batch and encodes its rows, table by table. */
export class BatchPreparer {
	readonly #writers = new Map<TableName, RowBinaryWriter>();

	constructor(
		private readonly normalizer: Normalizer,
		private readonly keepRawReports: boolean,
	) {}

	prepare({ batch, options, run, rows: extra }: OwnedBatch): PreparedBatch {
		const prepared: PreparedBatch = {
			batchId: batch.batchId,
			runId: batch.runId,
			firstTs: Date.now(),
			streamSamples: 0,
			generatorSamples: 0,
			events: 0,
			rejected: [],
			tables: {},
			ownRun: Boolean(run),
		};
		try {
			const result = this.normalizer.normalize(batch, { keepRawReports: this.keepRawReports, ...options });
			const rows: Rows = { samples: result.samples, events: result.events, sfu_samples: result.sfu, generator_samples: result.generator, raw_reports: result.raw };
			prepared.tables = this.#withOwnerRows(this.encode(rows), { run, rows: extra });
			prepared.streamSamples = result.samples.length + result.sfu.length;
			prepared.generatorSamples = result.generator.length;
			prepared.events = result.events.length;
			prepared.rejected = result.rejected;
			prepared.firstTs = Math.min(result.firstTs ?? Infinity, prepared.firstTs);
			prepared.commit = () => result.commit();
		} catch (error) {
			prepared.failure = error instanceof Error ? error.message : String(error);
		}
		return prepared;
	}

	/**
	 * Adds rows made on the collector's thread (a call's registry and participant rows) to a
	 * batch a worker prepared; a batch that failed stays as it is (it is refused).
	 */
	attach(prepared: PreparedBatch, own: Pick<OwnedBatch, 'run' | 'rows'>): PreparedBatch {
		if (prepared.failure !== undefined) return prepared;
		return { ...prepared, tables: this.#withOwnerRows(prepared.tables, own), ownRun: prepared.ownRun || Boolean(own.run) };
	}

	/** A batch's encoded tables with its owner's rows (a run registry row, more rows) encoded after them. */
	#withOwnerRows(tables: PreparedBatch['tables'], { run, rows }: Pick<OwnedBatch, 'run' | 'rows'>): PreparedBatch['tables'] {
		if (!run && !rows) return tables;
		const out = { ...tables };
		for (const [table, encoded] of Object.entries(this.encode({ ...rows, ...(run ? { runs: [run] } : {}) })) as Array<[TableName, EncodedRows]>) {
			const had = out[table];
			out[table] = had ? { rows: had.rows + encoded.rows, data: Buffer.concat([had.data, encoded.data]) } : encoded;
		}
		return out;
	}

	/** RowBinary per table; each writer's buffer is reused, so the bytes are copied out. */
	encode(rows: Rows): Partial<Record<TableName, EncodedRows>> {
		const out: Partial<Record<TableName, EncodedRows>> = {};
		for (const [table, list] of Object.entries(rows) as Array<[TableName, Array<Record<string, unknown>>]>) {
			if (!list || list.length === 0) continue;
			let writer = this.#writers.get(table);
			if (!writer) this.#writers.set(table, (writer = new RowBinaryWriter(1 << 20)));
			writer.reset();
			writer.writeRows(tables[table], list as never);
			out[table] = { rows: list.length, data: Buffer.from(writer.bytes()) };
		}
		return out;
	}
}

/**
 * A live status line for long work: redrawn in place on a terminal, printed every few
 * seconds otherwise (CI logs), cleared before the next regular line.
 */
export class StatusLine {
	#last = '';
	#lastPrinted = 0;
	readonly #tty: boolean;

	constructor(private readonly stream: NodeJS.WriteStream = process.stderr) {
		this.#tty = Boolean(stream.isTTY);
	}

	update(text: string): void {
		this.#last = text;
		if (this.#tty) {
			const width = this.stream.columns ?? 120;
			this.stream.write(`\r\x1b[2K${text.slice(0, width - 1)}`);
		} else if (Date.now() - this.#lastPrinted > 5000) {
			this.#lastPrinted = Date.now();
			this.stream.write(`${text}\n`);
		}
	}

	/** Ends the live line, leaving its last text. */
	done(text = this.#last): void {
		if (this.#tty) this.stream.write(`\r\x1b[2K${text}\n`);
		else this.stream.write(`${text}\n`);
		this.#last = '';
	}
}

/** "[#####.....] 50%" */
export function bar(fraction: number, width = 20): string {
	const f = Math.min(1, Math.max(0, fraction));
	const filled = Math.round(f * width);
	return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${String(Math.round(f * 100)).padStart(3)}%`;
}

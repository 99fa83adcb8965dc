import { escapeHtml } from './format.ts';
import { inDoubt, figureColumn, withheldCount, figureKindNames, type FigureKind } from '../../protocol/metrics.ts';

/** Small DOM helpers: the pages are plain HTML strings plus event wiring. */
export function $(selector: string, root: ParentNode = document): HTMLElement {
	const element = root.querySelector<HTMLElement>(selector);
	if (!element) throw new Error(`no element ${selector}`);
	return element;
}

export function canvas(id: string): HTMLCanvasElement {
	return $(`#${id}`) as HTMLCanvasElement;
}

/** A chart card: title, the unit shown, a canvas. */
export function card(id: string, title: string, note = ''): string {
	return `<section class="card"><h3>${title}</h3>${note ? `<p class="note">${note}</p>` : ''}<div class="chart"><canvas id="${id}"></canvas></div></section>`;
}

export function message(kind: 'empty' | 'error' | 'loading', text: string): string {
	return `<div class="message ${kind}" role="${kind === 'error' ? 'alert' : 'status'}">${text}</div>`;
}

export function statusBadge(status: string): string {
	return `<span class="badge ${status}">${status}</span>`;
}

/** A process's or a run's counts of a kind of figures, flagged when they put its metric in doubt ('–': none judged). */
export function withheldCell(kind: FigureKind, withheld: number, judged: number): string {
	if (judged === 0) return '–';
	const text = withheldCount(withheld, judged);
	return inDoubt(kind, withheld, judged) ? `<span class="badge invalid">${text}</span>` : text;
}

/** The headings of the columns of figure counts, one per kind, in the order of figureKindNames. */
export function withheldHeadings(): string {
	return figureKindNames
		.map((kind) => {
			const { heading, title } = figureColumn(kind);
			return `<th class="num" title="${escapeHtml(title)}">${escapeHtml(heading)}</th>`;
		})
		.join('');
}

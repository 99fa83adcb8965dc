import { escapeHtml } from './format.ts';
import { tooManyWithheld, withheldColumn, withheldCount, withheldMetrics } from '../../protocol/metrics.ts';

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

/** A process's or a run's withheld figures of a metric, flagged when the metric is in doubt ('–': none judged). */
export function withheldCell(withheld: number, judged: number): string {
	if (judged === 0) return '–';
	const text = withheldCount(withheld, judged);
	return tooManyWithheld(withheld, judged) ? `<span class="badge invalid">${text}</span>` : text;
}

/** The headings of the withheld-figure columns, one per metric, in the order of withheldMetrics. */
export function withheldHeadings(): string {
	return withheldMetrics
		.map((metric) => {
			const { heading, title } = withheldColumn(metric);
			return `<th class="num" title="${escapeHtml(title)}">${escapeHtml(heading)}</th>`;
		})
		.join('');
}

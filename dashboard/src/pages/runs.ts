import { api } from '../api.ts';
import { destroyCharts } from '../charts.ts';
import { message, statusBadge, withheldCell, withheldHeadings } from '../dom.ts';
import { figureCountsKey, figureKindNames } from '../../../protocol/metrics.ts';
import { dateTime, duration, escapeHtml } from '../format.ts';
import type { Page } from './page.ts';

/** All runs, newest first; pick two to compare. */
export const runsPage: Page = {
	async render(root, context) {
		const runs = await api.runs();
		destroyCharts();
		if (runs.length === 0) {
			root.innerHTML = message(
				'empty',
				'No runs yet. Start one with <code>npm start</code> or <code>npx callswarm run scenarios/smoke.ts</code>; it appears here as soon as its first telemetry arrives.',
			);
			return;
		}
		const rows = runs
			.map((run) => {
				const failed = run.verdict.filter((v) => !v.ok).length;
				const verdict = run.verdict.length ? (failed ? `✗ ${failed} of ${run.verdict.length} failed` : `✓ ${run.verdict.length} passed`) : '–';
				return `<tr>
					<td><input type="checkbox" class="pick" value="${escapeHtml(run.runId)}" aria-label="compare ${escapeHtml(run.runId)}"></td>
					<td>${dateTime(run.startedAt)}</td>
					<td><a href="#/runs/${encodeURIComponent(run.runId)}">${escapeHtml(run.runId)}</a></td>
					<td>${escapeHtml(run.scenario || '–')}</td>
					<td class="num">${run.participants}${run.plannedParticipants ? ` / ${run.plannedParticipants}` : ''}</td>
					<td class="num">${duration(run.durationMs)}</td>
					<td title="${escapeHtml(run.statusReason)}">${statusBadge(run.status)}</td>
					${figureKindNames.map((kind) => `<td class="num">${withheldCell(kind, run[figureCountsKey(kind)].withheld, run[figureCountsKey(kind)].judged)}</td>`).join('')}
					<td>${verdict}</td>
				</tr>`;
			})
			.join('');
		root.innerHTML = `
			<div class="toolbar"><h2>Runs</h2><button id="compare" disabled>Compare selected (2)</button></div>
			<table class="runs">
				<thead><tr><th></th><th>date</th><th>run</th><th>scenario</th><th class="num">participants</th><th class="num">duration</th><th>status</th>${withheldHeadings()}<th>thresholds</th></tr></thead>
				<tbody>${rows}</tbody>
			</table>`;
		const button = root.querySelector<HTMLButtonElement>('#compare')!;
		const picked = () => [...root.querySelectorAll<HTMLInputElement>('.pick:checked')].map((i) => i.value);
		root.addEventListener('change', () => {
			button.disabled = picked().length !== 2;
		});
		button.addEventListener('click', () => {
			const [a, b] = picked();
			if (a && b) location.hash = `#/compare/${encodeURIComponent(a)}/${encodeURIComponent(b)}`;
		});
		if (runs.some((r) => r.status === 'running')) context.refreshIn(5000);
	},
};

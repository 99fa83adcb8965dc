import type { RunView, SeriesPoint } from '../../../protocol/api.ts';
import { compareRuns, comparisonVerdictText, type ComparedRow } from '../../../protocol/comparison.ts';
import { metricCatalogue, seriesCharts } from '../../../protocol/metrics.ts';
import { api } from '../api.ts';
import { destroyCharts, lineChart, palette } from '../charts.ts';
import { canvas, card, statusBadge } from '../dom.ts';
import { duration, escapeHtml, value } from '../format.ts';
import type { Page } from './page.ts';


/** B − A with its share of A. */
function delta(row: ComparedRow): string {
	if (row.diff === null) return '–';
	const def = metricCatalogue[row.metric];
	const unit = def.source === 'rate' ? 'ratio' : def.unit;
	const percent = row.relative === null ? '' : ` (${row.relative >= 0 ? '+' : ''}${(row.relative * 100).toFixed(0)} %)`;
	return `${row.diff >= 0 ? '+' : ''}${value(row.diff, unit)}${percent}`;
}

const overlay = (a: RunView, b: RunView, metric: string, stat: keyof SeriesPoint) => [
	{ label: `A ${stat}`, points: (a.timeseries.series[metric] ?? []).map((p) => ({ x: p.t - a.run.startedAt, y: p[stat] as number | null })), color: palette.blue },
	{ label: `B ${stat}`, points: (b.timeseries.series[metric] ?? []).map((p) => ({ x: p.t - b.run.startedAt, y: p[stat] as number | null })), color: palette.orange, dashed: true },
];

/** One overlay per run-view chart: its first metric's headline (first) statistic. */
const overlays = seriesCharts().map((c) => {
	const { name, series } = c.metrics[0]!;
	return { chart: c.chart, title: c.title, unit: c.unit, range: c.range, metric: name, stat: series.stats[0]! };
});

/** Two runs side by side: summary deltas (regressions in red) and overlaid charts. */
export function comparePage(idA: string, idB: string): Page {
	return {
		async render(root) {
			const [a, b] = await Promise.all([api.view(idA), api.view(idB)]);
			const comparison = compareRuns(a, b);
			const rows = comparison.rows
				.map((row) => {
					const def = metricCatalogue[row.metric];
					const unit = def.source === 'rate' ? 'ratio' : def.unit;
					const doubt = row.doubted ? ' <span class="doubt" title="in doubt: see above">?</span>' : '';
					return `<tr class="${row.change}${row.doubted ? ' doubted' : ''}"><th>${def.label} <span class="note">${row.stat}</span></th>
						<td class="num">${value(row.a, unit)}</td><td class="num">${value(row.b, unit)}</td>
						<td class="num delta">${delta(row)}${doubt}</td></tr>`;
				})
				.join('');
			const doubts = comparison.doubts.length
				? `<div class="alert" role="alert"><strong>In doubt:</strong><ul>${comparison.doubts.map((d) => `<li>${escapeHtml(d.text)}</li>`).join('')}</ul></div>`
				: '';
			const head = (v: RunView, label: string) =>
				`<div class="card"><h3>${label}: <a href="#/runs/${encodeURIComponent(v.run.runId)}">${escapeHtml(v.run.runId)}</a> ${statusBadge(v.run.status)}</h3>
				<p>${escapeHtml(v.run.scenario)} · ${duration(v.run.durationMs)} · ${v.summary.participants.joined} joined · peak ${v.summary.participants.peakActive}</p></div>`;
			destroyCharts();
			root.innerHTML = `
				<h2>Compare runs</h2>
				<div class="columns">${head(a, 'A')}${head(b, 'B')}</div>
				${doubts}
				<section class="card"><h3>Summary: B against A</h3>
					<p class="verdict ${comparison.verdict.replace(' ', '-')}">${escapeHtml(comparisonVerdictText(comparison))}</p>
					<table class="compare"><thead><tr><th>metric</th><th class="num">A</th><th class="num">B</th><th class="num">B − A</th></tr></thead><tbody>${rows}</tbody></table>
					<p class="note">Red: B is worse than A by more than 5 %; green: better; ?: in doubt, no verdict.</p></section>
				<div class="grid">
					${card('cmp-participants', 'Participants in call')}
					${overlays.map((o) => card(`cmp-${o.chart}`, `${o.title} ${o.stat}`)).join('')}
				</div>`;
			lineChart(canvas('cmp-participants'), {
				unit: 'participants',
				series: [
					{ label: 'A', points: a.participants.points.map((p) => ({ x: p.t - a.run.startedAt, y: p.active })), color: palette.blue },
					{ label: 'B', points: b.participants.points.map((p) => ({ x: p.t - b.run.startedAt, y: p.active })), color: palette.orange, dashed: true },
				],
			});
			for (const o of overlays) {
				lineChart(canvas(`cmp-${o.chart}`), { unit: o.unit, series: overlay(a, b, o.metric, o.stat), ...(o.range ? { min: o.range[0], max: o.range[1] } : {}) });
			}
		},
	};
}

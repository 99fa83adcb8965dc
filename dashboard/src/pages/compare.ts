import type { MetricSummary, RunView, SeriesPoint } from '../../../protocol/api.ts';
import { comparedMetricNames, metricCatalogue, metricChange, seriesCharts, type MetricName } from '../../../protocol/metrics.ts';
import { api } from '../api.ts';
import { destroyCharts, lineChart, palette } from '../charts.ts';
import { canvas, card, statusBadge } from '../dom.ts';
import { duration, escapeHtml, value } from '../format.ts';
import type { Page } from './page.ts';


/** Change from A to B, red when it is a regression for this metric. */
function delta(metric: MetricName, a: number | null, b: number | null): { text: string; cls: string } {
	const { diff, relative, change } = metricChange(metric, a, b);
	if (diff === null) return { text: '–', cls: '' };
	const unit = metricCatalogue[metric].source === 'rate' ? 'ratio' : metricCatalogue[metric].unit;
	const percent = relative === null ? '' : ` (${relative >= 0 ? '+' : ''}${(relative * 100).toFixed(0)} %)`;
	return { text: `${diff >= 0 ? '+' : ''}${value(diff, unit)}${percent}`, cls: change };
}

function pick(m: MetricSummary | undefined, stat: 'p50' | 'p95' | 'rate'): number | null {
	return m ? m[stat] : null;
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
			const rows = comparedMetricNames
				.map((metric) => {
					const def = metricCatalogue[metric];
					const ma = a.summary.metrics[metric];
					const mb = b.summary.metrics[metric];
					if ((!ma || ma.count === 0) && (!mb || mb.count === 0)) return '';
					const stats: Array<'p50' | 'p95' | 'rate'> = def.source === 'rate' ? ['rate'] : ['p50', 'p95'];
					return stats
						.map((stat) => {
							const unit = def.source === 'rate' ? 'ratio' : def.unit;
							const d = delta(metric, pick(ma, stat), pick(mb, stat));
							return `<tr class="${d.cls}"><th>${def.label} <span class="note">${stat}</span></th>
								<td class="num">${value(pick(ma, stat), unit)}</td><td class="num">${value(pick(mb, stat), unit)}</td>
								<td class="num delta">${d.text}</td></tr>`;
						})
						.join('');
				})
				.join('');
			const head = (v: RunView, label: string) =>
				`<div class="card"><h3>${label}: <a href="#/runs/${encodeURIComponent(v.run.runId)}">${escapeHtml(v.run.runId)}</a> ${statusBadge(v.run.status)}</h3>
				<p>${escapeHtml(v.run.scenario)} · ${duration(v.run.durationMs)} · ${v.summary.participants.joined} joined · peak ${v.summary.participants.peakActive}</p></div>`;
			destroyCharts();
			root.innerHTML = `
				<h2>Compare runs</h2>
				<div class="columns">${head(a, 'A')}${head(b, 'B')}</div>
				<section class="card"><h3>Summary: B against A</h3>
					<table class="compare"><thead><tr><th>metric</th><th class="num">A</th><th class="num">B</th><th class="num">B − A</th></tr></thead><tbody>${rows}</tbody></table>
					<p class="note">Red: B is worse than A by more than 5 %; green: better.</p></section>
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

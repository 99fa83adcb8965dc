/** Production apps: the list, and one app's calls over the last hour, day or week. */
import type { AppView } from '../../../protocol/apps.ts';
import type { SeriesPoint } from '../../../protocol/api.ts';
import { formatDuration } from '../../../protocol/durations.ts';
import { api } from '../api.ts';
import { barChart, destroyCharts, lineChart, palette, type Series } from '../charts.ts';
import { canvas, card, message, statusBadge } from '../dom.ts';
import { dateTime, escapeHtml, value } from '../format.ts';
import type { Page } from './page.ts';

export const appsPage: Page = {
	async render(root) {
		const apps = await api.apps();
		destroyCharts();
		if (apps.length === 0) {
			root.innerHTML = message(
				'empty',
				'No production apps yet. Create one with <code>npx callswarm apps create &lt;app id&gt; --origins https://your.app</code> and load the SDK in its pages (README, “Monitoring production calls”).',
			);
			return;
		}
		root.innerHTML = `<div class="toolbar"><h2>Apps</h2></div>
			<table class="runs"><thead><tr><th>app</th><th>name</th><th>origins</th><th class="num">retention</th><th class="num">sampled</th><th>created</th></tr></thead><tbody>${apps
				.map(
					(a) => `<tr><td><a href="#/apps/${encodeURIComponent(a.appId)}">${escapeHtml(a.appId)}</a></td><td>${escapeHtml(a.name || '–')}</td>
					<td>${escapeHtml(a.origins.join(' ') || '–')}</td><td class="num">${a.retentionDays} d</td><td class="num">${Math.round(a.sampleShare * 100)} %</td><td>${dateTime(a.createdAt)}</td></tr>`,
				)
				.join('')}</tbody></table>`;
	},
};

const line = (points: SeriesPoint[] | undefined, pick: (p: SeriesPoint) => number | null) => (points ?? []).map((p) => ({ x: p.t, y: pick(p) }));

function percentiles(view: AppView, metric: string, color: string, light: string): Series[] {
	return [
		{ label: 'p50', points: line(view.series[metric], (p) => p.p50), color },
		{ label: 'p95', points: line(view.series[metric], (p) => p.p95), color: light, dashed: true },
	];
}

function breakdownTable(title: string, rows: AppView['breakdown'][string] | undefined): string {
	if (!rows?.length) return '';
	return `<section class="card"><h3>By ${title}</h3><table><thead><tr><th>${title}</th><th class="num">participants</th><th class="num">MOS</th><th class="num">RTT</th><th class="num">loss</th></tr></thead><tbody>${rows
		.map((r) => `<tr><td>${escapeHtml(r.value)}</td><td class="num">${r.participants}</td><td class="num">${value(r.mos, '')}</td><td class="num">${value(r.rttMs, 'ms')}</td><td class="num">${value(r.lossPct, '%')}</td></tr>`)
		.join('')}</tbody></table></section>`;
}

/** One app over a time range: calls, participants, quality, worst calls, breakdowns, alerts. */
export function appPage(appId: string, range: '1h' | '1d' | '7d'): Page {
	return {
		async render(root, context) {
			const view = await api.appView(appId, range);
			destroyCharts();
			const spanMs = view.to - view.from;
			const ranges = (['1h', '1d', '7d'] as const)
				.map((r) => `<a href="#/apps/${encodeURIComponent(appId)}/${r}" class="${r === range ? 'current' : ''}">${{ '1h': 'last hour', '1d': 'last day', '7d': 'last week' }[r]}</a>`)
				.join('');
			const firing = view.alerts.filter((a) => a.state === 'firing');
			const total = view.bands.good + view.bands.degraded + view.bands.bad;
			root.innerHTML = `
				<div class="toolbar"><h2>${escapeHtml(view.app.name || view.app.appId)} <span class="note">production calls</span></h2><div class="ranges">${ranges}</div></div>
				${firing.map((a) => `<div class="alert" role="alert">Alert <b>${escapeHtml(a.name)}</b> firing: <code>${escapeHtml(a.metric)} ${escapeHtml(a.threshold)}</code> over ${formatDuration(a.windowMs)}, now ${value(a.value, '')}</div>`).join('')}
				<div class="tiles">
					<div class="tile"><b id="active-calls">${view.calls.active}</b>calls now</div>
					<div class="tile"><b id="total-calls">${view.calls.total}</b>calls in range</div>
					<div class="tile"><b>${total ? Math.round((view.bands.good / total) * 100) : 0} %</b>good calls</div>
				</div>
				<div class="grid">
					${card('app-participants', 'Participants and calls', 'participants present and calls started per bucket')}
					${card('app-bands', 'Calls by quality', 'each call by its averages: MOS, loss, RTT, jitter')}
					${card('app-rtt', 'Round-trip time', 'ms, participant ↔ server')}
					${card('app-mos', 'MOS (audio)', 'estimated from loss, jitter and delay')}
					${card('app-loss', 'Packet loss', '% of packets, received streams')}
					${card('app-jitter', 'Jitter', 'ms, received streams')}
				</div>
				<section class="card"><h3>Worst calls</h3>${
					view.worstCalls.length
						? `<table class="calls"><thead><tr><th>call</th><th>started</th><th class="num">participants</th><th class="num">MOS</th><th class="num">loss</th><th class="num">RTT</th></tr></thead><tbody>${view.worstCalls
								.map(
									(c) => `<tr><td><a href="#/runs/${encodeURIComponent(c.callKey)}">${escapeHtml(c.callKey)}</a></td><td>${dateTime(c.startedAt)}</td><td class="num">${c.participants}</td>
									<td class="num">${value(c.mos, '')}</td><td class="num">${value(c.lossPct, '%')}</td><td class="num">${value(c.rttMs, 'ms')}</td></tr>`,
								)
								.join('')}</tbody></table>`
						: '<p class="note">No calls in this range.</p>'
				}</section>
				<div class="grid">${breakdownTable('version', view.breakdown.version)}${breakdownTable('region', view.breakdown.region)}${breakdownTable('browser', view.breakdown.browser)}</div>
				<section class="card"><h3>Alert rules</h3>${
					view.alerts.length
						? `<table><thead><tr><th>rule</th><th>condition</th><th>state</th><th class="num">value</th></tr></thead><tbody>${view.alerts
								.map((a) => `<tr><td>${escapeHtml(a.name)}</td><td><code>${escapeHtml(a.metric)}: ${escapeHtml(a.threshold)} over ${formatDuration(a.windowMs)}</code></td><td>${statusBadge(a.state)}</td><td class="num">${value(a.value, '')}</td></tr>`)
								.join('')}</tbody></table>`
						: '<p class="note">No rules: <code>callswarm alerts create ' + escapeHtml(appId) + ' "mos: p(5)&gt;3.5 over 5m" --webhook …</code></p>'
				}</section>`;
			const clock = { spanMs };
			lineChart(canvas('app-participants'), {
				series: [
					{ label: 'participants', points: view.calls.points.map((p) => ({ x: p.t, y: p.participants })), color: palette.blue, fill: true },
					{ label: 'calls started', points: view.calls.points.map((p) => ({ x: p.t, y: p.started })), color: palette.orange, right: true },
				],
				unit: 'participants',
				rightUnit: 'calls',
				clock,
			});
			barChart(canvas('app-bands'), {
				labels: ['good', 'degraded', 'bad'],
				values: [view.bands.good, view.bands.degraded, view.bands.bad],
				label: 'calls',
				unit: 'calls',
				xTitle: 'quality band',
				colors: [palette.green, palette.amber, palette.red],
			});
			lineChart(canvas('app-rtt'), { series: percentiles(view, 'rtt_ms', palette.blue, palette.lightBlue), unit: 'ms', clock });
			lineChart(canvas('app-mos'), { series: [{ label: 'p50', points: line(view.series.mos, (p) => p.p50), color: palette.green }, { label: 'avg', points: line(view.series.mos, (p) => p.avg), color: palette.grey, dashed: true }], unit: 'MOS', min: 1, max: 5, clock });
			lineChart(canvas('app-loss'), { series: percentiles(view, 'loss_pct', palette.red, palette.lightOrange), unit: '%', clock });
			lineChart(canvas('app-jitter'), { series: percentiles(view, 'jitter_ms', palette.purple, palette.lightBlue), unit: 'ms', clock });
			context.refreshIn(10_000);
		},
	};
}

import type { DelayMatrix, FigureCounts, PeerList, RoomList, RunView, SeriesPoint, Timeseries } from '../../../protocol/api.ts';
import type { RunCoordination } from '../../../protocol/shards.ts';
import { figureCounts, figureTotals, metricCatalogue, seriesCharts, inDoubt, figureCountsAdvice, figureCountsText, figureKindNames, type MetricName, type FigureKind } from '../../../protocol/metrics.ts';
import { api } from '../api.ts';
import { barChart, destroyCharts, lineChart, palette, type Series } from '../charts.ts';
import { $, canvas, card, message, statusBadge, withheldCell, withheldHeadings } from '../dom.ts';
import { dateTime, duration, elapsed, escapeHtml, value } from '../format.ts';
import type { Page, PageContext } from './page.ts';

/** What a run view needs; the self-contained report carries exactly this. */
export interface RunData {
	view: RunView;
	rooms: RoomList;
	peers: PeerList;
	/** A multi-machine run: its shards as the collector coordinated them. */
	shards?: RunCoordination;
}

/** End-to-end delay per sender (columns) and receiver (rows), p50 (p95 on hover): one table for video, one for audio. */
export function delayMatrixTable(matrix: DelayMatrix): string {
	return (['video', 'audio'] as const).map((kind) => delayMatrixOf(matrix, kind)).join('');
}

function delayMatrixOf(matrix: DelayMatrix, kind: 'video' | 'audio'): string {
	const cells = matrix.cells.filter((c) => c.kind === kind);
	if (cells.length === 0) return '';
	const senders = [...new Set(cells.map((c) => c.sender))].sort();
	const receivers = [...new Set(cells.map((c) => c.receiver))].sort();
	const at = new Map(cells.map((c) => [`${c.receiver}\u0000${c.sender}`, c]));
	const shade = (ms: number | null) => (ms === null ? '' : ms < 150 ? 'good' : ms < 300 ? 'degraded' : 'bad');
	const title = kind === 'video' ? 'End-to-end video delay, capture to decode' : 'End-to-end audio delay, microphone to playout';
	const of = kind === 'video' ? 'frames' : 'bursts heard';
	return `<h4>${title}, sender → receiver (p50; p95 and marks read on hover)</h4><table class="matrix" data-kind="${kind}"><thead><tr><th>receiver ＼ sender</th>${senders
		.map((s) => `<th class="num">${escapeHtml(s)}</th>`)
		.join('')}</tr></thead><tbody>${receivers
		.map(
			(r) =>
				`<tr><th>${escapeHtml(r)}</th>${senders
					.map((s) => {
						const c = at.get(`${r}\u0000${s}`);
						return c
							? `<td class="num ${shade(c.p50)}" title="p95 ${value(c.p95, 'ms')}, marks read on ${value(c.marksPct, '%')} of ${of}, ${c.samples} samples">${value(c.p50, 'ms')}</td>`
							: '<td class="num">–</td>';
					})
					.join('')}</tr>`,
		)
		.join('')}</tbody></table>`;
}

function shardsTable(shards: RunCoordination | undefined): string {
	if (!shards) return '';
	return `<section class="card"><h3>Shards</h3><table class="shards"><thead><tr><th>shard</th><th>generator</th><th>state</th><th class="num">planned</th><th class="num">joined</th><th class="num">failed</th><th>outcome</th></tr></thead><tbody>${shards.shards
		.map(
			(s) => `<tr><td>${s.index} of ${shards.expected}</td><td>${escapeHtml(s.generator || '–')}</td><td>${statusBadge(s.state === 'lost' ? 'invalid' : s.state === 'finished' ? 'passed' : 'running')} ${s.state}</td>
			<td class="num">${s.plannedParticipants}</td><td class="num">${s.joined}</td><td class="num">${s.failed}</td><td>${escapeHtml(s.outcome ? `${s.outcome.status}${s.outcome.reason ? `: ${s.outcome.reason}` : ''}` : '–')}</td></tr>`,
		)
		.join('')}</tbody></table>${shards.abort ? `<p class="note">Shard ${shards.abort.shard} asked every shard to stop: ${escapeHtml(shards.abort.reason)}</p>` : ''}</section>`;
}

/** Why a run has no verdict on the call, in the reader's terms. */
function invalidExplanation(reason: string): string {
	if (/lost/.test(reason)) return 'A load-generator shard stopped reporting, so part of the planned load never ran: the figures below describe a smaller call than the scenario asked for. Check that machine and run again.';
	return 'The load generator itself ran out of capacity, so the figures below describe that machine, not the system under test. Run fewer or lighter bots per machine (lite bots, <code>--shard</code>) and measure again.';
}

/** Every metric, in the catalogue's order. */
const summaryMetrics = Object.keys(metricCatalogue) as MetricName[];
const seriesColors = [palette.blue, palette.orange, palette.green, palette.purple, palette.red, palette.amber];

const points = (series: SeriesPoint[] | undefined, start: number, pick: (p: SeriesPoint) => number | null) =>
	(series ?? []).map((p) => ({ x: p.t - start, y: pick(p) }));

/** p50 and p95 (or avg) lines of one metric. */
function percentileSeries(ts: Timeseries, metric: string, start: number, color: string, light: string): Series[] {
	const s = ts.series[metric];
	return [
		{ label: 'p50', points: points(s, start, (p) => p.p50), color },
		{ label: 'p95', points: points(s, start, (p) => p.p95), color: light, dashed: true },
	];
}

function thresholdsHtml(view: RunView): string {
	if (view.run.verdict.length === 0) return '<p class="note">No thresholds.</p>';
	return `<ul class="verdicts">${view.run.verdict
		.map((v) => {
			const unit = metricCatalogue[v.metric as MetricName]?.unit ?? '';
			return `<li class="${v.ok ? 'ok' : 'fail'}">${v.ok ? '✓' : '✗'} <code>${escapeHtml(v.metric)} ${escapeHtml(v.expression)}</code> <span class="note">(${value(v.value, unit)})</span></li>`;
		})
		.join('')}</ul>`;
}

function summaryTable(view: RunView): string {
	const rows = summaryMetrics
		.map((name) => {
			const m = view.summary.metrics[name];
			if (!m || m.count === 0) return '';
			const def = metricCatalogue[name];
			if (m.rate !== null || m.unit === 'ratio') {
				return `<tr><th title="${escapeHtml(def.description)}">${def.label}</th><td colspan="4" class="num">${value(m.rate, 'ratio')}</td><td class="num">${m.count}</td></tr>`;
			}
			return `<tr><th title="${escapeHtml(def.description)}">${def.label} <span class="note">${m.unit}</span></th>
				<td class="num">${value(m.avg, m.unit)}</td><td class="num">${value(m.p50, m.unit)}</td>
				<td class="num">${value(m.p95, m.unit)}</td><td class="num">${value(m.p99, m.unit)}</td><td class="num">${m.count}</td></tr>`;
		})
		.join('');
	return `<table class="summary"><thead><tr><th>metric</th><th class="num">avg</th><th class="num">p50</th><th class="num">p95</th><th class="num">p99</th><th class="num">samples</th></tr></thead><tbody>${rows}</tbody></table>`;
}

function generatorTable(view: RunView): string {
	const processes = view.generator.processes.filter((p) => p.role !== 'machine');
	if (processes.length === 0) return '';
	const withheldCells = (p: (typeof processes)[number]) =>
		figureKindNames.map((kind) => {
			const { withheld, judged } = figureCounts(p, kind);
			return `<td class="num">${withheldCell(kind, withheld, judged)}</td>`;
		});
	return `<section class="card"><h3>Load generator processes</h3><table class="generator"><thead><tr><th>generator</th><th>process</th><th>role</th><th class="num">peak CPU</th><th class="num">peak lag</th><th class="num">saturated</th>${withheldHeadings()}</tr></thead><tbody>${processes
		.map(
			(p) => `<tr><td>${escapeHtml(p.generatorId)}</td><td>${escapeHtml(p.processId)}</td><td>${escapeHtml(p.role)}</td>
			<td class="num">${value(p.peakCpuPct, '%')}</td><td class="num">${value(p.peakLagMs, 'ms')}</td>
			<td class="num">${p.saturatedSeconds ? `<span class="badge invalid">${p.saturatedSeconds} s</span>` : '–'}</td>
			${withheldCells(p).join('')}</tr>`,
		)
		.join('')}</tbody></table>${figureKindNames.map((kind) => withheldNote(kind, figureTotals(processes, kind))).join('')}</section>`;
}

/** What a kind's counts mean for its metric, under the table. */
function withheldNote(kind: FigureKind, { withheld, judged }: FigureCounts): string {
	if (judged === 0) return '';
	const advice = inDoubt(kind, withheld, judged) ? ` ${escapeHtml(figureCountsAdvice(kind))}` : '';
	return `<p class="note">${escapeHtml(figureCountsText(kind, withheld, judged))}${advice}</p>`;
}

function peersTable(peers: PeerList): string {
	if (peers.peers.length === 0) return '<p class="note">No participant data.</p>';
	return `<table class="peers"><thead><tr><th>participant</th><th>room</th><th>bot</th><th class="num">RTT</th><th class="num">jitter</th><th class="num">loss</th><th class="num">MOS</th><th>state</th></tr></thead><tbody>${peers.peers
		.map(
			(p) => `<tr data-peer="${escapeHtml(p.peerId)}"><td>${escapeHtml(p.peerId)}</td><td>${escapeHtml(p.roomId)}</td><td>${escapeHtml(p.sourceKind)}</td>
			<td class="num">${value(p.rttMs, 'ms')}</td><td class="num">${value(p.jitterMs, 'ms')}</td><td class="num">${value(p.lossPct, '%')}</td>
			<td class="num">${value(p.mos, '')}</td><td>${p.failed ? '<span class="badge failed">failed</span>' : p.joined ? 'joined' : '–'}</td></tr>`,
		)
		.join('')}</tbody></table>`;
}

/** The run view from data in hand (live dashboard or self-contained report). */
export function renderRun(root: HTMLElement, data: RunData, options: { live: boolean }): void {
	const { view } = data;
	const { run, summary } = view;
	const hasSamples = Object.values(view.timeseries.series).some((s) => s.length > 0);
	const p = summary.participants;
	destroyCharts();
	root.innerHTML = `
		<header class="run-header">
			<h2>${escapeHtml(run.runId)} ${statusBadge(run.status)}</h2>
			${
				run.status === 'invalid'
					? `<p class="alert" role="alert"><strong>No verdict on the call:</strong> ${escapeHtml(run.statusReason)}. ${invalidExplanation(run.statusReason)}</p>`
					: run.statusReason
						? `<p class="note">${escapeHtml(run.statusReason)}</p>`
						: ''
			}
			<p>${escapeHtml(run.scenario || 'no scenario name')} · started ${dateTime(run.startedAt)} · ${duration(run.durationMs)} ·
			${p.joined} joined of ${p.attempted}${run.plannedParticipants ? ` (planned ${run.plannedParticipants})` : ''} · ${p.failed} failed to join · ${p.dropped} dropped · peak ${p.peakActive} in calls</p>
			${options.live ? `<p class="actions"><a href="/v1/runs/${encodeURIComponent(run.runId)}/view" download="${escapeHtml(run.runId)}.json">view JSON</a></p>` : ''}
		</header>
		<div class="columns">
			<section class="card"><h3>Thresholds</h3>${thresholdsHtml(view)}</section>
			<section class="card wide"><h3>Summary</h3>${summaryTable(view)}</section>
		</div>
		${
			hasSamples
				? `<div class="grid">
			${card('chart-participants', 'Participants over time (user growth)', 'joined and failed are cumulative; in call = participants reporting stats')}
			${card('chart-sfu', 'SFU load', 'CPU of each mediasoup worker (left) and consumers (right)')}
			${seriesCharts()
				.map((c) => card(`chart-${c.chart}`, c.title, c.note))
				.join('')}
			${card('chart-quality', 'Quality bands', 'participants by their worst of loss, jitter, RTT and MOS')}
			${card('chart-first-media', 'Time to first media', 'join request to first decoded frame or audio')}
			${card('chart-generator', 'Load generator health', 'CPU of its machine (all cores) and of its busiest process, in % of one core (left); worst event-loop lag (right). A saturated generator makes the run invalid')}
		</div>
		${shardsTable(data.shards)}
		${generatorTable(view)}`
				: message('empty', run.status === 'running' ? 'This run has no samples yet: bots are joining.' : 'This run has no samples.')
		}
		<section class="card drill">
			<h3>Rooms and participants</h3>
			${
				options.live
					? `<div class="toolbar"><label>room <select id="room"><option value="">all rooms</option>${data.rooms.rooms
							.map((r) => `<option value="${escapeHtml(r.roomId)}">${escapeHtml(r.roomId)} (${r.participants})</option>`)
							.join('')}</select></label>
						<label>participant <select id="peer"><option value="">all participants</option></select></label></div>
						<div id="drill-charts"></div>`
					: '<p class="note">Per-room and per-participant charts are in the live dashboard; this report lists every participant.</p>'
			}
			<div id="peers">${peersTable(data.peers)}</div>
			<div id="events"></div>
		</section>`;

	if (hasSamples) drawRunCharts(view);
	if (options.live) wireDrillDown(root, data);
}

function drawRunCharts(view: RunView): void {
	const start = view.run.startedAt;
	const ts = view.timeseries;
	const people = view.participants.points;
	lineChart(canvas('chart-participants'), {
		unit: 'participants',
		series: [
			{ label: 'joined', points: people.map((q) => ({ x: q.t - start, y: q.joined })), color: palette.blue },
			{ label: 'in call', points: people.map((q) => ({ x: q.t - start, y: q.active })), color: palette.green, fill: 'origin' },
			{ label: 'failed', points: people.map((q) => ({ x: q.t - start, y: q.failed })), color: palette.red },
		],
	});
	const consumers = new Map<number, number>();
	for (const w of view.sfu.workers) for (const q of w.points) consumers.set(q.t, (consumers.get(q.t) ?? 0) + q.consumers);
	lineChart(canvas('chart-sfu'), {
		unit: 'CPU %',
		rightUnit: 'consumers',
		series: [
			...view.sfu.workers.map((w, i) => ({
				label: `worker ${w.worker} CPU`,
				points: w.points.map((q) => ({ x: q.t - start, y: q.cpuPct })),
				color: [palette.orange, palette.purple, palette.amber, palette.grey][i % 4]!,
			})),
			{ label: 'consumers', points: [...consumers].map(([t, n]) => ({ x: t - start, y: n })), color: palette.blue, right: true, dashed: true },
		],
	});
	for (const chart of seriesCharts()) {
		let color = 0;
		const series = chart.metrics.flatMap(({ name, series: def }) => {
			const base = seriesColors[color++ % seriesColors.length]!;
			return def.stats.map((stat, i) => ({
				label: chart.metrics.length > 1 ? `${def.legend ?? name} (${stat})` : stat === 'avg' ? 'average' : stat,
				points: points(ts.series[name], start, (q) => q[stat]),
				color: base,
				dashed: i > 0,
			}));
		});
		lineChart(canvas(`chart-${chart.chart}`), { unit: chart.unit, series, ...(chart.range ? { min: chart.range[0], max: chart.range[1] } : {}) });
	}
	const bands = view.quality.points;
	lineChart(canvas('chart-quality'), {
		unit: 'participants',
		stacked: true,
		series: [
			{ label: 'good', points: bands.map((q) => ({ x: q.t - start, y: q.good })), color: palette.green, fill: 'origin', stack: 'bands' },
			{ label: 'degraded', points: bands.map((q) => ({ x: q.t - start, y: q.degraded })), color: palette.amber, fill: '-1', stack: 'bands' },
			{ label: 'bad', points: bands.map((q) => ({ x: q.t - start, y: q.bad })), color: palette.red, fill: '-1', stack: 'bands' },
		],
	});
	const generator = view.generator.points;
	lineChart(canvas('chart-generator'), {
		unit: 'CPU %',
		rightUnit: 'lag ms',
		series: [
			{ label: 'machine CPU', points: generator.map((q) => ({ x: q.t - start, y: q.machineCpuPct })), color: palette.grey, fill: 'origin' },
			{ label: 'busiest process (a Chromium with its children)', points: generator.map((q) => ({ x: q.t - start, y: q.maxProcessCpuPct })), color: palette.orange },
			{ label: 'worst event-loop lag', points: generator.map((q) => ({ x: q.t - start, y: q.maxLagMs })), color: palette.purple, right: true, dashed: true },
		],
	});
	const histogram = view.firstMedia.histogram;
	barChart(canvas('chart-first-media'), {
		labels: histogram.map((b) => `${(b.fromMs / 1000).toFixed(1)}–${(b.toMs / 1000).toFixed(1)} s`),
		values: histogram.map((b) => b.count),
		label: 'participants',
		unit: 'participants',
		xTitle: `time to first media (p50 ${value(view.firstMedia.p50, 'ms')}, p95 ${value(view.firstMedia.p95, 'ms')})`,
	});
}

function wireDrillDown(root: HTMLElement, data: RunData): void {
	const runId = data.view.run.runId;
	const start = data.view.run.startedAt;
	const room = $('#room', root) as HTMLSelectElement;
	const peer = $('#peer', root) as HTMLSelectElement;
	const drill = $('#drill-charts', root);

	async function show(filter: { room?: string; peer?: string }): Promise<void> {
		$('#events', root).innerHTML = '';
		if (!filter.room && !filter.peer) {
			drill.innerHTML = '';
			$('#peers', root).innerHTML = peersTable(data.peers);
			return;
		}
		drill.innerHTML = message('loading', 'loading…');
		try {
			const [ts, matrix] = await Promise.all([
				api.timeseries(runId, ['rtt_ms', 'jitter_ms', 'loss_pct', 'bitrate_in_kbps', 'mos'], filter),
				filter.room ? api.delayMatrix(runId, filter.room) : Promise.resolve({ cells: [] }),
			]);
			drill.innerHTML = `<div class="grid">${card('drill-rtt', `RTT and jitter: ${escapeHtml(filter.peer ?? filter.room ?? '')}`)}${card('drill-loss', 'Packet loss and MOS')}</div>${delayMatrixTable(matrix)}`;
			lineChart(canvas('drill-rtt'), {
				unit: 'ms',
				series: [
					...percentileSeries(ts, 'rtt_ms', start, palette.blue, palette.lightBlue).map((s) => ({ ...s, label: `RTT ${s.label}` })),
					{ label: 'jitter p50', points: points(ts.series.jitter_ms, start, (q) => q.p50), color: palette.purple },
				],
			});
			lineChart(canvas('drill-loss'), {
				unit: '%',
				rightUnit: 'MOS',
				series: [
					{ label: 'loss (average)', points: points(ts.series.loss_pct, start, (q) => q.avg), color: palette.red },
					{ label: 'MOS p50', points: points(ts.series.mos, start, (q) => q.p50), color: palette.green, right: true },
				],
			});
			if (filter.peer) {
				const events = await api.events(runId, filter.peer);
				$('#events', root).innerHTML = `<h4>Events of ${escapeHtml(filter.peer)}</h4><table class="events"><thead><tr><th>time</th><th>event</th><th class="num">duration</th><th>reason</th></tr></thead><tbody>${events.events
					.map((e) => `<tr><td>${elapsed(e.t - start)}</td><td>${escapeHtml(e.type)}</td><td class="num">${value(e.durationMs, 'ms')}</td><td>${escapeHtml(e.reason)}</td></tr>`)
					.join('')}</tbody></table>`;
			}
		} catch (error) {
			drill.innerHTML = message('error', escapeHtml((error as Error).message));
		}
	}

	room.addEventListener('change', async () => {
		const peers = await api.peers(runId, room.value || undefined);
		peer.innerHTML = `<option value="">all participants</option>${peers.peers.map((p) => `<option>${escapeHtml(p.peerId)}</option>`).join('')}`;
		$('#peers', root).innerHTML = peersTable(peers);
		await show({ room: room.value || undefined });
	});
	peer.addEventListener('change', () => void show({ room: room.value || undefined, peer: peer.value || undefined }));
}

export function runPage(runId: string): Page {
	return {
		async render(root: HTMLElement, context: PageContext) {
			const [view, rooms, peers] = await Promise.all([api.view(runId), api.rooms(runId), api.peers(runId)]);
			const shards = view.run.shards > 1 ? await api.coordination(runId).catch(() => undefined) : undefined;
			renderRun(root, { view, rooms, peers, shards }, { live: true });
			if (view.run.status === 'running') context.refreshIn(5000);
		},
	};
}

/** chart.js charts of the dashboard: elapsed run time on x, units on y. */
import {
	BarController,
	BarElement,
	CategoryScale,
	Chart,
	Filler,
	Legend,
	LinearScale,
	LineController,
	LineElement,
	PointElement,
	Tooltip,
	type ChartDataset,
} from 'chart.js';
import { clockLabel, elapsed } from './format.ts';

Chart.register(LineController, LineElement, PointElement, LinearScale, CategoryScale, BarController, BarElement, Filler, Legend, Tooltip);
Chart.defaults.font.family = 'system-ui, -apple-system, "Segoe UI", sans-serif';
Chart.defaults.font.size = 12;
Chart.defaults.animation = false;
Chart.defaults.maintainAspectRatio = false;

export const palette = {
	blue: '#2563eb',
	lightBlue: '#93c5fd',
	orange: '#ea580c',
	lightOrange: '#fdba74',
	green: '#16a34a',
	red: '#dc2626',
	amber: '#d97706',
	grey: '#6b7280',
	purple: '#7c3aed',
};

export interface Series {
	label: string;
	points: Array<{ x: number; y: number | null }>;
	color: string;
	dashed?: boolean;
	fill?: boolean | string;
	/** Second y axis (right), with its own unit. */
	right?: boolean;
	stack?: string;
}

const charts = new Set<Chart>();

const tickSteps = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200].map((s) => s * 1000);

/** Whole-second x ticks (at most ~10): m:ss labels never repeat. */
function xStep(series: Series[]): number {
	const max = Math.max(1000, ...series.flatMap((s) => s.points.map((p) => p.x)));
	return tickSteps.find((step) => max / step <= 10) ?? tickSteps.at(-1)!;
}

/** Charts render into fresh canvases; a page change destroys the old ones. */
export function destroyCharts(): void {
	for (const chart of charts) chart.destroy();
	charts.clear();
}

/**
 * A line chart over elapsed run time. The canvas gets data-points (how many points it drew),
 * which the dashboard tests read.
 */
export function lineChart(
	canvas: HTMLCanvasElement,
	options: {
		series: Series[];
		unit: string;
		rightUnit?: string;
		stacked?: boolean;
		min?: number;
		max?: number;
		/** x is a wall-clock time (epoch ms) rather than time since the run started. */
		clock?: { spanMs: number };
	},
): Chart {
	const clock = options.clock;
	const xLabel = (x: number) => (clock ? clockLabel(x, clock.spanMs) : elapsed(x));
	const datasets: Array<ChartDataset<'line', Array<{ x: number; y: number | null }>>> = options.series.map((s) => ({
		label: s.label,
		// A time bucket that began just before the run started is drawn at the start.
		data: s.points.map((p) => ({ x: clock ? p.x : Math.max(0, p.x), y: p.y })),
		borderColor: s.color,
		backgroundColor: s.fill ? `${s.color}55` : s.color,
		borderDash: s.dashed ? [5, 4] : undefined,
		borderWidth: 2,
		pointRadius: s.points.length > 60 ? 0 : 2,
		fill: s.fill ?? false,
		spanGaps: true,
		tension: 0.2,
		yAxisID: s.right ? 'y1' : 'y',
		stack: s.stack,
	}));
	const chart = new Chart(canvas, {
		type: 'line',
		data: { datasets },
		options: {
			parsing: false,
			normalized: true,
			interaction: { mode: 'index', intersect: false },
			plugins: {
				legend: { position: 'bottom', labels: { boxWidth: 14 } },
				tooltip: {
					callbacks: {
						title: (items) => (items[0] ? xLabel(items[0].parsed.x ?? 0) : ''),
						label: (item) => {
							const unit = item.dataset.yAxisID === 'y1' ? options.rightUnit : options.unit;
							return `${item.dataset.label}: ${item.parsed.y?.toFixed(2)} ${unit ?? ''}`;
						},
					},
				},
			},
			scales: {
				x: clock
					? { type: 'linear', title: { display: true, text: 'time' }, ticks: { callback: (v) => xLabel(Number(v)), maxTicksLimit: 10 } }
					: {
							type: 'linear',
							min: 0,
							title: { display: true, text: 'time since start (m:ss)' },
							ticks: { callback: (v) => elapsed(Number(v)), stepSize: xStep(options.series) },
						},
				y: {
					stacked: options.stacked,
					min: options.min,
					max: options.max,
					beginAtZero: true,
					title: { display: true, text: options.unit },
				},
				...(options.rightUnit
					? { y1: { position: 'right' as const, beginAtZero: true, grid: { drawOnChartArea: false }, title: { display: true, text: options.rightUnit } } }
					: {}),
			},
		},
	});
	canvas.dataset.points = String(options.series.reduce((n, s) => n + s.points.filter((p) => p.y !== null).length, 0));
	charts.add(chart);
	return chart;
}

export function barChart(
	canvas: HTMLCanvasElement,
	options: { labels: string[]; values: number[]; label: string; unit: string; xTitle: string; colors?: string[] },
): Chart {
	const chart = new Chart(canvas, {
		type: 'bar',
		data: { labels: options.labels, datasets: [{ label: options.label, data: options.values, backgroundColor: options.colors ?? palette.blue }] },
		options: {
			plugins: { legend: { display: false } },
			scales: {
				x: { title: { display: true, text: options.xTitle } },
				y: { beginAtZero: true, title: { display: true, text: options.unit }, ticks: { precision: 0 } },
			},
		},
	});
	canvas.dataset.points = String(options.values.filter((v) => v > 0).length);
	charts.add(chart);
	return chart;
}

/** The dashboard: runs list, run view, compare view; or a self-contained report from inline data. */
import { ApiUnavailable } from './api.ts';
import { destroyCharts } from './charts.ts';
import { message } from './dom.ts';
import { escapeHtml } from './format.ts';
import { appPage, appsPage } from './pages/apps.ts';
import { comparePage } from './pages/compare.ts';
import type { Page } from './pages/page.ts';
import { renderRun, runPage, type RunData } from './pages/run.ts';
import { runsPage } from './pages/runs.ts';
import './style.css';

declare global {
	interface Window {
		/** Set by `callswarm report`: the run, rendered with no network. */
		__CALLSWARM_REPORT__?: RunData & { generatedAt: string };
	}
}

const root = document.getElementById('app')!;
let refreshTimer: ReturnType<typeof setTimeout> | undefined;

function route(): Page {
	const [, section, a, b] = location.hash.replace(/^#\/?/, '/').split('/');
	if (section === 'runs' && a) return runPage(decodeURIComponent(a));
	if (section === 'compare' && a && b) return comparePage(decodeURIComponent(a), decodeURIComponent(b));
	if (section === 'apps' && a) return appPage(decodeURIComponent(a), b === '1d' || b === '7d' ? b : '1h');
	if (section === 'apps') return appsPage;
	return runsPage;
}

async function show(): Promise<void> {
	clearTimeout(refreshTimer);
	const page = route();
	const first = !root.dataset.rendered;
	if (first) root.innerHTML = message('loading', 'Loading…');
	let next: number | undefined;
	try {
		// Pages keep the old content until their data is in, so a refresh does not flash.
		await page.render(root, { refreshIn: (ms) => (next = ms) });
		root.dataset.rendered = '1';
		root.dataset.state = 'ready';
	} catch (error) {
		const unavailable = error instanceof ApiUnavailable;
		destroyCharts();
		root.innerHTML = message(
			'error',
			unavailable
				? `Cannot reach the collector: ${escapeHtml((error as Error).message)}. Retrying every 5 s…`
				: escapeHtml((error as Error).message),
		);
		root.dataset.state = 'error';
		if (unavailable) next = 5000;
	}
	if (next !== undefined) {
		refreshTimer = setTimeout(() => {
			// Keep a drill-down the reader chose: refresh only the untouched view.
			const drilling = [...root.querySelectorAll<HTMLSelectElement>('.drill select')].some((s) => s.value !== '');
			if (drilling) refreshTimer = setTimeout(() => void show(), next);
			else void show();
		}, next);
	}
}

const report = window.__CALLSWARM_REPORT__;
if (report) {
	document.title = `callswarm report: ${report.view.run.runId}`;
	document.getElementById('nav')?.remove();
	renderRun(root, report, { live: false });
	root.insertAdjacentHTML('beforeend', `<p class="note footer">Report generated ${escapeHtml(report.generatedAt)} by callswarm.</p>`);
	root.dataset.state = 'ready';
} else {
	window.addEventListener('hashchange', () => {
		delete root.dataset.rendered;
		void show();
	});
	void show();
}

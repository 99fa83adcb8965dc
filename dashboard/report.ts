import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { RunData } from './src/pages/run.ts';
import { bundleDashboard, dashboardDir } from './bundle.ts';

/** JSON that is safe inside a <script> element. */
function scriptJson(value: unknown): string {
	return JSON.stringify(value).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

/**
 * One self-contained HTML file: the dashboard's run view with chart.js, the styles and the run's
 * data inlined. It opens from disk with no network.
 */
export async function buildReport(data: RunData, generatedAt = new Date().toISOString()): Promise<string> {
	if (!existsSync(`${dashboardDir}/dashboard.js`)) await bundleDashboard();
	const [js, css] = await Promise.all([
		readFile(`${dashboardDir}/dashboard.js`, 'utf8'),
		readFile(`${dashboardDir}/dashboard.css`, 'utf8'),
	]);
	const title = `callswarm report: ${data.view.run.runId}`.replace(/[<&]/g, '');
	return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title}</title>
<style>${css}</style>
</head>
<body>
<main id="app"></main>
<script>window.__CALLSWARM_REPORT__ = ${scriptJson({ ...data, generatedAt })};</script>
<script>${js.replace(/<\/script/gi, '<\\/script')}</script>
</body>
</html>
`;
}

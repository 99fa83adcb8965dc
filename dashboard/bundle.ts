import { copyFile, mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

export const dashboardDir = fileURLToPath(new URL('../build/dashboard/', import.meta.url));

/** Bundles the dashboard (chart.js included) into build/dashboard/: index.html, dashboard.js, dashboard.css. */
export async function bundleDashboard(outDir = dashboardDir): Promise<void> {
	await mkdir(outDir, { recursive: true });
	await build({
		entryPoints: { dashboard: fileURLToPath(new URL('./src/main.ts', import.meta.url)) },
		outdir: outDir,
		bundle: true,
		format: 'iife',
		platform: 'browser',
		target: 'chrome110',
		minify: true,
		logLevel: 'warning',
	});
	await copyFile(fileURLToPath(new URL('./index.html', import.meta.url)), `${outDir}/index.html`);
}

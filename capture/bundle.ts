import { mkdir, readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

export const captureDir = fileURLToPath(new URL('../build/capture/', import.meta.url));
const injectFile = `${captureDir}/inject.js`;

/** Bundles the in-page capture into build/capture/inject.js (an IIFE for evaluateOnNewDocument). */
export async function bundleCapture(outDir = captureDir): Promise<void> {
	await mkdir(outDir, { recursive: true });
	await build({
		entryPoints: [fileURLToPath(new URL('./inject.ts', import.meta.url))],
		outfile: `${outDir}/inject.js`,
		bundle: true,
		format: 'iife',
		platform: 'browser',
		target: 'chrome110',
		minify: true,
		logLevel: 'warning',
	});
}

let source: Promise<string> | undefined;

/** The injectable capture script (bundled now when the install did not). */
export function captureScript(): Promise<string> {
	source ??= (async () => {
		if (!existsSync(injectFile)) await bundleCapture();
		return readFile(injectFile, 'utf8');
	})();
	return source;
}

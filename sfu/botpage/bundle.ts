import { copyFile, mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

export const botPageDir = fileURLToPath(new URL('../../build/botpage/', import.meta.url));

/** Bundles the bot page (mediasoup-client included) into build/botpage/. */
export async function bundleBotPage(outDir = botPageDir): Promise<void> {
	await mkdir(outDir, { recursive: true });
	await build({
		entryPoints: [fileURLToPath(new URL('./main.ts', import.meta.url))],
		outfile: `${outDir}/bot.js`,
		bundle: true,
		format: 'iife',
		platform: 'browser',
		target: 'chrome120',
		minify: true,
		sourcemap: 'linked',
		logLevel: 'warning',
	});
	await copyFile(fileURLToPath(new URL('./index.html', import.meta.url)), `${outDir}/index.html`);
}

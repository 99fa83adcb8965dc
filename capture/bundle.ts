import { mkdir, readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build, type BuildOptions, type Plugin } from 'esbuild';
import { CaptureConfig, type CaptureConfigInput } from '../protocol/capture.ts';
import { knownFields } from '../protocol/knownFields.ts';

export const captureDir = fileURLToPath(new URL('../build/capture/', import.meta.url));
const injectFile = `${captureDir}/inject.js`;
export const sdkFile = `${captureDir}/sdk.js`;

/** The known stats fields as a constant: pages get the list, not the schemas it comes from. */
const knownFieldsPlugin: Plugin = {
	name: 'callswarm-known-fields',
	setup(b) {
		b.onResolve({ filter: /\/knownFields\.ts$/ }, (args) => ({ path: args.path, namespace: 'callswarm-generated' }));
		b.onLoad({ filter: /.*/, namespace: 'callswarm-generated' }, () => ({
			contents: `export const knownFields = ${JSON.stringify(knownFields)};`,
			loader: 'js',
		}));
	},
};

/**
 * Bundles the in-page capture into build/capture/inject.js (an IIFE for evaluateOnNewDocument)
 * and the monitoring SDK into build/capture/sdk.js (an ES module the collector serves).
 */
export async function bundleCapture(outDir = captureDir): Promise<void> {
	await mkdir(outDir, { recursive: true });
	// The audio worklet runs in its own scope: bundled first, then carried by the capture as text.
	const worklet = await build({
		bundle: true,
		platform: 'browser',
		minify: true,
		logLevel: 'warning',
		write: false,
		format: 'esm',
		target: 'chrome110',
		entryPoints: [fileURLToPath(new URL('./audioWorklet.ts', import.meta.url))],
	});
	const common = {
		bundle: true,
		platform: 'browser',
		minify: true,
		logLevel: 'warning',
		plugins: [knownFieldsPlugin],
	} satisfies BuildOptions;
	await Promise.all([
		build({
			...common,
			entryPoints: [fileURLToPath(new URL('./inject.ts', import.meta.url))],
			outfile: `${outDir}/inject.js`,
			format: 'iife',
			target: 'chrome110',
			define: { __CALLSWARM_AUDIO_WORKLET__: JSON.stringify(worklet.outputFiles[0]!.text) },
		}),
		// Browsers of real users: the last few years of Chrome, Firefox and Safari.
		build({ ...common, entryPoints: [fileURLToPath(new URL('./sdk.ts', import.meta.url))], outfile: `${outDir}/sdk.js`, format: 'esm', target: ['chrome100', 'firefox100', 'safari15'] }),
	]);
}

/** The script a browser bot runs before the capture: the capture's config, validated here (the page does not check it). */
export function captureConfigScript(input: CaptureConfigInput): string {
	return `window.__callswarmCaptureConfig = ${JSON.stringify(CaptureConfig.parse(input))};`;
}

const bundled = new Map<string, Promise<string>>();

/** A bundle's text, bundled now when the install did not. */
function read(file: string): Promise<string> {
	let text = bundled.get(file);
	if (!text) {
		text = (async () => {
			if (!existsSync(file)) await bundleCapture();
			return readFile(file, 'utf8');
		})();
		bundled.set(file, text);
	}
	return text;
}

/** The injectable capture script. */
export const captureScript = (): Promise<string> => read(injectFile);

/** The monitoring SDK as the collector serves it. */
export const sdkScript = (): Promise<string> => read(sdkFile);

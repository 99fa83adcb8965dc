/**
 * Loads mediasoup with the worker binary that scripts/setup.sh built offline. mediasoup reads
 * MEDIASOUP_WORKER_BIN once, when its module is first evaluated, so the variable is set before
 * the dynamic import and nothing else in the project may import 'mediasoup' statically.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export type Mediasoup = typeof import('mediasoup');
export type * as types from 'mediasoup/types';

export const defaultWorkerBin = fileURLToPath(new URL('../build/mediasoup-worker', import.meta.url));

let loaded: Promise<Mediasoup> | undefined;

export function resolveWorkerBin(env: NodeJS.ProcessEnv = process.env): string {
	const bin = env.MEDIASOUP_WORKER_BIN || defaultWorkerBin;
	if (!existsSync(bin)) {
		throw new Error(
			`mediasoup worker binary not found at ${bin}: run "npm install" (scripts/setup.sh builds it) or set MEDIASOUP_WORKER_BIN`,
		);
	}
	return bin;
}

export function loadMediasoup(): Promise<Mediasoup> {
	if (!loaded) {
		process.env.MEDIASOUP_WORKER_BIN = resolveWorkerBin();
		loaded = import('mediasoup');
	}
	return loaded;
}

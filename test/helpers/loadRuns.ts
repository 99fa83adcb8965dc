import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll } from 'vitest';
import { LoadRun, type RunOutcome } from '../../loadgen/run/LoadRun.ts';
import type { Scenario } from '../../protocol/scenario.ts';
import { removeDir } from './tempDir.ts';

/** A data directory for the test file's runs, removed after its tests. */
export function runDataDir(name: string): string {
	const dataDir = mkdtempSync(path.join(os.tmpdir(), `callswarm-${name}-test-`));
	afterAll(() => removeDir(dataDir));
	return dataDir;
}

/**
 * A run started for a test, with what tests anchor their windows on: each group's first media
 * (the bots' own event, not the run's start) and the peers that reconnected.
 */
export function startWatchedRun(scenario: Scenario, dataDir: string): {
	run: LoadRun;
	outcome: Promise<RunOutcome>;
	firstMedia: Map<string, number>;
	reconnects: string[];
} {
	const run = new LoadRun({ scenario, dataDir });
	const firstMedia = new Map<string, number>();
	const reconnects: string[] = [];
	run.on('participant', (slot, event) => {
		if (event.type === 'first-media' && !firstMedia.has(slot.group.name)) firstMedia.set(slot.group.name, event.ts);
		if (event.type === 'reconnect') reconnects.push(slot.peerId);
	});
	return { run, outcome: run.execute(), firstMedia, reconnects };
}

/**
 * The generator's own start-up is not the run: drivers start their processes before the
 * schedule (the joins then use them), and saturation is judged from the schedule's start only.
 */
import { once } from 'node:events';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BrowserDriver } from '../../loadgen/browser/BrowserDriver.ts';
import { ConcurrencyLimit } from '../../loadgen/ConcurrencyLimit.ts';
import { CollectorClient } from '../../loadgen/CollectorClient.ts';
import type { DriverContext } from '../../loadgen/drivers.ts';
import { GeneratorMonitor, type GeneratorReading, type HealthLimits, type Saturation } from '../../loadgen/health/GeneratorMonitor.ts';
import { LiteDriver } from '../../loadgen/lite/LiteDriver.ts';
import type { Slot } from '../../loadgen/schedule/slots.ts';
import { TelemetrySender } from '../../loadgen/telemetry/TelemetrySender.ts';
import { networkPresets, Scenario } from '../../protocol/scenario.ts';
import type { ParticipantEvent } from '../../protocol/telemetry.ts';
import { startSfu } from '../../sfu/index.ts';
import { waitFor } from '../helpers/signaling.ts';
import { removeDir } from '../helpers/tempDir.ts';

const work = mkdtempSync(path.join(os.tmpdir(), 'callswarm-generator-start-'));
afterAll(() => removeDir(work));

/** The runner's lag is always over a limit below zero: every reading is "over". */
const alwaysOver: HealthLimits = { maxLagMs: -1, maxProcessCpuPct: 1e9, maxMachineCpuPct: 1e9, sustainMs: 200 };

async function readings(monitor: GeneratorMonitor, count: number): Promise<GeneratorReading[]> {
	const seen: GeneratorReading[] = [];
	while (seen.length < count) seen.push(((await once(monitor, 'reading')) as [GeneratorReading])[0]);
	return seen;
}

describe('GeneratorMonitor.judgeFrom', () => {
	it('records readings but judges nothing before the moment it is given', async () => {
		const monitor = new GeneratorMonitor(() => [], alwaysOver, 50);
		const saturations: Saturation[] = [];
		monitor.on('saturated', (s) => saturations.push(s));
		monitor.judgeFrom(Number.POSITIVE_INFINITY);
		monitor.start();
		try {
			// Ten readings span twice the sustain time: unjudged, none saturates.
			const before = await readings(monitor, 10);
			expect(before.every((r) => !r.saturated && r.runnerLagMs >= 0)).toBe(true);
			expect(saturations).toEqual([]);
			const from = Date.now();
			monitor.judgeFrom(from);
			const [saturation] = (await once(monitor, 'saturated')) as [Saturation];
			// The stretch over the limit counts from the judging start, not from the first reading over it.
			expect(saturation.at).toBeGreaterThanOrEqual(from);
			expect(saturation).toMatchObject({ process: 'runner', reason: expect.stringMatching(/^runner: event-loop lag p99 \d+ ms > -1 ms for \d+ s$/) });
			expect(monitor.saturation).toBe(saturation);
		} finally {
			monitor.stop();
		}
	});

	it('judges from the first reading when never told otherwise', async () => {
		const monitor = new GeneratorMonitor(() => [], alwaysOver, 50);
		const started = Date.now();
		monitor.start();
		try {
			const [saturation] = (await once(monitor, 'saturated')) as [Saturation];
			expect(saturation.at).toBeGreaterThanOrEqual(started);
		} finally {
			monitor.stop();
		}
	});
});

describe('ConcurrencyLimit', () => {
	it('runs at most its limit at once, in arrival order, and a failed task frees its turn', async () => {
		const limit = new ConcurrencyLimit(2);
		let running = 0;
		let peak = 0;
		const started: number[] = [];
		const gates = Array.from({ length: 5 }, () => {
			let resolve!: () => void;
			const promise = new Promise<void>((r) => (resolve = r));
			return { promise, resolve };
		});
		const tasks = gates.map((gate, i) =>
			limit.run(async () => {
				started.push(i);
				peak = Math.max(peak, ++running);
				await gate.promise;
				running--;
				if (i === 1) throw new Error('task 1 failed');
				return i;
			}),
		);
		await new Promise((r) => setImmediate(r));
		expect(started).toEqual([0, 1]);
		gates[1]!.resolve();
		await expect(tasks[1]).rejects.toThrow('task 1 failed');
		expect(started).toEqual([0, 1, 2]);
		for (const gate of gates) gate.resolve();
		expect(await Promise.all([tasks[0], tasks[2], tasks[3], tasks[4]])).toEqual([0, 2, 3, 4]);
		expect(started).toEqual([0, 1, 2, 3, 4]);
		expect(peak).toBe(2);
	});

	it('refuses a limit that is not a positive integer', () => {
		expect(() => new ConcurrencyLimit(0)).toThrow('limit must be a positive integer, got 0');
		expect(() => new ConcurrencyLimit(1.5)).toThrow(RangeError);
	});
});

/** A context for one driver against a fresh SFU; its telemetry goes nowhere (not what these tests are about). */
async function driverContext(runId: string) {
	const sfu = await startSfu({ port: 0, workers: 1, logLevel: 'none' });
	const sender = new TelemetrySender(new CollectorClient('http://127.0.0.1:9'), { flushIntervalMs: 60_000, maxBatchesPerRequest: 10, maxBufferedBatches: 10_000 });
	const events: Array<{ peerId: string; event: ParticipantEvent }> = [];
	const context: DriverContext = {
		runId,
		target: { kind: 'callswarm', signalingUrl: sfu.wsUrl, botPageUrl: sfu.botPageUrl },
		relayGroups: new Set(),
		turn: { listenIp: '127.0.0.1', relayIp: '127.0.0.1' },
		statsIntervalMs: 1000,
		sender,
		networkOf: () => ({ ...networkPresets.perfect }),
		onEvent: (slot, event) => events.push({ peerId: slot.peerId, event }),
		log: () => undefined,
	};
	const joined = (slots: Slot[]) => slots.every((s) => events.some((e) => e.peerId === s.peerId && e.event.type === 'join'));
	const close = async () => {
		await sender.close(0);
		await sfu.close();
	};
	return { context, joined, close };
}

describe('BrowserDriver.prepare', () => {
	it('launches every browser the run will fill, even when the schedule starts from zero, and the joins use them', async () => {
		const { context, joined, close } = await driverContext('prepare-browsers');
		const group = Scenario.parse({
			name: 'prepare',
			participants: [{ name: 'cam', bot: 'browser', count: 3, publish: '180p15' }],
			schedule: { executor: 'ramping-vus', stages: [{ duration: '30s', target: 3 }] },
		}).participants[0]!;
		const slots: Slot[] = [0, 1, 2].map((index) => ({ index, roomId: 'prepare', group, peerId: `cam-${index}` }));
		const browsers = new BrowserDriver(context, 2);
		try {
			// Three pages at two to a browser: two browsers, although no one joins at the schedule's start.
			expect(await browsers.prepare({ all: slots })).toBe(2);
			const prepared = browsers.processes().map((p) => p.pid);
			expect(prepared).toHaveLength(2);
			await browsers.join(slots[0]!);
			await waitFor(() => joined([slots[0]!]), 'the first browser bot to join', 60_000);
			expect(browsers.processes().map((p) => p.pid)).toEqual(prepared);
		} finally {
			await browsers.close();
			await close();
		}
	}, 120_000);

	it('shares a browser between groups that publish alike, and gives other media its own', async () => {
		const { context, close } = await driverContext('prepare-shared');
		const groups = Scenario.parse({
			name: 'prepare-shared',
			participants: [
				{ name: 'speakers', bot: 'browser', count: 1, publish: '180p15' },
				{ name: 'watchers', bot: 'browser', count: 1, publish: '180p15', subscribe: 'audio' },
				{ name: 'callers', bot: 'browser', count: 1, publish: 'audio-only' },
			],
			schedule: { executor: 'constant-vus', vus: 3, duration: '1m' },
		}).participants;
		const slots: Slot[] = groups.map((group, index) => ({ index, roomId: 'prepare', group, peerId: `${group.name}-${index}` }));
		const browsers = new BrowserDriver(context, 2);
		try {
			// Two 180p15 pages fill one browser whatever their groups; the audio-only page needs another fake camera.
			expect(await browsers.prepare({ all: slots })).toBe(2);
			expect(browsers.processes().map((p) => p.id.replace(/-\d+$/, '')).sort()).toEqual(['chromium-180p15', 'chromium-audio-only']);
		} finally {
			await browsers.close();
			await close();
		}
	}, 120_000);
});

describe('LiteDriver.prepare', () => {
	it('starts one process per core before the run, and the joins use those processes', async () => {
		const { context, joined, close } = await driverContext('prepare-test');
		const group = Scenario.parse({
			name: 'prepare',
			participants: [{ name: 'lite', bot: 'lite', count: 3, publish: 'audio-only' }],
			schedule: { executor: 'constant-vus', vus: 3, duration: '1m' },
		}).participants[0]!;
		const slots: Slot[] = [0, 1, 2].map((index) => ({ index, roomId: 'prepare', group, peerId: `lite-${index}` }));
		const lite = new LiteDriver(context, { botsPerProcess: 10, processesPerMachine: 2 });
		try {
			expect(await lite.prepare({ all: slots })).toBe(2);
			const prepared = lite.pids;
			expect(prepared).toHaveLength(2);
			for (const slot of slots) await lite.join(slot);
			expect(lite.pids).toEqual(prepared);
			// Spread over both prepared processes, none started for the joins.
			expect(new Set(slots.map((s) => lite.processOf(s)))).toEqual(new Set(prepared));
			await waitFor(() => joined(slots), 'the three lite bots to join', 60_000);
		} finally {
			await lite.close();
			await close();
		}
	}, 120_000);
});

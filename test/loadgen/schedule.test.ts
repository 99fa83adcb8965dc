import { describe, expect, it } from 'vitest';
import { parseInput } from '../../protocol/issues.ts';
import { parseDuration } from '../../protocol/durations.ts';
import { Executor, Scenario, type ScenarioInput } from '../../protocol/scenario.ts';
import { parseThreshold } from '../../protocol/thresholds.ts';
import { arrivalsBy, growthAt, scheduleDuration, targetAt } from '../../loadgen/schedule/executors.ts';
import { Membership, newlyWanted, type WantedPlaces } from '../../loadgen/schedule/Membership.ts';
import { buildSlots, slotsOfShard, type Slot } from '../../loadgen/schedule/slots.ts';
import { abortsRun, holds, parseThreshold as parse } from '../../protocol/thresholds.ts';

const executor = (value: unknown) => Executor.parse(value);
const scenario = (input: Partial<ScenarioInput>) =>
	Scenario.parse({ name: 't', participants: [{ count: 1 }], schedule: { executor: 'constant-vus', vus: 1, duration: '1s' }, ...input });

describe('durations', () => {
	it('parse k6 notation', () => {
		expect(parseDuration('30s')).toBe(30_000);
		expect(parseDuration('1m30s')).toBe(90_000);
		expect(parseDuration('2h')).toBe(7_200_000);
		expect(parseDuration('250ms')).toBe(250);
		expect(parseDuration('1.5s')).toBe(1500);
		expect(parseDuration('soon')).toBeUndefined();
		expect(parseDuration('')).toBeUndefined();
	});
});

describe('executors', () => {
	it('constant-vus holds its VUs for its duration', () => {
		const e = executor({ executor: 'constant-vus', vus: 5, duration: '10s' });
		expect(scheduleDuration(e)).toBe(10_000);
		expect(targetAt(e as never, 0)).toBe(5);
		expect(targetAt(e as never, 9_999)).toBe(5);
		expect(targetAt(e as never, 10_000)).toBe(0);
	});

	it('ramping-vus interpolates between stage targets', () => {
		const e = executor({ executor: 'ramping-vus', startVUs: 0, stages: [{ duration: '10s', target: 10 }, { duration: '10s', target: 10 }, { duration: '5s', target: 0 }] });
		expect(scheduleDuration(e)).toBe(25_000);
		expect(targetAt(e as never, 5_000)).toBe(5);
		expect(targetAt(e as never, 15_000)).toBe(10);
		expect(targetAt(e as never, 22_500)).toBe(5);
	});

	it('growth follows linear, exponential (doubling time) and logistic (ceiling) curves, then a plateau', () => {
		const linear = executor({ executor: 'growth', curve: 'linear', start: 2, ceiling: 12, duration: '10s', plateau: '5s' });
		expect(scheduleDuration(linear)).toBe(15_000);
		expect(targetAt(linear as never, 5_000)).toBe(7);
		expect(targetAt(linear as never, 12_000)).toBe(12);

		const exponential = executor({ executor: 'growth', curve: 'exponential', start: 1, ceiling: 64, duration: '60s', doublingTime: '10s' });
		expect(targetAt(exponential as never, 0)).toBe(1);
		expect(targetAt(exponential as never, 30_000)).toBe(8);
		expect(targetAt(exponential as never, 59_000)).toBe(60);
		expect(targetAt(exponential as never, 60_000)).toBe(64);

		const logistic = Executor.parse({ executor: 'growth', curve: 'logistic', start: 2, ceiling: 100, duration: '100s' }) as Extract<Executor, { executor: 'growth' }>;
		expect(growthAt(logistic, 0)).toBeCloseTo(2, 5);
		expect(growthAt(logistic, 50_000)).toBeGreaterThan(30);
		expect(growthAt(logistic, 50_000)).toBeLessThan(70);
		expect(growthAt(logistic, 99_999)).toBeGreaterThan(98);
		const values = [0, 20, 40, 60, 80, 100].map((s) => growthAt(logistic, s * 1000));
		expect([...values].sort((a, b) => a - b)).toEqual(values);
	});

	it('ramping-arrival-rate integrates the join rate', () => {
		const e = executor({ executor: 'ramping-arrival-rate', startRate: 0, timeUnit: '1s', stages: [{ duration: '10s', target: 2 }, { duration: '10s', target: 2 }] });
		// 0 -> 2 joins/s over 10 s = 10 joins, then 2/s for 10 s = 20 more.
		expect(arrivalsBy(e as never, 10_000)).toBe(10);
		expect(arrivalsBy(e as never, 20_000)).toBe(30);
		expect(arrivalsBy(e as never, 15_000)).toBe(20);
	});
});

describe('participant slots', () => {
	it('spread: the first joiners open different rooms; groups interleave in proportion', () => {
		const slots = buildSlots(
			scenario({
				rooms: { count: 2, fill: 'spread' },
				participants: [
					{ bot: 'browser', count: 2, publish: '360p30' },
					{ bot: 'lite', count: 6, publish: 'audio-only' },
				],
			}),
		);
		expect(slots).toHaveLength(16);
		expect(slots.slice(0, 4).map((s) => s.roomId)).toEqual(['room-1', 'room-2', 'room-1', 'room-2']);
		const room1 = slots.filter((s) => s.roomId === 'room-1').map((s) => s.group.bot);
		expect(room1.filter((b) => b === 'browser')).toHaveLength(2);
		// The browsers are not both last: one in the first half of the room's join order.
		expect(room1.slice(0, 4)).toContain('browser');
		expect(new Set(slots.map((s) => s.peerId)).size).toBe(16);
	});

	it('pack (the default): a room fills to its size before the next opens, so the first two joiners are together', () => {
		const slots = buildSlots(scenario({ rooms: { count: 4 }, participants: [{ count: 2 }] }));
		expect(slots.map((s) => s.roomId)).toEqual(['room-1', 'room-1', 'room-2', 'room-2', 'room-3', 'room-3', 'room-4', 'room-4']);
		const mixed = buildSlots(
			scenario({
				rooms: { count: 2 },
				participants: [
					{ bot: 'browser', count: 2, publish: '360p30' },
					{ bot: 'lite', count: 6, publish: 'audio-only' },
				],
			}),
		);
		expect(mixed.slice(0, 8).every((s) => s.roomId === 'room-1')).toBe(true);
		expect(mixed.slice(0, 4).map((s) => s.group.bot)).toContain('browser');
	});

	it('split deterministically into shards that cover every slot once', () => {
		const slots = buildSlots(scenario({ rooms: { count: 3 }, participants: [{ count: 5 }] }));
		const shards = [1, 2, 3].map((index) => slotsOfShard(slots, { index, count: 3 }));
		expect(shards.map((s) => s.length)).toEqual([5, 5, 5]);
		expect(new Set(shards.flat().map((s) => s.index)).size).toBe(15);
		expect(slotsOfShard(slots, { index: 2, count: 3 })).toEqual(shards[1]);
	});
});

describe('scenario validation', () => {
	it('names the bad field', () => {
		expect(() =>
			parseInput(Scenario, { name: 'x', participants: [{ count: 2, publish: '4k' }], schedule: { executor: 'constant-vus', vus: 1, duration: 'soon' } }, 'scenario x.json'),
		).toThrow(/participants\[0\]\.publish: .*schedule\.duration: "soon" is not a duration/s);
		expect(() =>
			parseInput(Scenario, { name: 'x', participants: [{ count: 1 }], schedule: { executor: 'constant-vus', vus: 1, duration: '1s' }, thresholds: { rtt: ['p(95)<1'] } }, 's'),
		).toThrow(/thresholds: Unrecognized key: "rtt"/);
		expect(() =>
			parseInput(Scenario, { name: 'x', participants: [{ count: 1 }], schedule: { executor: 'constant-vus', vus: 1, duration: '1s' }, thresholds: { rtt_ms: ['p95 < 1'] } }, 's'),
		).toThrow(/thresholds\.rtt_ms\[0\]\.threshold: must look like "p\(95\)<150"/);
		expect(() =>
			parseInput(Scenario, { name: 'x', participants: [{ count: 1 }], schedule: { executor: 'constant-vus', vus: 1, duration: '1s' }, thresholds: { join_failed: ['p(95)<1'] } }, 's'),
		).toThrow(/join_failed is a rate/);
	});

	it('resolves network presets and overrides', () => {
		const s = Scenario.parse({
			name: 'net',
			participants: [{ count: 1, network: { preset: '3g', lossPct: 10 } }, { count: 1, name: 'fast', network: 'wifi' }],
			schedule: { executor: 'constant-vus', vus: 1, duration: '1s' },
			networkChanges: [{ at: '5s', network: 'bad-3g', groups: ['fast'] }],
		});
		expect(s.participants[0]!.network).toEqual({ delayMs: 100, jitterMs: 30, lossPct: 10, rateKbps: 1500 });
		expect(s.participants[0]!.name).toBe('browser-360p30');
		expect(s.networkChanges[0]).toMatchObject({ at: 5000, network: { delayMs: 200 } });
		expect(() =>
			parseInput(
				Scenario,
				{ name: 'n', participants: [{ count: 1 }], schedule: { executor: 'constant-vus', vus: 1, duration: '1s' }, networkChanges: [{ at: '1s', network: 'wifi', groups: ['nobody'] }] },
				'scenario',
			),
		).toThrow(/networkChanges\[0\]\.groups: no participant group "nobody"/);
	});

	it('takes simulcast from browser bots that send video only, and a layer for any receiver', () => {
		const ok = scenario({ participants: [{ count: 1, simulcast: true, codec: 'VP8' }, { count: 2, bot: 'lite', publish: 'none', layer: 'low' }] });
		expect(ok.participants[0]).toMatchObject({ simulcast: true, layer: 'auto' });
		expect(ok.participants[1]).toMatchObject({ simulcast: false, layer: 'low' });
		const refused = (participants: unknown) => () =>
			parseInput(Scenario, { name: 's', participants, schedule: { executor: 'constant-vus', vus: 1, duration: '1s' } }, 'scenario');
		expect(refused([{ count: 1, bot: 'lite', simulcast: true }])).toThrow(/participants\[0\]\.simulcast: only browser bots send simulcast/);
		expect(refused([{ count: 1, publish: 'audio-only', simulcast: true }])).toThrow(/participants\[0\]\.simulcast: publish "audio-only" sends no video/);
		expect(refused([{ count: 1, publish: '180p15', simulcast: true }])).toThrow(/participants\[0\]\.simulcast: publish "180p15" \(320x180\) is too small for simulcast layers/);
		expect(scenario({ participants: [{ count: 1, publish: '180p15', simulcast: true, codec: 'VP9' }] }).participants[0]).toMatchObject({ simulcast: true });
		expect(refused([{ count: 1, layer: 'top' }])).toThrow(/participants\[0\]\.layer: /);
		expect(refused([{ count: 1, bot: 'lite', screenShare: true }])).toThrow(/participants\[0\]\.screenShare: only browser bots/);
		expect(refused([{ count: 1, audioTopN: 0 }])).toThrow(/participants\[0\]\.audioTopN: /);
		expect(scenario({ participants: [{ count: 3, bot: 'lite', audioTopN: 2, lastN: 1 }] }).participants[0]).toMatchObject({ audioTopN: 2, lastN: 1 });
	});

	it('takes viewers that send nothing, on a callswarm SFU only', () => {
		const ok = scenario({ participants: [{ count: 1, bot: 'lite' }, { count: 500, bot: 'viewer', lastN: 1 }] });
		expect(ok.participants[1]).toMatchObject({ bot: 'viewer', publish: 'none', subscribe: 'all', name: 'viewer-none', lastN: 1 });
		expect(ok.participants[0]).toMatchObject({ publish: '360p30' });
		const refused = (participants: unknown, target?: unknown) => () =>
			parseInput(Scenario, { name: 's', participants, schedule: { executor: 'constant-vus', vus: 1, duration: '1s' }, ...(target ? { target } : {}) }, 'scenario');
		expect(refused([{ count: 1, bot: 'viewer', publish: '180p15' }])).toThrow(/participants\[0\]\.publish: viewers only receive/);
		expect(refused([{ count: 1, bot: 'viewer', subscribe: 'none' }])).toThrow(/participants\[0\]\.subscribe: a viewer that subscribes to nothing/);
		expect(refused([{ count: 1, bot: 'viewer', audioTopN: 2 }])).toThrow(/participants\[0\]\.audioTopN: viewers receive every microphone/);
		expect(refused([{ count: 1, bot: 'viewer' }], { app: { url: 'https://app.test/{room}' } })).toThrow(/participants\[0\]\.bot: viewer bots speak callswarm signaling/);
	});

	it('takes end-to-end delay marks on or off, or each kind on its own (video only, browser bots only, by default)', () => {
		expect(scenario({}).e2e).toEqual({ video: true, audio: false, lite: false });
		expect(scenario({ e2e: true }).e2e).toEqual({ video: true, audio: true, lite: true });
		expect(scenario({ e2e: false }).e2e).toEqual({ video: false, audio: false, lite: false });
		expect(scenario({ e2e: { audio: true } }).e2e).toEqual({ video: true, audio: true, lite: true });
		expect(scenario({ e2e: { lite: false } }).e2e).toEqual({ video: true, audio: false, lite: false });
		// A parsed scenario parses again to itself (shards receive it parsed).
		expect(scenario({ e2e: scenario({ e2e: { video: false, audio: true } }).e2e }).e2e).toEqual({ video: false, audio: true, lite: true });
		expect(scenario({ e2e: scenario({}).e2e }).e2e).toEqual({ video: true, audio: false, lite: false });
		const refused = (e2e: unknown) => () =>
			parseInput(Scenario, { name: 's', participants: [{ count: 1 }], schedule: { executor: 'constant-vus', vus: 1, duration: '1s' }, e2e }, 'scenario');
		expect(refused({ audo: false })).toThrow(/e2e/);
		expect(refused('yes')).toThrow(/e2e/);
	});

	it('parses k6 threshold expressions', () => {
		expect(parseThreshold('p(95)<150')).toMatchObject({ aggregation: 'p', percentile: 95, operator: '<', value: 150 });
		expect(parseThreshold('p(99.9) <= 300')).toMatchObject({ percentile: 99.9, operator: '<=' });
		expect(parseThreshold('rate<0.01')).toMatchObject({ aggregation: 'rate', value: 0.01 });
		expect(parseThreshold('avg>=-1')).toMatchObject({ aggregation: 'avg', operator: '>=', value: -1 });
		expect(parseThreshold('p(95)')).toBeUndefined();
	});
});

describe('ready scenarios', () => {
	it('all validate', async () => {
		const { readdirSync } = await import('node:fs');
		const { loadScenario } = await import('../../loadgen/scenario/load.ts');
		const files = readdirSync('scenarios').filter((f) => f.endsWith('.ts'));
		expect(files).toEqual(expect.arrayContaining(['smoke.ts', 'ramp.ts', 'growth.ts', 'impaired-3g.ts', 'audio-large.ts', 'hybrid.ts']));
		for (const file of files) {
			const scenario = await loadScenario(`scenarios/${file}`);
			expect(scenario.name).toBe(file.replace(/\.ts$/, ''));
		}
	});
});

describe('membership: who the schedule wants in calls', () => {
	/** The run's place numbers of the wanted positions. */
	const placesOf = (slots: Slot[], wanted: WantedPlaces) => slots.slice(wanted.from, wanted.to).map((slot) => slot.index);

	it('wants the first target places of the whole run, of which a shard keeps its own', () => {
		const s = scenario({ rooms: { count: 2 }, participants: [{ count: 3 }], schedule: { executor: 'ramping-vus', stages: [{ duration: '10s', target: 6 }] } });
		const slots = buildSlots(s);
		const all = new Membership(s.schedule, slots, slots.length);
		expect(placesOf(slots, all.wanted(5_000))).toEqual([0, 1, 2]);
		expect(placesOf(slots, all.wanted(10_000))).toEqual([0, 1, 2, 3, 4, 5]);
		const mine = slotsOfShard(slots, { index: 2, count: 2 });
		const shard = new Membership(s.schedule, mine, slots.length);
		expect(placesOf(mine, shard.wanted(5_000))).toEqual([1]);
		expect(placesOf(mine, shard.wanted(10_000))).toEqual([1, 3, 5]);
	});

	it('lets the last places go when a VU target falls, and takes them again when it rises; counts who joins anew', () => {
		const s = scenario({
			participants: [{ count: 6 }],
			schedule: {
				executor: 'ramping-vus',
				stages: [
					{ duration: '6s', target: 6 },
					{ duration: '4s', target: 2 },
					{ duration: '4s', target: 6 },
				],
			},
		});
		const slots = buildSlots(s);
		const membership = new Membership(s.schedule, slots, slots.length);
		const peak = membership.wanted(6_000);
		expect(placesOf(slots, peak)).toEqual([0, 1, 2, 3, 4, 5]);
		const low = membership.wanted(10_000);
		expect(placesOf(slots, low)).toEqual([0, 1]);
		expect(newlyWanted(peak, low)).toEqual([]);
		const again = membership.wanted(14_000);
		expect(placesOf(slots, again)).toEqual([0, 1, 2, 3, 4, 5]);
		// The four that left join again: the run of positions after the two that stayed.
		expect(newlyWanted(low, again)).toEqual([{ from: 2, to: 6 }]);
	});

	it("lets arrivals stay for holdTime under ramping-arrival-rate, counted from each one's arrival", () => {
		const s = scenario({
			participants: [{ count: 10 }],
			schedule: { executor: 'ramping-arrival-rate', startRate: 1, timeUnit: '1s', stages: [{ duration: '10s', target: 1 }], holdTime: '3s' },
		});
		const slots = buildSlots(s);
		const membership = new Membership(s.schedule, slots, slots.length);
		for (let t = 0; t <= 2_000; t += 250) membership.wanted(t);
		const early = membership.wanted(2_000);
		expect(placesOf(slots, early)).toEqual([0, 1]);
		for (let t = 2_250; t <= 5_000; t += 250) membership.wanted(t);
		// Arrived at 1 s, 2 s, ..., 5 s; the first ones have used up their 3 s.
		const later = membership.wanted(5_000);
		expect(placesOf(slots, later)).toEqual([2, 3, 4]);
		expect(newlyWanted(early, later)).toEqual([{ from: 2, to: 5 }]);
	});

	it('refuses to be asked about an earlier moment (what it remembers of arrivals only goes forward)', () => {
		const s = scenario({ participants: [{ count: 2 }], schedule: { executor: 'ramping-arrival-rate', startRate: 1, timeUnit: '1s', stages: [{ duration: '2s', target: 1 }] } });
		const slots = buildSlots(s);
		const membership = new Membership(s.schedule, slots, slots.length);
		membership.wanted(2_000);
		expect(() => membership.wanted(1_000)).toThrow(/time only goes forward/);
	});
});

describe('threshold verdicts', () => {
	it('fail on no data (except count), and abort only on data', () => {
		expect(holds(parse('p(95)<150')!, 120)).toBe(true);
		expect(holds(parse('p(95)<150')!, null)).toBe(false);
		expect(holds(parse('count<5')!, null)).toBe(true);
		expect(holds(parse('count>0')!, null)).toBe(false);
		expect(abortsRun({ ok: false, samples: 0 })).toBe(false);
		expect(abortsRun({ ok: false, samples: 12 })).toBe(true);
		expect(abortsRun({ ok: true, samples: 12 })).toBe(false);
	});
});

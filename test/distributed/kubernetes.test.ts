/** `callswarm k8s`: manifests valid against Kubernetes' schemas, wired index → shard, sized from the bench figures. */
import { parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import { Job } from 'kubernetes-models/batch/v1';
import { RunEnv, shardOf } from '../../cli/commands/run.ts';
import { main } from '../../cli/main.ts';
import { manifests, manifestsYaml } from '../../infrastructure/kubernetes.ts';
import { loadScenario } from '../../loadgen/scenario/load.ts';
import { estimate } from '../../loadgen/sizing/preflight.ts';
import { buildSlots, slotsOfShard } from '../../loadgen/schedule/slots.ts';
import { Scenario } from '../../protocol/scenario.ts';

const kinds = (list: Array<{ kind: string }>) => list.map((m) => m.kind);

describe('Kubernetes manifests', () => {
	it('are valid against Kubernetes’ schemas, an Indexed Job of n shards starting together', async () => {
		const scenario = await loadScenario('scenarios/hybrid.ts');
		const list = manifests({ scenario, shards: 4, image: 'registry.example.com/callswarm:0.1.0', runId: 'Launch-RC4', namespace: 'load', token: 't0ken' });
		expect(kinds(list)).toEqual(['Secret', 'ConfigMap', 'PersistentVolumeClaim', 'Deployment', 'Service', 'Deployment', 'Service', 'Job']);
		for (const m of list) {
			expect(() => m.validate()).not.toThrow();
			expect(m.metadata?.namespace).toBe('load');
			expect(m.metadata?.name).toMatch(/^callswarm-launch-rc4-[a-z-]+$/);
		}
		const job = list.find((m): m is Job => m.kind === 'Job')!;
		expect(job.spec).toMatchObject({ completionMode: 'Indexed', completions: 4, parallelism: 4, backoffLimit: 0 });
		const pod = job.spec!.template.spec!;
		const container = pod.containers[0]!;
		expect(container.args).toEqual([
			'run', '/scenario/scenario.json', '--run-id', 'Launch-RC4', '--start-at', 'all-ready',
			'--collector', 'http://callswarm-launch-rc4-collector:4100', '--sfu', 'http://callswarm-launch-rc4-sfu:4000',
			'--data-dir', '/tmp/callswarm', '--out', '/tmp/callswarm-out',
		]);
		expect(container.env).toContainEqual({ name: 'CALLSWARM_SHARD_COUNT', value: '4' });
		expect(container.env).toContainEqual({ name: 'CALLSWARM_COLLECTOR_TOKEN', valueFrom: { secretKeyRef: { name: 'callswarm-launch-rc4-token', key: 'token' } } });
		// Sized from the measured costs of the busiest shard's bots.
		const sizing = estimate(scenario, { shard: { index: 1, count: 4 }, bundledSfu: false, localCollector: false });
		expect(container.resources!.requests!.cpu).toBe(`${Math.max(100, Math.ceil((sizing.cores * 1000) / 100) * 100)}m`);
		expect(container.resources!.requests!.memory).toBe(`${Math.ceil(sizing.mib / 64) * 64}Mi`);
		expect(pod.volumes).toContainEqual({ name: 'shm', emptyDir: { medium: 'Memory', sizeLimit: '1Gi' } });
		// The scenario travels as JSON and means the same there.
		const config = list.find((m) => m.kind === 'ConfigMap') as { data?: Record<string, string> };
		expect(Scenario.parse(JSON.parse(config.data!['scenario.json']!))).toEqual(scenario);
		// The YAML reads back as the same objects.
		const docs = parseAllDocuments(manifestsYaml(list)).map((d) => d.toJSON());
		expect(docs).toEqual(list.map((m) => m.toJSON()));
	});

	it('wires each pod’s completion index to its shard', async () => {
		const scenario = await loadScenario('scenarios/hybrid.ts');
		const all = buildSlots(scenario);
		const seen = new Set<string>();
		for (let index = 0; index < 4; index++) {
			const shard = shardOf(undefined, RunEnv.parse({ JOB_COMPLETION_INDEX: String(index), CALLSWARM_SHARD_COUNT: '4' }))!;
			expect(shard).toEqual({ index: index + 1, count: 4 });
			for (const slot of slotsOfShard(all, shard)) {
				expect(seen.has(slot.peerId)).toBe(false);
				seen.add(slot.peerId);
			}
		}
		expect(seen.size).toBe(all.length);
		expect(() => shardOf(undefined, RunEnv.parse({ JOB_COMPLETION_INDEX: '4', CALLSWARM_SHARD_COUNT: '4' }))).toThrow(/beyond CALLSWARM_SHARD_COUNT/);
		expect(shardOf({ index: 2, count: 3 }, RunEnv.parse({ JOB_COMPLETION_INDEX: '0', CALLSWARM_SHARD_COUNT: '4' }))).toEqual({ index: 2, count: 3 });
	});

	it('leaves out what the user runs elsewhere, and schema checks catch a bad object', async () => {
		const scenario = await loadScenario('scenarios/smoke.ts');
		const list = manifests({ scenario, shards: 2, image: 'callswarm:dev', runId: 'r1', collectorUrl: 'https://collector.example.com', sfuUrl: 'http://sfu.example.com:4000', tokenSecret: 'mine' });
		expect(kinds(list)).toEqual(['ConfigMap', 'Job']);
		const withClickHouse = manifests({ scenario, shards: 2, image: 'callswarm:dev', runId: 'r1', clickhouseUrl: 'https://ch.example.com:8443' });
		expect(kinds(withClickHouse)).not.toContain('PersistentVolumeClaim');
		const broken = new Job({ metadata: { name: 'x' }, spec: { completions: 'two' as unknown as number, template: { spec: { containers: [] } } } });
		expect(() => broken.validate()).toThrow();
		Scenario.parse(JSON.parse((list[0] as { data?: Record<string, string> }).data!['scenario.json']!));
	});

	it('writes them from the CLI, and names bad flags', async () => {
		const out: string[] = [];
		const write = process.stdout.write.bind(process.stdout);
		process.stdout.write = ((chunk: string) => (out.push(String(chunk)), true)) as typeof process.stdout.write;
		try {
			expect(await main(['k8s', 'scenarios/ramp.ts', '--shards', '3', '--image', 'callswarm:0.1.0'], {})).toBe(0);
		} finally {
			process.stdout.write = write;
		}
		expect(out.join('')).toMatch(/kind: Job[\s\S]*completionMode: Indexed/);
		const errors: string[] = [];
		const writeErr = process.stderr.write.bind(process.stderr);
		process.stderr.write = ((chunk: string) => (errors.push(String(chunk)), true)) as typeof process.stderr.write;
		try {
			expect(await main(['k8s', 'scenarios/ramp.ts', '--shards', '0', '--image', 'callswarm'], {})).toBe(2);
		} finally {
			process.stderr.write = writeErr;
		}
		expect(errors.join('')).toMatch(/shards/);
	});
});

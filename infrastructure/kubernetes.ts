/**
 * Kubernetes manifests for a multi-machine run, k6-operator's way: an Indexed Job whose
 * completion index is the shard, every pod starting the schedule once all are ready (the
 * collector's barrier), a collector Deployment and Service (with a PersistentVolumeClaim, or a
 * ClickHouse server by URL), and the bundled SFU when the scenario tests it. Typed with and
 * validated against Kubernetes' published schemas (kubernetes-models); resources are sized
 * from the bench figures (loadgen/sizing).
 */
import { randomBytes } from 'node:crypto';
import { ConfigMap, PersistentVolumeClaim, Secret, Service, type IContainer, type IEnvVar } from 'kubernetes-models/v1';
import { Deployment } from 'kubernetes-models/apps/v1';
import { Job } from 'kubernetes-models/batch/v1';
import { stringify } from 'yaml';
import { estimate } from '../loadgen/sizing/preflight.ts';
import type { Scenario } from '../protocol/scenario.ts';

export interface ManifestOptions {
	scenario: Scenario;
	shards: number;
	image: string;
	runId: string;
	namespace?: string;
	/** A collector outside the cluster (or already running): no collector Deployment. */
	collectorUrl?: string;
	/** The collector stores in this ClickHouse server (no volume). */
	clickhouseUrl?: string;
	/** An SFU to test instead of the bundled one. */
	sfuUrl?: string;
	/** An existing Secret with key "token" (the collector's run token); default: one is generated. */
	tokenSecret?: string;
	/** The collector's volume size. */
	storage?: string;
	/** For tests: the generated token. */
	token?: string;
}

export type Manifest = ConfigMap | PersistentVolumeClaim | Secret | Service | Deployment | Job;

const collectorPort = 4100;
const sfuPort = 4000;
/** Media ports of the bundled SFU in a pod (pod-to-pod traffic: no Service needed for them). */
const sfuRtcPorts = '40000-40999';

/** A DNS-1123 name from free text. */
const dnsName = (text: string) =>
	text
		.toLowerCase()
		.replace(/[^a-z0-9-]+/g, '-')
		.replace(/^-+|-+$/g, '')
		.slice(0, 52);

const cpu = (cores: number) => `${Math.max(100, Math.ceil((cores * 1000) / 100) * 100)}m`;
const memory = (mib: number) => `${Math.max(128, Math.ceil(mib / 64) * 64)}Mi`;

export function manifests(o: ManifestOptions): Manifest[] {
	const name = dnsName(`callswarm-${o.runId}`);
	const labels = { 'app.kubernetes.io/name': 'callswarm', 'app.kubernetes.io/instance': name };
	const meta = (suffix: string, component: string) => ({
		name: `${name}-${suffix}`,
		...(o.namespace ? { namespace: o.namespace } : {}),
		labels: { ...labels, 'app.kubernetes.io/component': component },
	});
	const secretName = o.tokenSecret ?? `${name}-token`;
	const tokenEnv: IEnvVar = { name: 'CALLSWARM_COLLECTOR_TOKEN', valueFrom: { secretKeyRef: { name: secretName, key: 'token' } } };
	const out: Manifest[] = [];
	if (!o.tokenSecret) {
		out.push(new Secret({ metadata: meta('token', 'secret'), type: 'Opaque', stringData: { token: o.token ?? randomBytes(24).toString('hex') } }));
	}
	out.push(new ConfigMap({ metadata: meta('scenario', 'scenario'), data: { 'scenario.json': JSON.stringify(o.scenario, null, 2) } }));

	let collectorUrl = o.collectorUrl;
	if (!collectorUrl) {
		const collector = meta('collector', 'collector');
		const selector = { ...labels, 'app.kubernetes.io/component': 'collector' };
		if (!o.clickhouseUrl) {
			out.push(
				new PersistentVolumeClaim({
					metadata: meta('collector-data', 'collector'),
					spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: o.storage ?? '50Gi' } } },
				}),
			);
		}
		const container: IContainer = {
			name: 'collector',
			image: o.image,
			args: ['serve', '--listen', '0.0.0.0', '--port', String(collectorPort), '--allow-plain-http', '--data-dir', '/data'],
			env: [tokenEnv, ...(o.clickhouseUrl ? [{ name: 'CLICKHOUSE_URL', value: o.clickhouseUrl }] : [])],
			ports: [{ name: 'http', containerPort: collectorPort }],
			readinessProbe: { tcpSocket: { port: collectorPort }, periodSeconds: 5 },
			resources: { requests: { cpu: '1', memory: '2Gi' }, limits: { memory: '4Gi' } },
			volumeMounts: [{ name: 'data', mountPath: '/data' }],
		};
		out.push(
			new Deployment({
				metadata: collector,
				spec: {
					replicas: 1,
					// One writer of the embedded store at a time.
					strategy: { type: 'Recreate' },
					selector: { matchLabels: selector },
					template: {
						metadata: { labels: selector },
						spec: {
							containers: [container],
							volumes: [o.clickhouseUrl ? { name: 'data', emptyDir: {} } : { name: 'data', persistentVolumeClaim: { claimName: `${name}-collector-data` } }],
						},
					},
				},
			}),
			new Service({ metadata: collector, spec: { selector, ports: [{ name: 'http', port: collectorPort, targetPort: collectorPort }] } }),
		);
		collectorUrl = `http://${collector.name}:${collectorPort}`;
	}

	let sfuUrl = o.sfuUrl ?? (typeof o.scenario.target === 'string' && o.scenario.target !== 'bundled' ? o.scenario.target : undefined);
	if (!sfuUrl && o.scenario.target === 'bundled') {
		const sfu = meta('sfu', 'sfu');
		const selector = { ...labels, 'app.kubernetes.io/component': 'sfu' };
		const sizing = estimate(o.scenario, { bundledSfu: true, localCollector: false }).lines.find((l) => l.what.startsWith('bundled SFU'))!;
		out.push(
			new Deployment({
				metadata: sfu,
				spec: {
					replicas: 1,
					selector: { matchLabels: selector },
					template: {
						metadata: { labels: selector },
						spec: {
							containers: [
								{
									name: 'sfu',
									image: o.image,
									// Bots reach the media ports pod to pod, at the pod's own address.
									args: ['sfu', '--listen', '0.0.0.0', '--port', String(sfuPort), '--announced-address', '$(POD_IP)', '--rtc-ports', sfuRtcPorts],
									env: [{ name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } }],
									ports: [{ name: 'http', containerPort: sfuPort }],
									readinessProbe: { httpGet: { path: '/healthz', port: sfuPort }, periodSeconds: 5 },
									resources: { requests: { cpu: cpu(Math.max(1, sizing.cores)), memory: memory(sizing.mib + 256) } },
								},
							],
						},
					},
				},
			}),
			new Service({ metadata: sfu, spec: { selector, ports: [{ name: 'http', port: sfuPort, targetPort: sfuPort }] } }),
		);
		sfuUrl = `http://${sfu.name}:${sfuPort}`;
	}

	// Every pod is sized for the busiest shard (shard 1 gets the extra participant when they do not divide evenly).
	const sizing = estimate(o.scenario, { shard: { index: 1, count: o.shards }, bundledSfu: false, localCollector: false });
	const runner = meta('shards', 'load-generator');
	out.push(
		new Job({
			metadata: runner,
			spec: {
				completionMode: 'Indexed',
				completions: o.shards,
				parallelism: o.shards,
				// A shard that dies is reported lost by the collector (the run is then invalid); a retry would run its part late.
				backoffLimit: 0,
				ttlSecondsAfterFinished: 86_400,
				template: {
					metadata: { labels: { ...labels, 'app.kubernetes.io/component': 'load-generator' } },
					spec: {
						restartPolicy: 'Never',
						containers: [
							{
								name: 'shard',
								image: o.image,
								args: [
									'run',
									'/scenario/scenario.json',
									'--run-id',
									o.runId,
									'--start-at',
									'all-ready',
									'--collector',
									collectorUrl,
									...(sfuUrl ? ['--sfu', sfuUrl] : []),
									'--data-dir',
									'/tmp/callswarm',
									'--out',
									'/tmp/callswarm-out',
								],
								// The shard is JOB_COMPLETION_INDEX + 1 (Kubernetes sets the index in each pod).
								env: [{ name: 'CALLSWARM_SHARD_COUNT', value: String(o.shards) }, tokenEnv],
								resources: {
									requests: { cpu: cpu(sizing.cores), memory: memory(sizing.mib) },
									limits: { memory: memory(sizing.mib * 1.5) },
								},
								volumeMounts: [
									{ name: 'scenario', mountPath: '/scenario', readOnly: true },
									// Chromium needs more shared memory than a container's default 64 MiB.
									{ name: 'shm', mountPath: '/dev/shm' },
								],
							},
						],
						volumes: [
							{ name: 'scenario', configMap: { name: `${name}-scenario` } },
							{ name: 'shm', emptyDir: { medium: 'Memory', sizeLimit: '1Gi' } },
						],
					},
				},
			},
		}),
	);
	for (const manifest of out) manifest.validate();
	return out;
}

/** The manifests as one multi-document YAML file for `kubectl apply -f`. */
export function manifestsYaml(list: Manifest[]): string {
	return list.map((m) => stringify(m.toJSON())).join('---\n');
}

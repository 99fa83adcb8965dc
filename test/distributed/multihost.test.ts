/**
 * A multi-machine run on one machine: network namespaces on one switched LAN stand in for
 * hosts (SFU, collector, two load-generator shards), every process reaches the others by its
 * LAN address with tokens, nothing over loopback. One verdict for the run, every participant's
 * telemetry stored, and a shard killed mid-run reported as lost.
 */
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CollectorClient } from '../../loadgen/CollectorClient.ts';
import { createLan, netnsUnavailable, type Host, type HostProcess, type Lan } from '../helpers/netns.ts';
import { waitFor } from '../helpers/signaling.ts';
import { removeDir } from '../helpers/tempDir.ts';

const unavailable = netnsUnavailable();
const work = mkdtempSync(path.join(os.tmpdir(), 'callswarm-multihost-'));
const token = 'a-long-enough-run-token-for-the-lan';
let lan: Lan;
let sfuHost: Host;
let collectorHost: Host;
let generators: Host[];
let collectorUrl: string;
let client: CollectorClient;

const callswarm = (host: Host, args: string[]): HostProcess => lan.spawn(host, process.execPath, [path.resolve('bin/callswarm.js'), ...args]);

/**
 * Both shards of a run, one per generator host, starting together once both are ready: the four
 * hosts share this machine's two cores, and a start at a fixed time could fall while the other
 * shard is still starting (its Node process, its bots), which holds the machine over its limit.
 */
function startShards(runId: string): HostProcess[] {
	const startAt = 'all-ready';
	return generators.map((host, i) =>
		callswarm(host, [
			'run', 'test/fixtures/scenarios/distributed.ts', '--shard', `${i + 1}/2`, '--run-id', runId, '--start-at', startAt,
			'--collector', collectorUrl, '--token', token, '--sfu', `http://${sfuHost.address}:4000`,
			'--data-dir', path.join(work, `gen-${i}`), '--out', path.join(work, `${runId}-${i}`),
		]),
	);
}

beforeAll(async () => {
	if (unavailable) return;
	lan = await createLan(4);
	[sfuHost, collectorHost, ...generators] = lan.hosts as [Host, Host, Host, Host];
	callswarm(sfuHost, ['sfu', '--listen', sfuHost.address, '--port', '4000', '--announced-address', sfuHost.address, '--workers', '1', '--log-level', 'error']);
	callswarm(collectorHost, ['serve', '--listen', collectorHost.address, '--port', '4100', '--token', token, '--allow-plain-http', '--data-dir', path.join(work, 'collector')]);
	collectorUrl = `http://${collectorHost.address}:4100`;
	client = new CollectorClient(collectorUrl, token);
	await waitFor(async () => (await fetch(`${collectorUrl}/healthz`).catch(() => undefined))?.ok, 'the collector on its host', 60_000);
	await waitFor(async () => (await fetch(`http://${sfuHost.address}:4000/healthz`).catch(() => undefined))?.ok, 'the SFU on its host', 60_000);
}, 180_000);

afterAll(async () => {
	await lan?.close();
	removeDir(work);
});

describe.skipIf(unavailable !== undefined)(`a run over four hosts${unavailable ? ` (skipped: ${unavailable})` : ''}`, () => {
	it('gives one verdict over both shards, with every participant’s telemetry', async () => {
		const shards = startShards('lan-run');
		const codes = await Promise.all(shards.map((s) => s.exited));
		expect(codes, shards.map((s) => s.output.slice(-15).join('\n')).join('\n----\n')).toEqual([0, 0]);
		for (const shard of shards) expect(shard.output.join('\n')).toMatch(/PASSED/);
		const waited = callswarm(generators[0]!, ['wait', 'lan-run', '--collector', collectorUrl, '--token', token]);
		expect(await waited.exited, waited.output.join('\n')).toBe(0);
		const run = await client.run('lan-run');
		expect(run).toMatchObject({ status: 'passed', participants: 4, plannedParticipants: 4 });
		expect(run.verdict.find((t) => t.metric === 'join_ms')).toMatchObject({ ok: true, value: 4 });
		// Every participant sent telemetry from its own host, through the LAN.
		const peers = await client.peers('lan-run');
		expect(peers.peers.map((p) => p.peerId).sort()).toEqual(['listener-0001', 'listener-0003', 'speaker-0000', 'speaker-0002']);
		for (const peer of peers.peers) expect(peer.rttMs, peer.peerId).not.toBeNull();
		const state = await client.coordination('lan-run');
		expect(new Set(state.shards.map((s) => s.generator))).toEqual(new Set([os.hostname()]));
		expect(state.shards.map((s) => s.state)).toEqual(['finished', 'finished']);
	});

	it('reports a shard killed mid-run as lost, and the run invalid', async () => {
		const shards = startShards('lan-lost');
		// Killed once its participants are in the call (its own report says so).
		await waitFor(async () => (await client.coordination('lan-lost').catch(() => undefined))?.shards[1]?.joined === 2, 'shard 2 in the call', 90_000);
		shards[1]!.child.kill('SIGKILL');
		expect(await shards[0]!.exited, shards[0]!.output.slice(-15).join('\n')).toBe(3);
		expect(shards[0]!.output.join('\n')).toMatch(/shard 2 of 2 lost/);
		const run = await client.run('lan-lost');
		expect(run.status).toBe('invalid');
		expect(run.statusReason).toMatch(/shard 2 of 2 lost \(no heartbeat for \d+s\)/);
		const waited = callswarm(generators[0]!, ['wait', 'lan-lost', '--collector', collectorUrl, '--token', token]);
		expect(await waited.exited).toBe(3);
	});
});

/** callswarm apps / alerts / delete against a running collector, in process. */
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../cli/main.ts';
import { startCollector, type Collector } from '../../collector/index.ts';
import { removeDir } from '../helpers/tempDir.ts';

const work = mkdtempSync(path.join(os.tmpdir(), 'callswarm-apps-cli-'));
const token = 'a-long-enough-admin-token';
let collector: Collector;

/** Runs the CLI; returns its exit code and what it printed. */
async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
	const out: string[] = [];
	const err: string[] = [];
	const log = vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void out.push(a.join(' ')));
	const write = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => (err.push(String(chunk)), true));
	try {
		const code = await main([...argv, '--collector', collector.url, '--token', token], {});
		return { code, out: out.join('\n'), err: err.join('') };
	} finally {
		log.mockRestore();
		write.mockRestore();
	}
}

beforeAll(async () => {
	collector = await startCollector({ port: 0, token, dataDir: path.join(work, 'data'), logLevel: 'silent' });
});

afterAll(async () => {
	await collector?.close();
	removeDir(work);
});

describe('callswarm apps, alerts and delete', () => {
	it('creates an app with a key, lists and revokes keys', async () => {
		const created = await cli('apps', 'create', 'acme', '--origins', 'https://app.acme.com,https://beta.acme.com', '--retention-days', '14', '--sample', '0.5');
		expect(created.code).toBe(0);
		expect(created.out).toMatch(/acme .*https:\/\/app\.acme\.com https:\/\/beta\.acme\.com +14 d +7 d +0\.5/);
		const keyId = /ingest key ([0-9a-f]{8})/.exec(created.out)![1]!;
		expect(created.out).toMatch(/csk_[0-9a-f]{8}_[0-9a-f]{40}/);
		const keys = await cli('apps', 'keys', 'acme');
		expect(keys.out).toContain(keyId);
		expect(keys.out).not.toMatch(/csk_/);
		expect((await cli('apps', 'revoke', 'acme', keyId)).out).toMatch(/revoked/);
		expect((await cli('apps', 'list')).out).toMatch(/^acme/m);
		expect((await cli('apps', 'view', 'acme')).out).toMatch(/0 calls in the last 1h/);
	});

	it('names bad input: app id, flags, unknown commands', async () => {
		const bad = await cli('apps', 'create', 'Acme Inc');
		expect(bad.code).toBe(2);
		expect(bad.err).toMatch(/app id.*lower-case/);
		expect((await cli('apps', 'create', 'x', '--sample', '2')).err).toMatch(/sample: a share between 0 and 1/);
		expect((await cli('apps', 'frobnicate')).err).toMatch(/unknown command "frobnicate"/);
		expect((await cli('apps', 'keys', 'nope')).code).toBe(1);
	});

	it('creates, lists, tests and deletes alert rules', async () => {
		const made = await cli('alerts', 'create', 'acme', 'mos: p(5)>3.5 over 5m', '--webhook', 'http://127.0.0.1:9/unreachable', '--format', 'slack');
		expect(made.code).toBe(0);
		const ruleId = /rule ([0-9a-f]{12})/.exec(made.out)![1]!;
		expect((await cli('alerts', 'list', 'acme')).out).toMatch(new RegExp(`${ruleId} .*mos: p\\(5\\)>3\\.5 over 5m +no-data`));
		const test = await cli('alerts', 'test', 'acme', ruleId);
		expect(test.code).toBe(1);
		expect(test.out).toMatch(/not delivered/);
		expect((await cli('alerts', 'create', 'acme', 'loss_pct: rate<1 over 1m')).err).toMatch(/"rate" applies to rate metrics/);
		expect((await cli('alerts', 'create', 'acme', 'loss_pct below 1')).err).toMatch(/"<metric>: <threshold> over <window>"/);
		expect((await cli('alerts', 'delete', 'acme', ruleId)).code).toBe(0);
		expect((await cli('alerts', 'list', 'acme')).out).not.toContain(ruleId);
	});

	it('erases a user and reports per table', async () => {
		const erased = await cli('delete', '--app', 'acme', '--user', 'someone@example.com');
		expect(erased.code).toBe(0);
		expect(erased.out).toMatch(/samples +0/);
		expect((await cli('delete', '--app', 'acme', '--user', 'a', '--call', 'b')).err).toMatch(/exactly one of --user and --call/);
	});
});

import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** A throwaway self-signed certificate for `ip` (openssl), as PEM files. */
export function selfSignedCertificate(ip: string): { cert: string; key: string; dir: string } {
	const dir = mkdtempSync(path.join(os.tmpdir(), 'callswarm-tls-'));
	const cert = path.join(dir, 'cert.pem');
	const key = path.join(dir, 'key.pem');
	execFileSync(
		'openssl',
		['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=callswarm-test', '-addext', `subjectAltName=IP:${ip}`, '-keyout', key, '-out', cert],
		{ stdio: 'pipe' },
	);
	return { cert, key, dir };
}

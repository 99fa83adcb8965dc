// The npm registry mirror this project is built against serves only the linux-x64 build of
// chdb's native library. npm then leaves chdb's other platform packages out of
// package-lock.json, and `npm ci` refuses a lock file that lacks them. This restores their
// entries (optional, os/cpu-restricted, never fetched on linux-x64). Run it after changing
// dependencies: npm run lockfile:platforms
import { readFileSync, writeFileSync } from 'node:fs';

const path = new URL('../package-lock.json', import.meta.url);
const lock = JSON.parse(readFileSync(path, 'utf8'));
const chdb = lock.packages['node_modules/chdb'];
let added = 0;
for (const [name, version] of Object.entries(chdb?.optionalDependencies ?? {})) {
	const key = `node_modules/${name}`;
	if (lock.packages[key]) continue;
	const [, os, cpu] = /lib-(\w+)-(\w+)/.exec(name) ?? [];
	lock.packages[key] = { version, license: 'Apache-2.0', optional: true, os: [os], cpu: [cpu] };
	added++;
}
lock.packages = Object.fromEntries(Object.entries(lock.packages).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
writeFileSync(path, `${JSON.stringify(lock, null, 2)}\n`);
console.log(`lockfile: ${added} platform entries restored`);

#!/usr/bin/env node
// The CLI is TypeScript run through tsx, which is also what lets scenario files be TypeScript.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../cli/main.ts');
process.exitCode = await main(process.argv.slice(2));

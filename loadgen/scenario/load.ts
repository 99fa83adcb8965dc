import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { InputError, parseInput } from '../../protocol/issues.ts';
import { Scenario } from '../../protocol/scenario.ts';

/**
 * Reads and validates a scenario file (.ts/.mts/.js/.mjs exporting it as default, or .json).
 * Nothing has started when this throws: the message names the file and every bad field.
 */
export async function loadScenario(file: string): Promise<Scenario> {
	const absolute = path.resolve(file);
	let value: unknown;
	try {
		if (/\.json$/i.test(absolute)) {
			value = JSON.parse(await readFile(absolute, 'utf8'));
		} else if (/\.(m?[jt]s)$/i.test(absolute)) {
			const module = (await import(pathToFileURL(absolute).href)) as { default?: unknown; scenario?: unknown };
			value = module.default ?? module.scenario;
			if (value === undefined) throw new InputError(`scenario ${file}: export the scenario as default (export default defineScenario({...}))`);
		} else {
			throw new InputError(`scenario ${file}: expected a .ts, .mts, .js, .mjs or .json file`);
		}
	} catch (error) {
		if (error instanceof InputError) throw error;
		const code = (error as NodeJS.ErrnoException).code;
		if (code === 'ENOENT' || code === 'ERR_MODULE_NOT_FOUND') throw new InputError(`scenario ${file}: no such file`);
		throw new InputError(`scenario ${file}: ${(error as Error).message}`);
	}
	return parseInput(Scenario, value, `scenario ${file}`);
}

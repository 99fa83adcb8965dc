import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { InputError, parseInput } from '../../protocol/issues.ts';
import { Scenario, type AppScript } from '../../protocol/scenario.ts';

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
	const scenario = parseInput(Scenario, value, `scenario ${file}`);
	return resolveAppModules(scenario, path.dirname(absolute), file);
}

/** Join and leave modules are paths relative to the scenario file: made absolute, and checked now. */
function resolveAppModules(scenario: Scenario, dir: string, file: string): Scenario {
	const resolve = (script: AppScript | undefined, where: string): AppScript | undefined => {
		if (!script || Array.isArray(script)) return script;
		const module = path.resolve(dir, script.module);
		if (!existsSync(module)) throw new InputError(`invalid scenario ${file}: ${where}.module: no such file ${module}`);
		return { module };
	};
	const target = scenario.target;
	return {
		...scenario,
		target: typeof target === 'object' ? { app: { ...target.app, join: resolve(target.app.join, 'target.app.join')!, leave: resolve(target.app.leave, 'target.app.leave')! } } : target,
		participants: scenario.participants.map((group, i) =>
			group.app
				? {
						...group,
						app: {
							...group.app,
							...(group.app.join ? { join: resolve(group.app.join, `participants[${i}].app.join`) } : {}),
							...(group.app.leave ? { leave: resolve(group.app.leave, `participants[${i}].app.leave`) } : {}),
						},
					}
				: group,
		),
	};
}

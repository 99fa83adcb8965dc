import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { z } from 'zod';
import { InputError, parseInput } from '../../protocol/issues.ts';

export type OptionSpec = NonNullable<ParseArgsConfig['options']>;

/**
 * Parses argv with node:util (unknown flags are errors), then validates the values with zod so
 * that every bad flag is reported by name.
 */
export function parseCommandLine<S extends z.ZodType>(
	argv: string[],
	options: OptionSpec,
	schema: S,
	command: string,
): z.output<S> {
	let parsed: ReturnType<typeof parseArgs>;
	try {
		parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
	} catch (error) {
		throw new InputError(`callswarm ${command}: ${(error as Error).message}`);
	}
	return parseInput(schema, { ...parsed.values, positionals: parsed.positionals }, `flags for "callswarm ${command}"`);
}

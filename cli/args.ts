import { parseArgs, type ParseArgsConfig } from 'node:util';
import { z } from 'zod';
import { InputError, parseInput } from '../protocol/issues.ts';

type OptionSpec = NonNullable<ParseArgsConfig['options']>;

/** A boolean flag's schema, under optional/default wrappers. */
function isBoolean(schema: z.ZodType): boolean {
	let s = schema;
	while (s instanceof z.ZodOptional || s instanceof z.ZodDefault) s = s.unwrap() as z.ZodType;
	return s instanceof z.ZodBoolean;
}

/**
 * Parses argv with node:util (unknown flags are errors), then validates the values with zod so
 * that every bad flag is reported by name. The flags are the schema's keys (besides
 * `positionals`): booleans are switches, everything else takes a value, so a flag is declared once.
 */
export function parseCommandLine<S extends z.ZodObject>(argv: string[], schema: S, command: string): z.output<S> {
	const options: OptionSpec = {};
	for (const [name, field] of Object.entries(schema.shape as Record<string, z.ZodType>)) {
		if (name !== 'positionals') options[name] = { type: isBoolean(field) ? 'boolean' : 'string' };
	}
	let parsed: ReturnType<typeof parseArgs>;
	try {
		parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
	} catch (error) {
		throw new InputError(`callswarm ${command}: ${(error as Error).message}`);
	}
	return parseInput(schema, { ...parsed.values, positionals: parsed.positionals }, `flags for "callswarm ${command}"`);
}

import { z } from 'zod';

/** Formats a zod issue path the way error replies and CLI messages name fields. */
export function formatIssuePath(path: ReadonlyArray<PropertyKey>): string {
	let out = '';
	for (const part of path) {
		if (typeof part === 'number') out += `[${part}]`;
		else out += out ? `.${String(part)}` : String(part);
	}
	return out;
}

/** One line per problem: "field.path: message". */
export function describeZodError(error: z.ZodError, prefix = ''): string {
	return error.issues
		.map((issue) => {
			const path = formatIssuePath([...(prefix ? [prefix] : []), ...issue.path]);
			return path ? `${path}: ${issue.message}` : issue.message;
		})
		.join('; ');
}

/** Bad external input (a flag, an env variable, a file): the message names every bad field. */
export class InputError extends Error {
	override name = 'InputError';
}

/** Parses external input, throwing an InputError that says what was checked and where. */
export function parseInput<S extends z.ZodType>(schema: S, value: unknown, what: string): z.output<S> {
	const result = schema.safeParse(value);
	if (!result.success) throw new InputError(`invalid ${what}: ${describeZodError(result.error)}`);
	return result.data;
}

/** A whole number given as text (a CLI flag, an env variable), with a readable error. */
export const wholeNumberText = z
	.string()
	.trim()
	.regex(/^\d+$/, 'must be a whole number')
	.transform(Number);

import type { z } from 'zod';
import { knownStatsTypes, type KnownStatsType } from '../../protocol/telemetry.ts';

type Check = (value: unknown) => boolean;

/** A plain predicate for one field schema, or undefined when the schema is not a simple one. */
function fieldCheck(schema: z.ZodType): { check: Check; optional: boolean } | undefined {
	const optional = schema.def.type === 'optional';
	const inner = (optional ? (schema as unknown as z.ZodOptional<z.ZodType>).unwrap() : schema) as z.ZodType & Record<string, unknown>;
	switch (inner.def.type) {
		case 'number': {
			const min = (inner.minValue as number | null) ?? -Infinity;
			const max = (inner.maxValue as number | null) ?? Infinity;
			const int = inner.isInt === true;
			return { optional, check: (v) => typeof v === 'number' && Number.isFinite(v) && v >= min && v <= max && (!int || Number.isInteger(v)) };
		}
		case 'string': {
			const max = (inner.maxLength as number | null) ?? Infinity;
			return { optional, check: (v) => typeof v === 'string' && v.length <= max };
		}
		case 'boolean':
			return { optional, check: (v) => typeof v === 'boolean' };
		case 'enum': {
			const options = new Set<unknown>(inner.options as unknown[]);
			return { optional, check: (v) => options.has(v) };
		}
		case 'literal': {
			const values = inner.values as Set<unknown>;
			return { optional, check: (v) => values.has(v) };
		}
		case 'object': {
			// A small record of simple fields (qualityLimitationDurations): extra keys pass, as zod strips them.
			const check = compile(inner as unknown as z.ZodObject);
			return check && { optional, check: (v) => typeof v === 'object' && v !== null && !Array.isArray(v) && check(v as Record<string, unknown>) };
		}
		default:
			return undefined;
	}
}

/**
 * For each known stats type, a predicate built from its zod schema (the one definition) that
 * says whether a stats object is valid, about ten times faster than parsing it. Valid objects
 * (nearly all) skip zod; an invalid one is parsed by zod for its exact error and field path.
 */
function compile(schema: z.ZodObject): ((stat: Record<string, unknown>) => boolean) | undefined {
	const checks: Check[] = [];
	const lines: string[] = [];
	for (const [key, field] of Object.entries(schema.shape as Record<string, z.ZodType>)) {
		const compiled = fieldCheck(field);
		if (!compiled) return undefined;
		// One generated read per field (a constant key): reading `stat[key]` in a loop over keys is a
		// keyed lookup per field on objects of many shapes, and this runs for every stats object.
		lines.push(`v = stat[${JSON.stringify(key)}]; if (v === undefined ? ${!compiled.optional} : !c[${checks.length}](v)) return false;`);
		checks.push(compiled.check);
	}
	const body = new Function('c', 'stat', `let v;\n${lines.join('\n')}\nreturn true;`) as (c: Check[], stat: Record<string, unknown>) => boolean;
	return (stat) => body(checks, stat);
}

export const validStats = Object.fromEntries(
	Object.entries(knownStatsTypes).map(([type, schema]) => [type, compile(schema as unknown as z.ZodObject)]),
) as Record<KnownStatsType, ((stat: Record<string, unknown>) => boolean) | undefined>;

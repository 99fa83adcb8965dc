/** Seeded mutation of JSON values, for fuzz tests that must replay the same way every run. */

/** mulberry32: a small, fast, seeded PRNG. */
export function random(seed: number): () => number {
	let a = seed >>> 0;
	return () => {
		a = (a + 0x6d2b79f5) >>> 0;
		let t = a;
		t = Math.imul(t ^ (t >>> 15), t | 1);
		t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
		return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
	};
}

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

const hostileValues: Json[] = [
	null,
	true,
	'',
	'x'.repeat(100_000),
	'\u0000\uffff\ud800',
	-1,
	0,
	1e308,
	-1e308,
	2 ** 53 + 2,
	2 ** 64,
	1e-320,
	0.5,
	[],
	{},
	[[[[[[[[[[]]]]]]]]]],
	'1e20',
	'NaN',
	{ __proto__: { polluted: true } } as unknown as Json,
];
const hostileKeys = ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', '', 'x'.repeat(5000)];

/** Every path to a value inside `value` (array indexes and object keys). */
function paths(value: Json, prefix: Array<string | number> = [], out: Array<Array<string | number>> = []): Array<Array<string | number>> {
	out.push(prefix);
	if (Array.isArray(value)) value.forEach((v, i) => paths(v, [...prefix, i], out));
	else if (value && typeof value === 'object') for (const [k, v] of Object.entries(value)) paths(v, [...prefix, k], out);
	return out;
}

function parentOf(root: Json, path: Array<string | number>): { parent: Json[] | Record<string, Json>; key: string | number } | undefined {
	if (path.length === 0) return undefined;
	let node = root;
	for (const part of path.slice(0, -1)) node = (node as Record<string | number, Json>)[part]!;
	return { parent: node as Json[] | Record<string, Json>, key: path.at(-1)! };
}

/** A copy of `value` with one to three hostile changes at random places. */
export function mutate(value: Json, rand: () => number): Json {
	const copy = structuredClone(value);
	const pick = <T>(list: readonly T[]): T => list[Math.floor(rand() * list.length)]!;
	// A fresh copy each time: a shared object put inside itself would make a cycle.
	const hostile = (): Json => structuredClone(pick(hostileValues));
	const changes = 1 + Math.floor(rand() * 3);
	for (let c = 0; c < changes; c++) {
		const all = paths(copy);
		const target = parentOf(copy, pick(all));
		if (!target) continue;
		const { parent, key } = target;
		const record = parent as Record<string | number, Json>;
		switch (Math.floor(rand() * 5)) {
			case 0:
				record[key] = hostile();
				break;
			case 1:
				if (Array.isArray(parent)) parent.splice(Number(key), 1);
				else delete record[key];
				break;
			case 2:
				if (!Array.isArray(parent)) Object.defineProperty(parent, pick(hostileKeys), { value: hostile(), enumerable: true, configurable: true, writable: true });
				break;
			case 3:
				if (typeof record[key] === 'number') record[key] = (record[key] as number) * (rand() < 0.5 ? -1 : 1e12);
				else record[key] = rand() * 1e6;
				break;
			case 4:
				if (typeof record[key] === 'string') record[key] = `${record[key] as string}${'é'.repeat(Math.floor(rand() * 300))}`;
				else record[key] = String(record[key]);
				break;
		}
	}
	return copy;
}

/** The JSON text of a value, sometimes cut short or with garbage appended. */
export function damagedText(value: Json, rand: () => number): string {
	const text = JSON.stringify(value);
	const r = rand();
	if (r < 0.5) return text.slice(0, Math.floor(rand() * text.length));
	if (r < 0.75) return `${text}${'}]"'.charAt(Math.floor(rand() * 4))}`;
	return text.replace(/[:,]/, () => (rand() < 0.5 ? ';' : ''));
}

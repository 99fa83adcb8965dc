/** Durations in k6 notation: "30s", "1m30s", "2h", "250ms". */
import { z } from 'zod';

const durationPattern = /^(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m(?!s))?(?:(\d+(?:\.\d+)?)s)?(?:(\d+(?:\.\d+)?)ms)?$/;

export function parseDuration(text: string): number | undefined {
	const match = durationPattern.exec(text.trim());
	if (!match || text.trim() === '') return undefined;
	const [, h, m, s, ms] = match;
	return (Number(h ?? 0) * 3600 + Number(m ?? 0) * 60 + Number(s ?? 0)) * 1000 + Number(ms ?? 0);
}

function durationMs(value: number | string, ctx: z.RefinementCtx): number {
	const ms = typeof value === 'number' ? value : parseDuration(value);
	if (ms === undefined || !Number.isFinite(ms) || ms < 0) {
		ctx.addIssue({ code: 'custom', message: `${JSON.stringify(value)} is not a duration like "30s", "1m30s", "2h" or "500ms"` });
		return z.NEVER;
	}
	return ms;
}

/** A duration in k6 notation ("1m30s"), parsed to milliseconds. */
export const DurationText = z.string().transform(durationMs);

/** A duration in k6 notation or milliseconds; parsed to milliseconds. */
export const Duration = z
	.custom<number | string>((v) => typeof v === 'number' || typeof v === 'string', 'must be a duration like "30s" or milliseconds')
	.transform(durationMs);

export function formatDuration(ms: number): string {
	if (ms < 1000) return `${Math.round(ms)}ms`;
	const s = Math.round(ms / 1000);
	const h = Math.floor(s / 3600);
	const m = Math.floor((s % 3600) / 60);
	const rest = s % 60;
	return `${h ? `${h}h` : ''}${m ? `${m}m` : ''}${rest || (!h && !m) ? `${rest}s` : ''}`;
}

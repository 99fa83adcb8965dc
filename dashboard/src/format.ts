export function escapeHtml(text: string): string {
	return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** m:ss or h:mm:ss since the start of a run. */
export function elapsed(ms: number): string {
	const s = Math.max(0, Math.round(ms / 1000));
	const h = Math.floor(s / 3600);
	const m = Math.floor((s % 3600) / 60);
	const rest = String(s % 60).padStart(2, '0');
	return h ? `${h}:${String(m).padStart(2, '0')}:${rest}` : `${m}:${rest}`;
}

export function duration(ms: number): string {
	const s = Math.round(ms / 1000);
	if (s < 60) return `${s} s`;
	const m = Math.floor(s / 60);
	if (m < 60) return `${m} min ${s % 60} s`;
	return `${Math.floor(m / 60)} h ${m % 60} min`;
}

export function value(v: number | null | undefined, unit: string): string {
	if (v === null || v === undefined || !Number.isFinite(v)) return '–';
	if (unit === 'ratio') return `${(v * 100).toFixed(2)} %`;
	const digits = Math.abs(v) >= 100 ? 0 : Math.abs(v) >= 10 ? 1 : 2;
	const suffix = unit === 'ms' ? ' ms' : unit === '%' ? ' %' : unit === 'kbps' ? ' kbps' : unit === 'fps' ? ' fps' : '';
	return `${v.toFixed(digits)}${suffix}`;
}

export function dateTime(epochMs: number): string {
	return new Date(epochMs).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

/** A wall-clock tick: hh:mm within a day, day and hh:mm beyond. */
export function clockLabel(epochMs: number, spanMs: number): string {
	const d = new Date(epochMs);
	const time = d.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' });
	return spanMs > 86_400_000 ? `${d.toLocaleDateString(undefined, { month: 'short', day: 'numeric' })} ${time}` : time;
}

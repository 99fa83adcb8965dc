/**
 * MOS estimate in the style of the ITU-T E-model (G.107), simplified as in
 * ARCHITECTURE.md: effective latency from RTT and jitter, an R factor lowered by loss, and the
 * standard R-to-MOS mapping.
 */
export function estimateMos(rttMs: number, jitterMs: number, lossPct: number): number {
	const effectiveLatency = rttMs + 2 * jitterMs + 10;
	let r = effectiveLatency < 160 ? 93.2 - effectiveLatency / 40 : 93.2 - effectiveLatency / 120 - 10;
	r -= 2.5 * lossPct;
	// G.107's mapping is defined on 0 < R < 100; outside it the cubic turns back up.
	if (r <= 0) return 1;
	if (r >= 100) return 4.5;
	const mos = 1 + 0.035 * r + 7e-6 * r * (r - 60) * (100 - r);
	return Math.min(4.5, Math.max(1, mos));
}

export type QualityBand = 'good' | 'degraded' | 'bad';

/** Bands from ARCHITECTURE.md; the worst band of the metrics given wins. */
export const qualityBandLimits = {
	loss_pct: { degraded: 1, bad: 5, higherIsBetter: false },
	jitter_ms: { degraded: 30, bad: 100, higherIsBetter: false },
	rtt_ms: { degraded: 150, bad: 300, higherIsBetter: false },
	mos: { degraded: 4.0, bad: 3.5, higherIsBetter: true },
} as const;

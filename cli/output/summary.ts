import type { FigureCounts, MetricSummary, ThresholdResult } from '../../protocol/api.ts';
import { figureCountsAdvice, figureCountsKey, figureCountsText, figureKindNames, inDoubt, metricCatalogue, type FigureKind, type MetricName } from '../../protocol/metrics.ts';
import { formatDuration } from '../../protocol/durations.ts';
import type { BotCost } from '../../loadgen/health/BotCostMeter.ts';
import type { RunOutcome } from '../../loadgen/run/LoadRun.ts';

const color = (code: number) => (text: string) => (process.stdout.isTTY ? `\x1b[${code}m${text}\x1b[0m` : text);
const green = color(32);
const red = color(31);
const dim = color(2);

function number(value: number | null, unit: string): string {
	if (value === null) return '-';
	const digits = Math.abs(value) >= 100 ? 0 : Math.abs(value) >= 10 ? 1 : 2;
	const text = value.toFixed(digits);
	return unit === 'ratio' ? `${(value * 100).toFixed(2)}%` : `${text}${unit === '%' ? '%' : unit === 'ms' ? 'ms' : ''}`;
}

/** The end-of-run summary in k6's spirit: one line per metric, thresholds marked ✓ / ✗. */
export function renderSummary(outcome: RunOutcome): string {
	const { summary, thresholds } = outcome;
	const byMetric = new Map<string, ThresholdResult[]>();
	for (const t of thresholds) byMetric.set(t.metric, [...(byMetric.get(t.metric) ?? []), t]);
	const rows: string[][] = [['', 'metric', 'avg', 'min', 'p50', 'p95', 'p99', 'max', 'count', 'thresholds']];
	for (const name of Object.keys(metricCatalogue) as MetricName[]) {
		const m: MetricSummary | undefined = summary.metrics[name];
		const checks = byMetric.get(name) ?? [];
		if (!m || (m.count === 0 && checks.length === 0)) continue;
		const unit = m.unit;
		const ok = checks.every((c) => c.ok);
		const mark = checks.length === 0 ? ' ' : ok ? green('✓') : red('✗');
		const verdicts = checks.map((c) => (c.ok ? green(c.expression) : red(`${c.expression} (${number(c.value, unit)})`))).join(' ');
		rows.push(
			m.rate !== null || unit === 'ratio'
				? [mark, name, number(m.rate, 'ratio'), '', '', '', '', '', String(m.count), verdicts]
				: [
						mark,
						name,
						number(m.avg, unit),
						number(m.min, unit),
						number(m.p50, unit),
						number(m.p95, unit),
						number(m.p99, unit),
						number(m.max, unit),
						String(m.count),
						verdicts,
					],
		);
	}
	const strip = (s: string) => s.replace(/\x1b\[\d+m/g, '');
	const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => strip(r[i] ?? '').length)));
	const lines = rows.map((r, ri) =>
		r
			.map((cell, i) => {
				const pad = ' '.repeat(widths[i]! - strip(cell).length);
				return i >= 2 && i <= 8 ? pad + cell : cell + pad;
			})
			.join('  ')
			.trimEnd(),
	);
	lines.splice(1, 0, dim('-'.repeat(Math.min(120, strip(lines[0]!).length))));
	const p = summary.participants;
	const header = [
		`run ${outcome.runId}: ${outcome.status === 'passed' ? green('PASSED') : red(outcome.status.toUpperCase())}${outcome.statusReason ? ` (${outcome.statusReason})` : ''}`,
		...(outcome.overloaded
			? [
					red(
						`the load generator itself saturated at ${formatDuration(outcome.overloaded.elapsedMs)}: the figures below describe this machine, not the call. ` +
							'Run fewer or lighter bots per machine (lite bots, --shard) and compare again.',
					),
				]
			: []),
		`duration ${formatDuration(outcome.endedAt - outcome.startedAt)}, participants ${p.joined} joined of ${p.attempted} (${p.failed} failed to join, ${p.dropped} dropped), peak ${p.peakActive} in calls`,
		...figureKindNames.flatMap((kind) => withheldFigures(kind, outcome[figureCountsKey(kind)])),
		...botCostsLine(outcome.botCosts),
		'',
	];
	const failed = thresholds.filter((t) => !t.ok).length;
	const footer = ['', thresholds.length ? `thresholds: ${thresholds.length - failed} passed, ${failed} failed` : 'no thresholds'];
	return [...header, ...lines, ...footer].join('\n');
}

/**
 * An estimate off the measured cost by more than this share of it is said out loud: the next
 * preflight on this machine will be off by as much.
 */
const estimateOffShare = 0.2;

/**
 * What each bot kind cost this machine, beside what the preflight expected: `browser bots 0.310
 * core each (4 at most in calls; the preflight expected 0.250, joins 0.041 of it, 19 % too
 * little)`. In red with advice where, all kinds at their peaks together, it expected too little
 * by more than a fifth: its verdict on whether a run fits the machine was then too kind. (A kind
 * alone may be off further: a few light lite bots carry their processes' own work.)
 */
export function botCostsLine(costs: readonly BotCost[]): string[] {
	if (costs.length === 0) return [];
	const names: Record<BotCost['role'], string> = { browser: 'browser bots', lite: 'lite bots and viewers' };
	const off = (estimated: number, measured: number) => (estimated - measured) / measured;
	const parts = costs.map(({ role, peak, coresEach, estimatedCoresEach: estimated, estimatedJoinCoresEach: joins }) => {
		const measured = `${names[role]} ${coresEach.toFixed(3)} core each (${peak} at most in calls`;
		if (estimated === null || coresEach <= 0) return `${measured})`;
		const gap = off(estimated, coresEach);
		const ofJoins = joins !== null && joins >= 0.0005 ? `, joins ${joins.toFixed(3)} of it` : '';
		return `${measured}; the preflight expected ${estimated.toFixed(3)}${ofJoins}${Math.abs(gap) > estimateOffShare ? `, ${Math.round(Math.abs(gap) * 100)} % too ${gap < 0 ? 'little' : 'much'}` : ''})`;
	});
	const withEstimate = costs.filter((c) => c.estimatedCoresEach !== null);
	const atPeaks = (each: (c: BotCost) => number) => withEstimate.reduce((n, c) => n + each(c) * c.peak, 0);
	const measuredTotal = atPeaks((c) => c.coresEach);
	const under = measuredTotal > 0 && off(atPeaks((c) => c.estimatedCoresEach!), measuredTotal) < -estimateOffShare;
	const line = `bots on this machine, their processes' CPU over their time in calls: ${parts.join(', ')}`;
	return [
		under
			? `${line}. ${red("The preflight expects too little of this machine's bots: plan fewer per machine than it allows (--shard), or measure their costs here (npm run bench:bots, bench:receive, bench:lite).")}`
			: dim(line),
	];
}

/** The figures of a kind the generator's own stalls distorted: left out of their metric, or taken in by it. */
function withheldFigures(kind: FigureKind, counts: FigureCounts | undefined): string[] {
	if (!counts || counts.withheld === 0) return [];
	const line = figureCountsText(kind, counts.withheld, counts.judged);
	return inDoubt(kind, counts.withheld, counts.judged) ? [red(`${line} ${figureCountsAdvice(kind)}`)] : [dim(line)];
}

function escapeXml(text: string): string {
	return text.replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c]!);
}

/** JUnit XML: one test case per threshold, for CI systems that show test reports. */
export function renderJunit(outcome: RunOutcome): string {
	const cases = outcome.thresholds.map((t) => {
		const name = escapeXml(`${t.metric} ${t.expression}`);
		return t.ok
			? `    <testcase classname="callswarm.thresholds" name="${name}"/>`
			: `    <testcase classname="callswarm.thresholds" name="${name}">\n      <failure message="${escapeXml(`${t.metric} = ${t.value ?? 'no data'}`)}"/>\n    </testcase>`;
	});
	if (outcome.status === 'aborted' || outcome.status === 'invalid') {
		const name = outcome.status !== 'invalid' ? 'run completed' : / lost /.test(outcome.statusReason) ? 'every shard ran its part' : 'load generator not saturated';
		cases.push(`    <testcase classname="callswarm.run" name="${name}"><failure message="${escapeXml(outcome.statusReason)}"/></testcase>`);
	}
	const failures = outcome.thresholds.filter((t) => !t.ok).length + (outcome.status === 'aborted' || outcome.status === 'invalid' ? 1 : 0);
	const seconds = ((outcome.endedAt - outcome.startedAt) / 1000).toFixed(1);
	return `<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="callswarm" tests="${cases.length}" failures="${failures}" time="${seconds}">
  <testsuite name="${escapeXml(outcome.runId)}" tests="${cases.length}" failures="${failures}" time="${seconds}">
${cases.join('\n')}
  </testsuite>
</testsuites>
`;
}

/** Machine-readable result: --json. */
export function renderJson(outcome: RunOutcome): string {
	return `${JSON.stringify(outcome, null, 2)}\n`;
}

import type { RunView } from '../../protocol/api.ts';
import { sumWithheld, withheldTotals } from '../../protocol/metrics.ts';
import type { ClickHouseStore } from '../store/ClickHouseStore.ts';
import { DrillDown } from './DrillDown.ts';
import { Resolutions } from './Resolution.ts';
import { RunRegistry, runInfo } from './RunRegistry.ts';
import { RunSeries } from './RunSeries.ts';
import { firstMediaDistribution, RunSummaries, runSummary } from './RunSummaries.ts';
import { runScope, Sql } from './sql.ts';
import { ThresholdQueries } from './ThresholdQueries.ts';

export { chooseResolution, maxChartPoints, type Resolution } from './Resolution.ts';

/** Everything the query API asks the store, one module per question. */
export class Queries {
	readonly registry: RunRegistry;
	readonly resolutions: Resolutions;
	readonly summaries: RunSummaries;
	readonly series: RunSeries;
	readonly thresholds: ThresholdQueries;
	readonly drill: DrillDown;

	constructor(store: ClickHouseStore) {
		const sql = new Sql(store);
		this.registry = new RunRegistry(sql);
		this.resolutions = new Resolutions(sql);
		this.summaries = new RunSummaries(sql);
		this.series = new RunSeries(sql);
		this.thresholds = new ThresholdQueries(sql, this.summaries);
		this.drill = new DrillDown(sql);
	}

	/**
	 * Everything the dashboard's run view shows, at one resolution; undefined for an unknown run.
	 * Asked in as few queries as the answer allows (the embedded engine answers one at a time and
	 * planning a query costs about as much as running it): the charts and the summary's sample
	 * metrics share one pass, and every figure from events comes from one more.
	 */
	async view(runId: string, requestedBucket?: number): Promise<RunView | undefined> {
		const record = await this.registry.record(runId);
		if (!record) return undefined;
		// Whether the run has ended and how long it ran need no events when it has an end time.
		const resolution = await this.resolutions.of(runId, requestedBucket, runInfo(record, { participants: 0, firstMs: null, lastMs: null, withheld: sumWithheld([]) }));
		const [people, overview, sfu, generator, events] = await Promise.all([
			this.series.people(runId, resolution),
			this.series.overview(runId, resolution),
			this.series.sfuLoad(runId, resolution.bucket),
			this.series.generatorHealth(runId, resolution.bucket),
			this.summaries.eventFacts(runScope(runId)),
		]);
		const sampleMetrics = overview.metrics ?? (await this.summaries.sampleMetrics(runId, false));
		return {
			run: runInfo(record, {
				participants: events.participation.attempted,
				firstMs: events.firstMs,
				lastMs: events.lastMs,
				withheld: withheldTotals(generator.processes),
			}),
			summary: runSummary(runId, false, sampleMetrics, events, people.participants),
			timeseries: overview.timeseries,
			participants: people.participants,
			quality: people.quality,
			sfu,
			generator,
			firstMedia: firstMediaDistribution(events),
		};
	}
}

import type { RunView } from '../../protocol/api.ts';
import { seriesMetricNames } from '../../protocol/metrics.ts';
import type { ClickHouseStore } from '../store/ClickHouseStore.ts';
import { DrillDown } from './DrillDown.ts';
import { Resolutions } from './Resolution.ts';
import { RunRegistry } from './RunRegistry.ts';
import { RunSeries } from './RunSeries.ts';
import { RunSummaries } from './RunSummaries.ts';
import { Sql } from './sql.ts';
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

	/** Everything the dashboard's run view shows, at one resolution; undefined for an unknown run. */
	async view(runId: string, requestedBucket?: number): Promise<RunView | undefined> {
		const run = await this.registry.get(runId);
		if (!run) return undefined;
		const resolution = await this.resolutions.of(runId, requestedBucket, run);
		// Independent questions go together: a server answers them at once (the embedded engine in turn).
		const [people, timeseries, sfu, generator, firstMedia] = await Promise.all([
			this.series.people(runId, resolution),
			this.series.timeseries(runId, { metrics: seriesMetricNames, bucket: resolution.bucket }, resolution),
			this.series.sfuLoad(runId, resolution.bucket),
			this.series.generatorHealth(runId, resolution.bucket),
			this.summaries.firstMedia(runId),
		]);
		return {
			run,
			summary: await this.summaries.summary(runId, false, people.participants),
			timeseries,
			participants: people.participants,
			quality: people.quality,
			sfu,
			generator,
			firstMedia,
		};
	}
}

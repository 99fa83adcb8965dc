export { Collector, startCollector } from './Collector.ts';
export { CollectorOptions, collectorOptionsFromEnv, type CollectorOptionsInput } from './options.ts';
export { ClickHouseStore } from './store/ClickHouseStore.ts';
export { estimateMos } from './normalize/mos.ts';
export { Normalizer } from './normalize/Normalizer.ts';

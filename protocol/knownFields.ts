/**
 * The fields of each stats type the collector reads, from the telemetry schemas (the one
 * source). Bundles for pages (the capture, the SDK) get this list precomputed at build time
 * (capture/bundle.ts), so they carry no schema library.
 */
import { knownStatsTypes } from './telemetry.ts';

export const knownFields: Readonly<Record<string, readonly string[]>> = Object.fromEntries(
	Object.entries(knownStatsTypes).map(([type, schema]) => [type, Object.keys(schema.shape)]),
);

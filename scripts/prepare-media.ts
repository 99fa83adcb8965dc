/** Pre-encodes the lite bots' VP8 and Opus media with ffmpeg (cached; seconds on first run). */
import { liteVideoBitrateKbps } from '../loadgen/lite/MediaPump.ts';
import { opusFile, vp8File } from '../loadgen/lite/media.ts';
import { publishProfiles } from '../protocol/scenario.ts';

const files = await Promise.all([
	...(Object.keys(liteVideoBitrateKbps) as Array<keyof typeof liteVideoBitrateKbps>).map((profile) =>
		vp8File({ ...publishProfiles[profile].video, bitrateKbps: liteVideoBitrateKbps[profile] }),
	),
	opusFile(),
]);
console.log(`[setup] lite bot media ready: ${files.length} files in ${files[0]!.replace(/\/[^/]+$/, '')}`);

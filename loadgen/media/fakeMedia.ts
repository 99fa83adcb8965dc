import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
	return path.join(env.CALLSWARM_CACHE ?? path.join(env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'callswarm'), 'media');
}

export interface VideoFormat {
	width: number;
	height: number;
	frameRate: number;
}

const pending = new Map<string, Promise<string>>();

/** Generates `file` with ffmpeg once (atomically: a temp file renamed into place). */
export function generateWithFfmpeg(file: string, args: string[]): Promise<string> {
	if (existsSync(file)) return Promise.resolve(file);
	let job = pending.get(file);
	if (!job) {
		job = (async () => {
			await mkdir(path.dirname(file), { recursive: true });
			const temp = `${file}.${process.pid}.tmp${path.extname(file)}`;
			try {
				await run('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', ...args, temp], { maxBuffer: 1 << 20 });
				await rename(temp, file);
			} catch (error) {
				await rm(temp, { force: true });
				const missing = (error as NodeJS.ErrnoException).code === 'ENOENT';
				throw new Error(
					missing
						? 'ffmpeg not found: run "npm install" (it apt-installs ffmpeg) or install ffmpeg'
						: `ffmpeg could not generate ${file}: ${(error as Error).message}`,
				);
			} finally {
				pending.delete(file);
			}
			return file;
		})();
		pending.set(file, job);
	}
	return job;
}

/**
 * A y4m camera for Chromium's --use-file-for-fake-video-capture: ffmpeg's testsrc2 (a moving
 * picture with detail, so the encoder does real work), 4 s looped. Cached per format.
 */
export function fakeVideo(format: VideoFormat, dir = cacheDir()): Promise<string> {
	const { width, height, frameRate } = format;
	return generateWithFfmpeg(path.join(dir, `camera-${width}x${height}@${frameRate}.y4m`), [
		'-f',
		'lavfi',
		'-i',
		`testsrc2=size=${width}x${height}:rate=${frameRate}`,
		'-t',
		'4',
		'-pix_fmt',
		'yuv420p',
	]);
}

/** A 48 kHz mono wav microphone: a voice-like warbling tone with pauses, 10 s looped. */
export function fakeAudio(dir = cacheDir()): Promise<string> {
	return generateWithFfmpeg(path.join(dir, 'microphone-48k.wav'), [
		'-f',
		'lavfi',
		'-i',
		"aevalsrc='0.4*sin(2*PI*(180+60*sin(2*PI*3*t))*t)*(0.6+0.4*sin(2*PI*0.4*t))*gt(mod(t,5),0.8)':s=48000:d=10",
		'-ac',
		'1',
	]);
}

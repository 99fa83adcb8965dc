import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
	return path.join(env.CALLSWARM_CACHE ?? path.join(env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'callswarm'), 'media');
}

export interface VideoFormat {
	width: number;
	height: number;
	frameRate: number;
}

/**
 * Runs ffmpeg, its stdin fed by `input` if given, to what it writes on stdout: collected, or
 * piped into `output` (which it then ends) and resolving to nothing.
 */
export function ffmpegPipe(args: string[], streams: { input?: (stdin: NodeJS.WritableStream) => void; output?: NodeJS.WritableStream } = {}): Promise<Buffer> {
	const { input, output } = streams;
	return new Promise((resolve, reject) => {
		const child = spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', ...args], { stdio: [input ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
		const out: Buffer[] = [];
		let errors = '';
		if (output) child.stdout!.pipe(output);
		else child.stdout!.on('data', (chunk: Buffer) => out.push(chunk));
		child.stderr!.on('data', (chunk: Buffer) => (errors = (errors + chunk.toString()).slice(-2000)));
		child.once('error', (error: NodeJS.ErrnoException) =>
			reject(error.code === 'ENOENT' ? Object.assign(new Error('ffmpeg not found: run "npm install" (it apt-installs ffmpeg) or install ffmpeg'), { code: 'ENOENT' }) : new Error(`ffmpeg: ${error.message}`)),
		);
		child.once('close', (code) => (code === 0 ? resolve(Buffer.concat(out)) : reject(new Error(`ffmpeg exited with ${code}: ${errors.trim()}`))));
		if (input && child.stdin) {
			child.stdin.on('error', () => undefined);
			input(child.stdin);
		}
	});
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
				await ffmpegPipe(['-y', ...args, temp]);
				await rename(temp, file);
			} catch (error) {
				await rm(temp, { force: true });
				throw (error as NodeJS.ErrnoException).code === 'ENOENT' ? error : new Error(`ffmpeg could not generate ${file}: ${(error as Error).message}`);
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

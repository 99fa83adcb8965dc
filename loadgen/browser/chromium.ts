import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import puppeteer, { type Browser } from 'puppeteer-core';

export interface FakeMedia {
	/** y4m file for --use-file-for-fake-video-capture; Chromium's built-in pattern when absent. */
	videoFile?: string;
	/** wav file for --use-file-for-fake-audio-capture; a built-in beep when absent. */
	audioFile?: string;
}

export interface LaunchOptions {
	media?: FakeMedia;
	/** Extra Chromium flags. */
	args?: string[];
	executablePath?: string;
}

export class BrowserNotFoundError extends Error {
	override name = 'BrowserNotFoundError';
}

/** CHROME_PATH, then Debian's /usr/bin/chromium; a clear error when neither exists. */
export function resolveChromium(env: NodeJS.ProcessEnv = process.env): string {
	const candidates = [env.CHROME_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'].filter(
		(c): c is string => Boolean(c),
	);
	for (const candidate of candidates) if (existsSync(candidate)) return candidate;
	throw new BrowserNotFoundError(
		`no Chromium found (looked at ${candidates.join(', ')}): run "npm install" (it apt-installs chromium) or set CHROME_PATH`,
	);
}

/**
 * Flags for a headless Chromium that runs WebRTC bots on a closed network: no background
 * traffic, fake capture devices, plain-IP ICE candidates, no rendering of received media.
 */
export function chromiumArgs(userDataDir: string, media: FakeMedia = {}, extra: string[] = []): string[] {
	return [
		'--headless=new',
		'--no-sandbox',
		'--disable-gpu',
		'--disable-quic',
		'--no-first-run',
		'--no-default-browser-check',
		'--disable-background-networking',
		'--disable-component-update',
		'--disable-sync',
		'--disable-extensions',
		'--disable-dev-shm-usage',
		'--disable-background-timer-throttling',
		'--disable-renderer-backgrounding',
		'--disable-backgrounding-occluded-windows',
		'--use-fake-ui-for-media-stream',
		'--use-fake-device-for-media-stream',
		...(media.videoFile ? [`--use-file-for-fake-video-capture=${media.videoFile}`] : []),
		...(media.audioFile ? [`--use-file-for-fake-audio-capture=${media.audioFile}`] : []),
		'--autoplay-policy=no-user-gesture-required',
		'--mute-audio',
		'--disable-features=WebRtcHideLocalIpsWithMdns',
		`--user-data-dir=${userDataDir}`,
		...extra,
	];
}

export interface LaunchedBrowser {
	browser: Browser;
	pid: number | undefined;
	/** Closes the browser and removes its profile directory. */
	close(): Promise<void>;
}

export async function launchChromium(options: LaunchOptions = {}): Promise<LaunchedBrowser> {
	const executablePath = options.executablePath ?? resolveChromium();
	const userDataDir = await mkdtemp(path.join(os.tmpdir(), 'callswarm-chromium-'));
	let browser: Browser;
	try {
		browser = await puppeteer.launch({
			executablePath,
			ignoreDefaultArgs: true,
			pipe: true,
			protocolTimeout: 120_000,
			// The run stops bots itself on Ctrl-C (leave, flush, verdicts); puppeteer would exit at once.
			handleSIGINT: false,
			handleSIGTERM: false,
			handleSIGHUP: false,
			args: chromiumArgs(userDataDir, options.media, options.args),
		});
	} catch (error) {
		await rm(userDataDir, { recursive: true, force: true });
		throw error;
	}
	const pid = browser.process()?.pid;
	return {
		browser,
		pid,
		async close() {
			await browser.close().catch(() => {
				if (pid) {
					try {
						process.kill(pid, 'SIGKILL');
					} catch {
						// already gone
					}
				}
			});
			await rm(userDataDir, { recursive: true, force: true });
		},
	};
}

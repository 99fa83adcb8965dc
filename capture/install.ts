import type { CaptureApi, CaptureConfig } from '../protocol/capture.ts';
import { PeerConnectionCapture } from './PeerConnectionCapture.ts';
import { generatedScreen } from './screen.ts';

/**
 * The page's capture, installed once: wraps RTCPeerConnection (before the page makes one) and
 * offers `window.__callswarmCapture`. A second call returns the first capture. The config is
 * validated by whoever gives it (`captureConfigScript`), so pages carry no schema library.
 */
export function installCapture(config: CaptureConfig): CaptureApi {
	if (window.__callswarmCapture) return window.__callswarmCapture;
	const capture = new PeerConnectionCapture(config);
	capture.install(window);
	const screen = config.screen;
	if (screen && navigator.mediaDevices) navigator.mediaDevices.getDisplayMedia = async () => generatedScreen(screen);
	window.__callswarmCapture = {
		drain: () => capture.drain(),
		snapshot: (options) => capture.snapshot(options),
		markJoinStart: () => capture.markJoinStart(),
		connections: () => capture.connections(),
	};
	return window.__callswarmCapture;
}

/**
 * The capture as a browser bot injects it, before any page script: it reads its configuration
 * from `window.__callswarmCaptureConfig`, wraps RTCPeerConnection and offers
 * `window.__callswarmCapture` to the load generator, which drains it every stats interval.
 */
import { CaptureConfig, type CaptureApi } from '../protocol/capture.ts';
import { PeerConnectionCapture } from './PeerConnectionCapture.ts';
import { generatedScreen } from './screen.ts';

declare global {
	interface Window {
		__callswarmCaptureConfig?: unknown;
		__callswarmCapture?: CaptureApi;
	}
}

if (!window.__callswarmCapture) {
	const config = CaptureConfig.parse(window.__callswarmCaptureConfig ?? {});
	const capture = new PeerConnectionCapture(config);
	capture.install(window);
	const screen = config.screen;
	if (screen && navigator.mediaDevices) {
		navigator.mediaDevices.getDisplayMedia = async () => generatedScreen(screen);
	}
	window.__callswarmCapture = {
		drain: () => capture.drain(),
		markJoinStart: () => capture.markJoinStart(),
		connections: () => capture.connections(),
	};
}

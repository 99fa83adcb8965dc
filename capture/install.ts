import type { CaptureApi, CaptureConfig } from '../protocol/capture.ts';
import { PeerConnectionCapture } from './PeerConnectionCapture.ts';
import { E2eReceiver, markedAudioTrack, markedTrack } from './e2e.ts';
import { generatedScreen } from './screen.ts';

/**
 * The page's capture, installed once: wraps RTCPeerConnection (before the page makes one) and
 * offers `window.__callswarmCapture`. A second call returns the first capture. The config is
 * validated by whoever gives it (`captureConfigScript`), so pages carry no schema library.
 */
export function installCapture(config: CaptureConfig): CaptureApi {
	if (window.__callswarmCapture) return window.__callswarmCapture;
	const capture = new PeerConnectionCapture(config, config.e2e ? new E2eReceiver(config.e2e) : undefined);
	capture.install(window);
	const screen = config.screen;
	if (screen && navigator.mediaDevices) navigator.mediaDevices.getDisplayMedia = async () => generatedScreen(screen);
	const e2e = config.e2e;
	if (e2e && navigator.mediaDevices) {
		// The camera and microphone the page gets carry delay marks; everything else about getUserMedia is the browser's.
		const getUserMedia = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
		navigator.mediaDevices.getUserMedia = async (constraints) => {
			const stream = await getUserMedia(constraints);
			const audio = e2e.audio ? await Promise.all(stream.getAudioTracks().map((t) => markedAudioTrack(t, e2e))) : stream.getAudioTracks();
			const video = e2e.video ? stream.getVideoTracks().map((t) => markedTrack(t, e2e)) : stream.getVideoTracks();
			return new MediaStream([...audio, ...video]);
		};
	}
	window.__callswarmCapture = {
		drain: () => capture.drain(),
		snapshot: (options) => capture.snapshot(options),
		markJoinStart: () => capture.markJoinStart(),
		markScreen: (trackId) => capture.markScreen(trackId),
		connections: () => capture.connections(),
	};
	return window.__callswarmCapture;
}

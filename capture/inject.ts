/**
 * The capture as a browser bot injects it, before any page script: configured from
 * `window.__callswarmCaptureConfig` (set by the bot just before), drained by the load generator
 * every stats interval through `window.__callswarmCapture`.
 */
import type { CaptureConfig } from '../protocol/capture.ts';
import { installCapture } from './install.ts';

installCapture(window.__callswarmCaptureConfig as CaptureConfig);

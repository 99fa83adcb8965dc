/**
 * The capture as a browser bot injects it, before any page script: configured from
 * `window.__callswarmCaptureConfig` (set by the bot just before), drained by the load generator
 * every stats interval through `window.__callswarmCapture`.
 */
import { installCapture } from './install.ts';

installCapture((window.__callswarmCaptureConfig ?? {}) as Parameters<typeof installCapture>[0]);

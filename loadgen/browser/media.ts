import type { PublishProfile } from '../../protocol/scenario.ts';
import type { Slot } from '../schedule/slots.ts';

/**
 * Which browsers a participant's page can go to: those whose fake camera and microphone play its
 * publish profile (Chromium reads them once per process, from its command line). Groups that
 * publish alike share browsers, whatever their networks or apps.
 */
export const browserMediaOf = (slot: Slot): PublishProfile => slot.group.publish;

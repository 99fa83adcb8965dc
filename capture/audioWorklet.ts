/**
 * The audio worklet of end-to-end audio delay (bundled on its own and loaded into a page's
 * AudioContext from a blob): a writer that puts marks into a microphone, a reader that hears
 * them in a received track. Both run on the audio thread, sample by sample (audioMarks.ts).
 */
import { AudioMarkReader, AudioMarkWriter, FrameClock } from './audioMarks.ts';
import type { SenderDelayMarks } from '../protocol/capture.ts';

/** The AudioWorkletGlobalScope (not in TypeScript's DOM types). */
declare const currentFrame: number;
declare const sampleRate: number;
declare function registerProcessor(name: string, processor: new (options: { processorOptions?: unknown }) => WorkletProcessor): void;
declare class AudioWorkletProcessor {
	readonly port: MessagePort;
}
interface WorkletProcessor extends AudioWorkletProcessor {
	process(inputs: Float32Array[][], outputs: Float32Array[][]): boolean;
}

export type WriterOptions = Pick<SenderDelayMarks, 'sender' | 'clockOffsetMs'>;
export type ReaderOptions = Pick<SenderDelayMarks, 'clockOffsetMs'>;
/** What a reader posts after a block in which it heard something. */
export interface ReaderMessage {
	syncs: number;
	decoded: number;
	heard: Array<{ sender: number; delayMs: number }>;
}

registerProcessor(
	'callswarm-audio-mark-writer',
	class extends AudioWorkletProcessor implements WorkletProcessor {
		readonly #clock: FrameClock;
		readonly #writer: AudioMarkWriter;
		constructor(options: { processorOptions?: unknown }) {
			super();
			const { sender, clockOffsetMs } = options.processorOptions as WriterOptions;
			this.#clock = new FrameClock(sampleRate, clockOffsetMs);
			this.#writer = new AudioMarkWriter(sender, this.#clock);
		}
		process(inputs: Float32Array[][], outputs: Float32Array[][]): boolean {
			this.#clock.observe(currentFrame, Date.now());
			const out = outputs[0];
			if (!out?.[0]) return true;
			this.#writer.process(inputs[0]?.[0], out[0], currentFrame);
			for (let c = 1; c < out.length; c++) out[c]!.set(out[0]);
			return true;
		}
	},
);

registerProcessor(
	'callswarm-audio-mark-reader',
	class extends AudioWorkletProcessor implements WorkletProcessor {
		readonly #clock: FrameClock;
		readonly #reader: AudioMarkReader;
		readonly #silence = new Float32Array(128);
		constructor(options: { processorOptions?: unknown }) {
			super();
			const { clockOffsetMs } = options.processorOptions as ReaderOptions;
			this.#clock = new FrameClock(sampleRate, clockOffsetMs);
			this.#reader = new AudioMarkReader(this.#clock);
		}
		process(inputs: Float32Array[][]): boolean {
			this.#clock.observe(currentFrame, Date.now());
			const input = inputs[0]?.[0];
			const syncs = this.#reader.syncs;
			const heard = this.#reader.push(input ?? this.#silence, currentFrame);
			if (heard.length || syncs !== this.#reader.syncs) {
				const message: ReaderMessage = {
					syncs: this.#reader.syncs,
					decoded: this.#reader.decoded,
					heard: heard.map((h) => ({ sender: h.sender, delayMs: h.heardMs - h.sentMs })),
				};
				this.port.postMessage(message);
			}
			return true;
		}
	},
);

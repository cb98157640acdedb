// A small energy VAD on the decoded caller audio (PCM16 16 kHz, 20 ms frames). It exists so that response and
// barge-in latency are measured from what the caller did on the wire, not from Gemini's own speech events.
// Speech starts after `onsetFrames` loud frames in a row and ends at the last loud frame; a pause shorter than
// `hangoverMs` does not start a new utterance.

export interface VadOptions {
  /** Frame energy above this (dBFS, full scale = 0) counts as speech. */
  thresholdDb: number;
  /** Loud frames in a row before an onset is declared (debounces clicks). */
  onsetFrames: number;
  /** Silence shorter than this inside an utterance does not make a new onset. */
  hangoverMs: number;
}

export const DEFAULT_VAD: VadOptions = { thresholdDb: -45, onsetFrames: 2, hangoverMs: 300 };

const FULL_SCALE_SQ = 32768 * 32768;

/** Frame energy in dBFS (−∞ for digital silence). */
export function frameDbfs(pcm: Int16Array): number {
  if (pcm.length === 0) return Number.NEGATIVE_INFINITY;
  let sum = 0;
  for (let i = 0; i < pcm.length; i++) {
    const v = pcm[i]!;
    sum += v * v;
  }
  return 10 * Math.log10(sum / pcm.length / FULL_SCALE_SQ);
}

export class EnergyVad {
  readonly #o: VadOptions;
  readonly #threshold: number;
  #run = 0;
  #runStart = 0;
  /** Start of the current (or last) utterance, ms; 0 before any speech. */
  onsetAt = 0;
  /** End of the last loud frame, ms; 0 before any speech. */
  lastSpeechAt = 0;
  speaking = false;
  /** Utterance onsets seen. */
  onsets = 0;

  constructor(o: Partial<VadOptions> = {}) {
    this.#o = { ...DEFAULT_VAD, ...o };
    // Compare mean squares instead of taking a log per frame.
    this.#threshold = 10 ** (this.#o.thresholdDb / 10) * FULL_SCALE_SQ;
  }

  /**
   * One frame that ended at `at` (ms) and lasted `frameMs`. Returns true when this frame confirms a new onset
   * (then `onsetAt` is when the first loud frame of the run began).
   */
  push(pcm: Int16Array, at: number, frameMs = 20): boolean {
    let sum = 0;
    for (let i = 0; i < pcm.length; i++) {
      const v = pcm[i]!;
      sum += v * v;
    }
    const loud = pcm.length > 0 && sum / pcm.length > this.#threshold;
    if (!loud) {
      this.#run = 0;
      if (this.speaking && at - this.lastSpeechAt >= this.#o.hangoverMs) this.speaking = false;
      return false;
    }
    if (this.#run === 0) this.#runStart = at - frameMs;
    this.#run++;
    this.lastSpeechAt = at;
    if (!this.speaking && this.#run >= this.#o.onsetFrames) {
      this.speaking = true;
      this.onsetAt = this.#runStart;
      this.onsets++;
      return true;
    }
    return false;
  }
}

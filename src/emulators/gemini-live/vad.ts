// Energy VAD on the caller's audio, timed by audio samples (not the wall clock): a test can push a second of audio
// in one burst and still get the same decisions as a real-time caller.
import { rmsDbfs } from './pcm.ts';

export interface VadConfig {
  thresholdDbfs: number;
  /** Speech must stay above the threshold this long before it counts (short clicks are ignored). */
  minSpeechMs: number;
  /** The caller's turn ends after this much continuous silence. */
  endSilenceMs: number;
}

export interface VadEvents {
  onSpeechStart(): void;
  onSpeechEnd(speechMs: number): void;
}

const FRAME_MS = 10;

export class EnergyVad {
  readonly config: VadConfig;
  private readonly events: VadEvents;
  private rate = 0;
  private frameLen = 0;
  private pending: Int16Array = new Int16Array(0);
  private pendingLen = 0;
  private aboveMs = 0;
  private belowMs = 0;
  private speechMs = 0;
  private speaking = false;

  constructor(config: VadConfig, events: VadEvents) {
    this.config = config;
    this.events = events;
  }

  get inSpeech(): boolean {
    return this.speaking;
  }

  /** Length of the current utterance so far (0 when not in speech). */
  get currentSpeechMs(): number {
    return this.speaking ? this.speechMs : 0;
  }

  push(samples: Int16Array, rate: number): void {
    if (rate !== this.rate) {
      this.rate = rate;
      this.frameLen = Math.max(1, Math.round((rate * FRAME_MS) / 1000));
      this.pending = new Int16Array(this.frameLen);
      this.pendingLen = 0;
    }
    let i = 0;
    if (this.pendingLen > 0) {
      const take = Math.min(this.frameLen - this.pendingLen, samples.length);
      this.pending.set(samples.subarray(0, take), this.pendingLen);
      this.pendingLen += take;
      i = take;
      if (this.pendingLen < this.frameLen) return;
      this.frame(rmsDbfs(this.pending));
      this.pendingLen = 0;
    }
    for (; i + this.frameLen <= samples.length; i += this.frameLen) this.frame(rmsDbfs(samples, i, i + this.frameLen));
    if (i < samples.length) {
      this.pending.set(samples.subarray(i), 0);
      this.pendingLen = samples.length - i;
    }
  }

  /** The client said the stream ended (audioStreamEnd / activityEnd): close any open utterance now. */
  flush(): void {
    if (this.speaking) this.end();
    this.aboveMs = 0;
    this.belowMs = 0;
  }

  /** Manual activity signals (automaticActivityDetection.disabled). */
  forceStart(): void {
    if (this.speaking) return;
    this.speaking = true;
    this.speechMs = 0;
    this.belowMs = 0;
    this.events.onSpeechStart();
  }

  private frame(db: number): void {
    if (db >= this.config.thresholdDbfs) {
      this.aboveMs += FRAME_MS;
      this.belowMs = 0;
      if (this.speaking) this.speechMs += FRAME_MS;
      else if (this.aboveMs >= this.config.minSpeechMs) {
        this.speaking = true;
        this.speechMs = this.aboveMs;
        this.events.onSpeechStart();
      }
    } else {
      this.aboveMs = 0;
      if (!this.speaking) return;
      this.belowMs += FRAME_MS;
      if (this.belowMs >= this.config.endSilenceMs) this.end();
    }
  }

  private end(): void {
    this.speaking = false;
    this.belowMs = 0;
    this.aboveMs = 0;
    this.events.onSpeechEnd(this.speechMs);
  }
}

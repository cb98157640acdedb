// What the caller has heard of the agent's audio. Every agent turn gets checkpoints (periodically and at its end);
// Plivo's playedStream for one tells us that everything before it was played. On barge-in, the heard part of a
// turn is the later of the last confirmed checkpoint and (audio sent − audio still pending at the edge).
import { AGENT_OUTPUT_RATE } from '../contract/media.ts';
import type { TranscriptTurn } from '../store/types.ts';

const SAMPLES_PER_MS = AGENT_OUTPUT_RATE / 1000;
const MAX_CHECKPOINTS = 256;

interface Mark {
  turn: TranscriptTurn;
  ms: number;
}

export class PlayoutTracker {
  #turn: TranscriptTurn | undefined;
  #turnSamples = 0;
  #sinceCheckpoint = 0;
  #heardMs = 0;
  #turnNo = 0;
  readonly #everySamples: number;
  readonly #marks = new Map<string, Mark>();

  constructor(checkpointEveryMs: number) {
    this.#everySamples = Math.max(1, Math.round(checkpointEveryMs * SAMPLES_PER_MS));
  }

  /** The turn whose audio is the latest sent (the current one, or the last if it ended). */
  get turn(): TranscriptTurn | undefined {
    return this.#turn;
  }

  /** Starts tracking a new agent turn. */
  begin(turn: TranscriptTurn): void {
    this.#turn = turn;
    this.#turnSamples = 0;
    this.#sinceCheckpoint = 0;
    this.#heardMs = 0;
    this.#turnNo++;
  }

  /** Counts sent audio; returns a checkpoint name when one is due (hot path: no allocation otherwise). */
  audio(samples: number): string | undefined {
    this.#turnSamples += samples;
    this.#sinceCheckpoint += samples;
    if (this.#sinceCheckpoint < this.#everySamples) return undefined;
    this.#sinceCheckpoint = 0;
    return this.#mark();
  }

  /** End of the turn's audio: the checkpoint that confirms all of it was heard, if it had any. */
  end(): string | undefined {
    if (!this.#turn || this.#turnSamples === 0) return undefined;
    this.#sinceCheckpoint = 0;
    return this.#mark();
  }

  sentMs(): number {
    return this.#turnSamples / SAMPLES_PER_MS;
  }

  /** playedStream: returns true if the name was one of ours. */
  played(name: string): boolean {
    const mark = this.#marks.get(name);
    if (!mark) return false;
    this.#marks.delete(name);
    if (mark.turn === this.#turn && mark.ms > this.#heardMs) this.#heardMs = mark.ms;
    return true;
  }

  /**
   * Barge-in. `pendingMs` is the edge's audio not yet confirmed played. Returns what was heard of the turn, or
   * undefined if nothing of it was still playing (then the caller heard it all, and it was not cut off).
   */
  interrupt(pendingMs: number, turnOpen: boolean): { turn: TranscriptTurn; heardMs: number } | undefined {
    const turn = this.#turn;
    if (!turn || this.#turnSamples === 0) return undefined;
    if (!turnOpen && pendingMs <= 0) return undefined;
    const sent = this.sentMs();
    const heardMs = Math.min(sent, Math.max(this.#heardMs, sent - Math.max(0, pendingMs)));
    // Checkpoints queued before a clearAudio may never be acknowledged: forget them.
    this.#marks.clear();
    this.#turn = undefined;
    this.#turnSamples = 0;
    this.#sinceCheckpoint = 0;
    return { turn, heardMs };
  }

  #mark(): string {
    const ms = Math.round(this.sentMs());
    const name = `a${this.#turnNo}-${ms}`;
    if (this.#marks.size >= MAX_CHECKPOINTS) {
      const oldest = this.#marks.keys().next().value;
      if (oldest !== undefined) this.#marks.delete(oldest);
    }
    this.#marks.set(name, { turn: this.#turn!, ms });
    return name;
  }
}

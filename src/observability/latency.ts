// Per-turn latency of one call, measured only from wire events (src/probes/channels.ts) and the caller's audio:
// - greeting: answer → first agent frame sent, and → the first playedStream after it (Plivo says it was heard);
// - response: the caller's end of speech (energy VAD on the uplink) → the first frame of the next agent turn sent;
// - barge-in: the caller's speech onset → clearAudio sent → clearedAudio received;
// - gaps: frames of an agent turn sent after the audio before them had already run out (late against real time).
// Everything here runs inside probe callbacks on the event loop thread: no allocation per frame, no logging.
import { EnergyVad, type VadOptions } from './vad.ts';

export interface Stat {
  count: number;
  p50: number;
  p95: number;
  max: number;
}

export interface TurnLatency {
  kind: 'greeting' | 'response';
  /** Milliseconds: answer → first frame (greeting) or caller end of speech → first frame (response). */
  ms: number;
  /** When the turn's first frame was sent, ms since the answer. */
  atMs: number;
}

export interface LatencySummary {
  greeting_sent_ms?: number | undefined;
  greeting_played_ms?: number | undefined;
  response_ms: Stat;
  barge_in_clear_sent_ms: Stat;
  barge_in_cleared_ms: Stat;
  gaps_ms: Stat & { total: number };
  turns: TurnLatency[];
}

export interface LatencySink {
  greeting(stage: 'sent' | 'played', ms: number): void;
  response(ms: number): void;
  bargeIn(stage: 'clear_sent' | 'cleared', ms: number): void;
  gap(ms: number): void;
  /** Each agent turn's start (the demo prints these). */
  turn?(t: TurnLatency): void;
}

/** Samples kept per statistic per call (a long call keeps its latest). */
const MAX_SAMPLES = 2000;
/** A barge-in is matched to a caller onset at most this long before the clearAudio. */
const BARGE_IN_WINDOW_MS = 5000;
/** A response is matched to an end of speech at most this long before the agent's turn. */
const RESPONSE_WINDOW_MS = 30_000;

class Samples {
  readonly values: number[] = [];
  add(v: number): void {
    if (this.values.length >= MAX_SAMPLES) this.values.shift();
    this.values.push(v);
  }
  stat(): Stat {
    return statOf(this.values);
  }
}

export function statOf(values: readonly number[]): Stat {
  if (values.length === 0) return { count: 0, p50: 0, p95: 0, max: 0 };
  const s = [...values].sort((a, b) => a - b);
  // Nearest rank: the smallest value with at least p% of the samples at or below it.
  const rank = (p: number) => s[Math.max(0, Math.ceil((p / 100) * s.length) - 1)]!;
  const r = (v: number) => Math.round(v * 10) / 10;
  return { count: s.length, p50: r(rank(50)), p95: r(rank(95)), max: r(s[s.length - 1]!) };
}

export class CallLatency {
  readonly #sink: LatencySink;
  readonly #answerAt: number;
  readonly vad: EnergyVad;
  #firstFrameAt = 0;
  #greetingPlayedAt = 0;
  #turnOpen = false;
  #turnEnding = false;
  /** The caller spoke since the agent's last turn started. */
  #callerSpokeSinceAgent = false;
  #agentPlayingUntil = 0;
  #lastOnsetUsed = -1;
  #pendingClearOnset = 0;
  readonly #response = new Samples();
  readonly #clearSent = new Samples();
  readonly #cleared = new Samples();
  readonly #gaps = new Samples();
  #gapTotal = 0;
  readonly #turns: TurnLatency[] = [];

  constructor(answerAt: number, sink: LatencySink, vad?: Partial<VadOptions>) {
    this.#answerAt = answerAt;
    this.#sink = sink;
    this.vad = new EnergyVad(vad);
  }

  callerAudio(pcm16k: Int16Array, at: number): void {
    this.vad.push(pcm16k, at, (pcm16k.length / 16_000) * 1000);
    if (this.vad.speaking) this.#callerSpokeSinceAgent = true;
  }

  playAudio(at: number, playAt: number, lateMs: number, frameMs: number): void {
    this.#agentPlayingUntil = playAt + frameMs;
    if (this.#firstFrameAt === 0) {
      this.#firstFrameAt = at;
      const ms = at - this.#answerAt;
      this.#sink.greeting('sent', ms);
      this.#startTurn({ kind: 'greeting', ms, atMs: ms });
      this.#turnOpen = true;
      return;
    }
    if (!this.#turnOpen || (this.#turnEnding && lateMs > 0)) {
      this.#turnOpen = true;
      this.#turnEnding = false;
      this.#newAgentTurn(at);
      return;
    }
    if (lateMs > 0) {
      this.#gaps.add(lateMs);
      this.#gapTotal += lateMs;
      this.#sink.gap(lateMs);
    }
  }

  #newAgentTurn(at: number): void {
    const vad = this.vad;
    const spoke = this.#callerSpokeSinceAgent;
    this.#callerSpokeSinceAgent = false;
    // Only a turn that follows the caller's finished speech is a response (not one the agent starts on its own,
    // and not one that talks over a caller who has not stopped).
    if (!spoke || vad.lastSpeechAt === 0 || at - vad.lastSpeechAt > RESPONSE_WINDOW_MS) return;
    if (at - vad.lastSpeechAt < 20) return;
    const ms = at - vad.lastSpeechAt;
    this.#response.add(ms);
    this.#sink.response(ms);
    this.#startTurn({ kind: 'response', ms, atMs: at - this.#answerAt });
  }

  #startTurn(t: TurnLatency): void {
    const r = { kind: t.kind, ms: Math.round(t.ms), atMs: Math.round(t.atMs) };
    if (this.#turns.length < MAX_SAMPLES) this.#turns.push(r);
    this.#sink.turn?.(r);
  }

  agentTurnEnd(): void {
    if (this.#turnOpen) this.#turnEnding = true;
  }

  clearAudio(at: number): void {
    this.#turnOpen = false;
    this.#turnEnding = false;
    const onset = this.vad.onsetAt;
    if (onset === 0 || onset === this.#lastOnsetUsed || at - onset > BARGE_IN_WINDOW_MS || onset > at) return;
    this.#lastOnsetUsed = onset;
    this.#pendingClearOnset = onset;
    const ms = at - onset;
    this.#clearSent.add(ms);
    this.#sink.bargeIn('clear_sent', ms);
  }

  clearedAudio(at: number): void {
    const onset = this.#pendingClearOnset;
    if (onset === 0) return;
    this.#pendingClearOnset = 0;
    const ms = at - onset;
    this.#cleared.add(ms);
    this.#sink.bargeIn('cleared', ms);
  }

  playedStream(at: number): void {
    if (this.#firstFrameAt === 0 || this.#greetingPlayedAt !== 0) return;
    this.#greetingPlayedAt = at;
    this.#sink.greeting('played', at - this.#answerAt);
  }

  /** Whether agent audio is playing at `at` by the real-time estimate. */
  agentPlaying(at: number): boolean {
    return at < this.#agentPlayingUntil;
  }

  summary(): LatencySummary {
    const round = (v: number) => Math.round(v);
    return {
      greeting_sent_ms: this.#firstFrameAt === 0 ? undefined : round(this.#firstFrameAt - this.#answerAt),
      greeting_played_ms: this.#greetingPlayedAt === 0 ? undefined : round(this.#greetingPlayedAt - this.#answerAt),
      response_ms: this.#response.stat(),
      barge_in_clear_sent_ms: this.#clearSent.stat(),
      barge_in_cleared_ms: this.#cleared.stat(),
      gaps_ms: { ...this.#gaps.stat(), total: Math.round(this.#gapTotal) },
      turns: [...this.#turns],
    };
  }
}

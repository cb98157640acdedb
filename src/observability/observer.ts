// Subscribes to the wire probes (src/probes/channels.ts) and keeps, per stream of this gateway, the call's latency
// tracker and (RECORDING=on) its two-channel recorder. Streams are registered through the call router wrapper, so
// several gateways in one process (tests) each see only their own calls.
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { join } from 'node:path';
import { FRAME_MS } from '../contract/media.ts';
import type {
  CallerAudioProbe,
  PlayAudioProbe,
  PlayedProbe,
  ProbedStream,
  StreamEndProbe,
  StreamProbe,
  StreamStartProbe,
} from '../probes/channels.ts';
import { probes } from '../probes/channels.ts';
import { TwoChannelRecorder } from '../recording/recorder.ts';
import { CallLatency, type LatencySink, type LatencySummary } from './latency.ts';

export interface StreamOutcome {
  callId: string;
  recordId: string;
  latency: LatencySummary;
  /** The finished recording (a file still to be stored), when recording is on. */
  recording?: Promise<
    { path: string; durationS: number; sampleRate: number; agentFrames: number; cuts: number } | undefined
  >;
}

export interface WireObserverOptions {
  sink: LatencySink;
  /** Directory for recordings in progress; recording is off without it. */
  recordingTmpDir?: string | undefined;
  /** Called once per registered stream when it ends. */
  onStreamEnd(outcome: StreamOutcome): void;
  now?: () => number;
}

interface Entry {
  callId: string;
  recordId: string;
  latency: CallLatency;
  recorder: TwoChannelRecorder | undefined;
  frameMs: number;
}

/** Answer times kept for streams that have not started yet, at most this long. */
const ANSWER_TTL_MS = 120_000;
const MAX_ANSWERS = 100_000;

export class WireObserver {
  readonly #o: WireObserverOptions;
  readonly #entries = new Map<ProbedStream, Entry>();
  /** `start` probes of every gateway in the process; only streams this gateway attaches become entries. */
  readonly #starts = new WeakMap<ProbedStream, { at: number; encoding: 'mulaw' | 'l16'; sampleRate: number }>();
  readonly #answers = new Map<string, number>();
  readonly #now: () => number;
  #subscribed = false;

  constructor(o: WireObserverOptions) {
    this.#o = o;
    this.#now = o.now ?? (() => performance.now());
  }

  /** The answer webhook for `callId` arrived now: greeting latency counts from here. */
  answered(callId: string): void {
    const now = this.#now();
    this.#answers.set(callId, now);
    if (this.#answers.size > MAX_ANSWERS) {
      for (const [id, at] of this.#answers) {
        if (now - at < ANSWER_TTL_MS && this.#answers.size <= MAX_ANSWERS) break;
        this.#answers.delete(id);
      }
    }
  }

  /** A stream of this gateway is being attached: call before the call handler can send audio on it. */
  expect(stream: ProbedStream, recordId: string, sink: LatencySink = this.#o.sink): void {
    const st = this.#starts.get(stream);
    if (!st || this.#entries.has(stream)) return;
    this.#starts.delete(stream);
    const callId = stream.callId;
    const answerAt = this.#answers.get(callId) ?? st.at;
    this.#answers.delete(callId);
    const dir = this.#o.recordingTmpDir;
    const recorder =
      dir === undefined
        ? undefined
        : new TwoChannelRecorder({
            path: join(dir, `${safeName(recordId)}.${Date.now()}.wav.part`),
            encoding: st.encoding,
            sampleRate: st.sampleRate,
            t0: st.at,
          });
    this.#entries.set(stream, {
      callId,
      recordId,
      latency: new CallLatency(answerAt, sink),
      recorder,
      frameMs: FRAME_MS,
    });
  }

  get activeStreams(): number {
    return this.#entries.size;
  }

  start(): void {
    if (this.#subscribed) return;
    this.#subscribed = true;
    subscribe(probes.streamStart.name, this.#onStart);
    subscribe(probes.callerAudio.name, this.#onCaller);
    subscribe(probes.playAudio.name, this.#onPlay);
    subscribe(probes.agentTurnEnd.name, this.#onTurnEnd);
    subscribe(probes.clearAudio.name, this.#onClear);
    subscribe(probes.clearedAudio.name, this.#onCleared);
    subscribe(probes.playedStream.name, this.#onPlayed);
    subscribe(probes.streamEnd.name, this.#onEnd);
  }

  stop(): void {
    if (!this.#subscribed) return;
    this.#subscribed = false;
    unsubscribe(probes.streamStart.name, this.#onStart);
    unsubscribe(probes.callerAudio.name, this.#onCaller);
    unsubscribe(probes.playAudio.name, this.#onPlay);
    unsubscribe(probes.agentTurnEnd.name, this.#onTurnEnd);
    unsubscribe(probes.clearAudio.name, this.#onClear);
    unsubscribe(probes.clearedAudio.name, this.#onCleared);
    unsubscribe(probes.playedStream.name, this.#onPlayed);
    unsubscribe(probes.streamEnd.name, this.#onEnd);
    for (const e of this.#entries.values()) void e.recorder?.discard();
    this.#entries.clear();
  }

  readonly #onStart = (msg: unknown): void => {
    const m = msg as StreamStartProbe;
    this.#starts.set(m.stream, { at: m.at, encoding: m.encoding, sampleRate: m.sampleRate });
  };

  readonly #onCaller = (msg: unknown): void => {
    const m = msg as CallerAudioProbe;
    const e = this.#entries.get(m.stream);
    if (!e) return;
    e.latency.callerAudio(m.pcm16k, m.at);
    e.recorder?.caller(m.pcm16k, m.at);
  };

  readonly #onPlay = (msg: unknown): void => {
    const m = msg as PlayAudioProbe;
    const e = this.#entries.get(m.stream);
    if (!e) return;
    e.latency.playAudio(m.at, m.playAt, m.lateMs, e.frameMs);
    e.recorder?.agent(m.bytes, m.offset, m.length, m.playAt);
  };

  readonly #onTurnEnd = (msg: unknown): void => {
    this.#entries.get((msg as StreamProbe).stream)?.latency.agentTurnEnd();
  };

  readonly #onClear = (msg: unknown): void => {
    const m = msg as StreamProbe;
    const e = this.#entries.get(m.stream);
    if (!e) return;
    e.latency.clearAudio(m.at);
    e.recorder?.cut(m.at);
  };

  readonly #onCleared = (msg: unknown): void => {
    const m = msg as StreamProbe;
    this.#entries.get(m.stream)?.latency.clearedAudio(m.at);
  };

  readonly #onPlayed = (msg: unknown): void => {
    const m = msg as PlayedProbe;
    this.#entries.get(m.stream)?.latency.playedStream(m.at);
  };

  readonly #onEnd = (msg: unknown): void => {
    const m = msg as StreamEndProbe;
    const e = this.#entries.get(m.stream);
    if (!e) return;
    this.#entries.delete(m.stream);
    const outcome: StreamOutcome = { callId: e.callId, recordId: e.recordId, latency: e.latency.summary() };
    const rec = e.recorder;
    if (rec) {
      outcome.recording = rec
        .close()
        .then((durationS) => ({
          path: rec.path,
          durationS,
          sampleRate: rec.sampleRate,
          agentFrames: rec.agentFrames,
          cuts: rec.cuts,
        }))
        .catch(async () => {
          await rec.discard();
          return undefined;
        });
    }
    this.#o.onStreamEnd(outcome);
  };
}

/** Record ids become file names: keep them to a safe alphabet. */
export function safeName(id: string): string {
  return id.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 128);
}

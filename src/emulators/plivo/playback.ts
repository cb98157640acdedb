// What Plivo does with the audio the gateway sends: checks each playAudio the way Plivo does, queues it on a
// real-time timeline, acknowledges checkpoints once the audio before them has played, and drops un-played audio
// on clearAudio.
import { bytesPerMs, type StreamFormat } from './audio-source.ts';
import type { PlayedChunk } from './types.ts';

/** Plivo's playback queue holds about a minute of audio. */
const MAX_QUEUED_MS = 60_000;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

export interface PlaybackCounters {
  playAudio: number;
  playedBytes: number;
  clearedBytes: number;
  firstPlayAt: number;
  lastPlayAt: number;
}

/** The payload bytes of a playAudio Plivo would accept on this stream, or why it would not (`incorrectPayload`). */
export function checkPlayAudio(
  msg: Record<string, unknown>,
  fmt: StreamFormat,
  bidirectional: boolean,
): Uint8Array | string {
  if (!bidirectional) return 'incorrectPayload: playAudio on a stream that is not bidirectional';
  const media = msg.media;
  if (typeof media !== 'object' || media === null || Array.isArray(media)) {
    return 'incorrectPayload: playAudio without a media object';
  }
  const { contentType, sampleRate, payload } = media as Record<string, unknown>;
  if (contentType !== 'audio/x-mulaw' && contentType !== 'audio/x-l16') {
    return `incorrectPayload: contentType ${JSON.stringify(contentType)} (must be audio/x-mulaw or audio/x-l16)`;
  }
  if (typeof sampleRate !== 'number') {
    return `incorrectPayload: sampleRate ${JSON.stringify(sampleRate)} is not a number`;
  }
  if (!(sampleRate === 8000 || (sampleRate === 16000 && contentType === 'audio/x-l16'))) {
    return `incorrectPayload: ${contentType} at ${sampleRate} Hz is not supported`;
  }
  if (contentType !== fmt.encoding || sampleRate !== fmt.sampleRate) {
    return `incorrectPayload: ${contentType}@${sampleRate} does not match the stream's ${fmt.encoding}@${fmt.sampleRate}`;
  }
  if (typeof payload !== 'string' || payload.length === 0) return 'incorrectPayload: payload missing or empty';
  if (payload.length % 4 !== 0 || !BASE64.test(payload)) return 'incorrectPayload: payload is not valid base64';
  const bytes = new Uint8Array(Buffer.from(payload, 'base64'));
  if (contentType === 'audio/x-mulaw' && bytes.length > 160) {
    return `incorrectPayload: ${bytes.length} bytes of μ-law in one playAudio (max 160 = 20 ms)`;
  }
  if (contentType === 'audio/x-l16' && bytes.length % 2 !== 0) {
    return `incorrectPayload: odd L16 payload length ${bytes.length}`;
  }
  return bytes;
}

export class Playback {
  /** Accepted audio in play order (only when recording). */
  readonly played: PlayedChunk[] = [];
  fmt: StreamFormat = { encoding: 'audio/x-mulaw', sampleRate: 8000 };
  private readonly counters: PlaybackCounters;
  private readonly record: boolean;
  /** performance.now() at which everything queued so far has played. */
  private endAt = 0;
  private pending: Array<{ name: string; dueAt: number }> = [];

  constructor(counters: PlaybackCounters, record: boolean) {
    this.counters = counters;
    this.record = record;
  }

  /** Queues accepted audio received at `at`; returns an error when Plivo's queue would overflow. */
  play(bytes: Uint8Array, at: number): string | undefined {
    const startAt = Math.max(at, this.endAt);
    const endAt = startAt + bytes.length / bytesPerMs(this.fmt);
    if (endAt - at > MAX_QUEUED_MS) return 'playback queue over 60 s: playAudio dropped';
    this.endAt = endAt;
    const c = this.counters;
    c.playedBytes += bytes.length;
    if (c.firstPlayAt === 0) c.firstPlayAt = at;
    c.lastPlayAt = at;
    if (this.record) this.played.push({ at, startAt, endAt, data: bytes, playedBytes: bytes.length });
    return undefined;
  }

  /** True when the checkpoint is reached already; otherwise it is due when the queued audio ends. */
  checkpoint(name: string, at: number): boolean {
    if (this.endAt <= at) return true;
    this.pending.push({ name, dueAt: this.endAt });
    return false;
  }

  /** Names of the checkpoints reached by `now`, in order. */
  due(now: number, reached: (name: string) => void): void {
    const p = this.pending;
    while (p.length > 0 && p[0]!.dueAt <= now) reached(p.shift()!.name);
  }

  /** Drops what has not played by `at` (cutting the chunk that is playing) and the checkpoints behind it. */
  clear(at: number): void {
    const sampleBytes = this.fmt.encoding === 'audio/x-l16' ? 2 : 1;
    const bpm = bytesPerMs(this.fmt);
    if (this.record) {
      for (let i = this.played.length - 1; i >= 0; i--) {
        const c = this.played[i]!;
        if (c.endAt <= at) break;
        const keep = c.startAt >= at ? 0 : Math.floor(((at - c.startAt) * bpm) / sampleBytes) * sampleBytes;
        this.counters.clearedBytes += c.playedBytes - keep;
        c.playedBytes = keep;
      }
    } else if (this.endAt > at) {
      this.counters.clearedBytes += Math.round((this.endAt - at) * bpm);
    }
    if (this.endAt > at) this.endAt = at;
    // That audio will never play, so Plivo never acknowledges the checkpoints after it.
    this.pending = [];
  }

  /** The bytes that played (or will), in order, without what was cleared. */
  bytes(): Uint8Array {
    let total = 0;
    for (const c of this.played) total += c.playedBytes;
    const out = new Uint8Array(total);
    let off = 0;
    for (const c of this.played) {
      out.set(c.playedBytes === c.data.length ? c.data : c.data.subarray(0, c.playedBytes), off);
      off += c.playedBytes;
    }
    return out;
  }
}

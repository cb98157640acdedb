// A two-channel recording of one call on its real timeline: caller on the left, agent on the right, at the stream's
// own rate (8 kHz for μ-law). The agent channel holds what was played: each frame is placed at the time Plivo plays
// it by the pacing estimate (not when it was sent, 60 ms earlier), and a clearAudio removes everything placed at or
// after the moment it was sent, so a barge-in cut is visible where it happened.
//
// Memory stays bounded per call: samples live in a small window (interleaved stereo) and the settled part is
// appended to a file as the call goes on (a frame can only change until it has played, ≤ lead ahead of now).
import { createWriteStream, type WriteStream } from 'node:fs';
import { open, rename, unlink } from 'node:fs/promises';
import { ULAW_DECODE_TABLE } from '../audio/g711.ts';
import { wavHeader } from '../audio/wav.ts';

const WINDOW_S = 4;

export interface RecorderOptions {
  /** Where the file is written while the call runs (renamed by the caller when done). */
  path: string;
  encoding: 'mulaw' | 'l16';
  sampleRate: number;
  /** The stream's clock at `start`, ms: time zero of the recording. */
  t0: number;
}

export class TwoChannelRecorder {
  readonly path: string;
  readonly sampleRate: number;
  readonly #encoding: 'mulaw' | 'l16';
  readonly #t0: number;
  readonly #perMs: number;
  readonly #file: WriteStream;
  #fileError: Error | undefined;
  /** Interleaved L/R window starting at sample #base. */
  #win: Int16Array;
  #base = 0;
  /** Next caller sample position (caller frames are contiguous once started). */
  #callerPos = -1;
  /** End of what has been written in each channel (absolute sample positions). */
  #callerEnd = 0;
  #agentEnd = 0;
  /** PCM bytes appended after the header placeholder. */
  #flushedBytes = 0;
  #closed = false;
  /** Agent audio frames placed / cut by a clear, for tests and the record. */
  agentFrames = 0;
  cuts = 0;

  constructor(o: RecorderOptions) {
    this.path = o.path;
    this.sampleRate = o.sampleRate;
    this.#encoding = o.encoding;
    this.#t0 = o.t0;
    this.#perMs = o.sampleRate / 1000;
    this.#win = new Int16Array(WINDOW_S * o.sampleRate * 2);
    this.#file = createWriteStream(o.path);
    this.#file.on('error', (err) => {
      this.#fileError = err;
    });
    // Header placeholder; the real one is written at close, when the size is known.
    this.#file.write(Buffer.alloc(44));
  }

  #pos(at: number): number {
    return Math.max(0, Math.round((at - this.#t0) * this.#perMs));
  }

  /** Makes room so that [pos, pos + n) fits in the window (flushing settled audio); false if pos is already flushed. */
  #room(pos: number, n: number): boolean {
    if (pos < this.#base) return false;
    const frames = this.#win.length / 2;
    if (pos + n > this.#base + frames) {
      // Keep a second of history so late placements (lead, jitter) still land; flush the rest.
      const keepFrom = Math.max(this.#base, pos + n - frames + this.sampleRate);
      const newBase = Math.min(keepFrom, pos);
      const drop = newBase - this.#base;
      if (drop > 0) this.#flushFrames(Math.min(drop, frames), drop);
    }
    return pos + n <= this.#base + frames;
  }

  #flushFrames(inWindow: number, advance: number): void {
    const win = this.#win;
    const bytes = Buffer.from(win.buffer, win.byteOffset, inWindow * 4);
    this.#write(Buffer.from(bytes));
    if (advance > inWindow) this.#write(Buffer.alloc((advance - inWindow) * 4));
    win.copyWithin(0, inWindow * 2);
    win.fill(0, win.length - inWindow * 2);
    this.#base += advance;
  }

  #write(buf: Buffer): void {
    this.#flushedBytes += buf.length;
    if (!this.#fileError) this.#file.write(buf);
  }

  /** 20 ms of caller audio (PCM16 16 kHz) that arrived at `at` (the end of the frame). */
  caller(pcm16k: Int16Array, at: number): void {
    if (this.#closed) return;
    const ratio = 16_000 / this.sampleRate;
    const n = Math.floor(pcm16k.length / ratio);
    if (this.#callerPos < 0) this.#callerPos = Math.max(0, this.#pos(at) - n);
    const pos = this.#callerPos;
    this.#callerPos += n;
    if (!this.#room(pos, n)) return;
    const win = this.#win;
    let w = (pos - this.#base) * 2;
    if (ratio === 1) {
      for (let i = 0; i < n; i++, w += 2) win[w] = pcm16k[i]!;
    } else {
      // 16 → 8 kHz: a two-tap average is enough for speech that came in as 8 kHz μ-law.
      for (let i = 0; i < n; i++, w += 2) win[w] = (pcm16k[2 * i]! + pcm16k[2 * i + 1]!) >> 1;
    }
    if (pos + n > this.#callerEnd) this.#callerEnd = pos + n;
  }

  /** One agent frame as sent (stream format) that plays from `playAt`. */
  agent(bytes: Uint8Array, offset: number, length: number, playAt: number): void {
    if (this.#closed) return;
    const n = this.#encoding === 'mulaw' ? length : length >> 1;
    const pos = this.#pos(playAt);
    if (!this.#room(pos, n)) return;
    const win = this.#win;
    let w = (pos - this.#base) * 2 + 1;
    if (this.#encoding === 'mulaw') {
      for (let i = 0; i < n; i++, w += 2) win[w] = ULAW_DECODE_TABLE[bytes[offset + i]!]!;
    } else {
      for (let i = 0; i < n; i++, w += 2) {
        const lo = bytes[offset + 2 * i]!;
        const hi = bytes[offset + 2 * i + 1]!;
        win[w] = ((hi << 24) >> 16) | lo;
      }
    }
    this.agentFrames++;
    if (pos + n > this.#agentEnd) this.#agentEnd = pos + n;
  }

  /** clearAudio sent at `at`: nothing placed from then on was heard. */
  cut(at: number): void {
    if (this.#closed) return;
    const pos = Math.max(this.#pos(at), this.#base);
    if (pos >= this.#agentEnd) return;
    const win = this.#win;
    const end = Math.min(this.#agentEnd - this.#base, win.length / 2);
    for (let i = pos - this.#base; i < end; i++) win[i * 2 + 1] = 0;
    this.#agentEnd = pos;
    this.cuts++;
  }

  /** Writes what is left and the header. Resolves with the file's duration in seconds. */
  async close(): Promise<number> {
    if (this.#closed) return 0;
    this.#closed = true;
    const end = Math.max(this.#callerEnd, this.#agentEnd, this.#base);
    const inWindow = end - this.#base;
    if (inWindow > 0) this.#flushFrames(inWindow, inWindow);
    await new Promise<void>((resolve) => this.#file.end(resolve));
    if (this.#fileError) throw this.#fileError;
    const fh = await open(this.path, 'r+');
    try {
      await fh.write(wavHeader({ sampleRate: this.sampleRate, channels: 2, dataBytes: this.#flushedBytes }), 0, 44, 0);
    } finally {
      await fh.close();
    }
    return this.#flushedBytes / 4 / this.sampleRate;
  }

  /** Drops the file (the call ended before there was anything worth keeping, or storage failed). */
  async discard(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      await new Promise<void>((resolve) => this.#file.end(resolve));
    }
    await unlink(this.path).catch(() => {});
  }

  static async move(from: string, to: string): Promise<void> {
    await rename(from, to);
  }
}

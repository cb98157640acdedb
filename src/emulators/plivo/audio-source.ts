// Turns an AudioSource into the caller's side of the stream: PCM at the stream's rate, then pre-encoded base64
// 20 ms frames. Frames are cached per source object (and per WAV path), so a thousand calls playing the same
// prompt share one array and the media tick only concatenates strings.
import { readFile } from 'node:fs/promises';
import { resample } from './resample.ts';
import type { AudioSource } from './types.ts';
import { ulawEncode } from './ulaw.ts';
import { parseWav } from './wav.ts';

export type Encoding = 'audio/x-mulaw' | 'audio/x-l16';

export interface StreamFormat {
  encoding: Encoding;
  sampleRate: 8000 | 16000;
}

export const FRAME_MS = 20;

export function frameBytes(fmt: StreamFormat): number {
  const samples = (fmt.sampleRate * FRAME_MS) / 1000;
  return fmt.encoding === 'audio/x-mulaw' ? samples : samples * 2;
}

/** Bytes per millisecond of audio in this format. */
export function bytesPerMs(fmt: StreamFormat): number {
  return frameBytes(fmt) / FRAME_MS;
}

export async function renderPcm(src: AudioSource, rate: number): Promise<Int16Array> {
  switch (src.kind) {
    case 'wav': {
      const wav = parseWav(await readFile(src.path));
      return resample(wav.samples, wav.sampleRate, rate);
    }
    case 'pcm':
      return resample(src.samples, src.sampleRate, rate);
    case 'tone': {
      const n = Math.round((src.ms * rate) / 1000);
      return toneSamples(src.hz, clamp01(src.amplitude ?? 0.3) * 32767, rate, 0, n);
    }
    case 'silence':
      return new Int16Array(Math.round((src.ms * rate) / 1000));
    case 'noise': {
      const n = Math.round((src.ms * rate) / 1000);
      const amp = clamp01(src.amplitude ?? 0.1) * 32767;
      const out = new Int16Array(n);
      let x = (src.seed ?? 0x2545f491) | 0 || 1;
      for (let i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >>> 17;
        x ^= x << 5;
        out[i] = Math.round(((x >>> 0) / 0xffffffff - 0.5) * 2 * amp);
      }
      return out;
    }
    case 'sequence': {
      const parts = await Promise.all(src.parts.map((p) => renderPcm(p, rate)));
      const out = new Int16Array(parts.reduce((a, p) => a + p.length, 0));
      let off = 0;
      for (const p of parts) {
        out.set(p, off);
        off += p.length;
      }
      return out;
    }
    default:
      throw new Error(`unknown audio source kind ${(src as { kind: string }).kind}`);
  }
}

export function encodePcm(pcm: Int16Array, fmt: StreamFormat): Uint8Array {
  if (fmt.encoding === 'audio/x-mulaw') return ulawEncode(pcm);
  const out = new Uint8Array(pcm.length * 2);
  const v = new DataView(out.buffer);
  for (let i = 0; i < pcm.length; i++) v.setInt16(i * 2, pcm[i]!, true);
  return out;
}

export function decodeL16(bytes: Uint8Array): Int16Array {
  const n = bytes.length >> 1;
  const out = new Int16Array(n);
  const v = new DataView(bytes.buffer, bytes.byteOffset, n * 2);
  for (let i = 0; i < n; i++) out[i] = v.getInt16(i * 2, true);
  return out;
}

/** Splits encoded audio into base64 20 ms frames; the last one is padded with silence. */
export function toFrames(encoded: Uint8Array, fmt: StreamFormat): string[] {
  const size = frameBytes(fmt);
  const frames: string[] = [];
  const pad = fmt.encoding === 'audio/x-mulaw' ? 0xff : 0;
  for (let off = 0; off < encoded.length; off += size) {
    let chunk = encoded.subarray(off, off + size);
    if (chunk.length < size) {
      const full = new Uint8Array(size).fill(pad);
      full.set(chunk);
      chunk = full;
    }
    frames.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length).toString('base64'));
  }
  return frames;
}

/**
 * A run of pre-encoded frames: frame k is `cycle[k % cycle.length]` for k < count, then `tail` if set. Periodic
 * sources (tones, silence, long noise) keep one period instead of every frame, so an hour-long tone on each of a
 * thousand calls costs a few kilobytes per call.
 */
export interface FramePiece {
  cycle: string[];
  count: number;
  tail: string | undefined;
}

export function pieceLength(p: FramePiece): number {
  return p.count + (p.tail === undefined ? 0 : 1);
}

export function pieceFrame(p: FramePiece, k: number): string {
  return k < p.count ? p.cycle[k % p.cycle.length]! : p.tail!;
}

/** Sequences longer than this are framed part by part (each part padded to 20 ms) instead of rendered whole. */
const MAX_RENDERED_SEQUENCE_MS = 60_000;
/** Long noise repeats a one-second loop. */
const NOISE_LOOP_MS = 1000;

const bySource = new WeakMap<AudioSource, Map<string, Promise<FramePiece[]>>>();
const byWavPath = new Map<string, Promise<FramePiece[]>>();
const silence = new Map<string, string>();

export function framesFor(src: AudioSource, fmt: StreamFormat): Promise<FramePiece[]> {
  const key = `${fmt.encoding}/${fmt.sampleRate}`;
  if (src.kind === 'wav') {
    const pathKey = `${key}|${src.path}`;
    let p = byWavPath.get(pathKey);
    if (!p) {
      p = build(src, fmt);
      byWavPath.set(pathKey, p);
      // A failed read is not cached: the test may create the file and retry.
      p.catch(() => byWavPath.delete(pathKey));
    }
    return p;
  }
  let perFmt = bySource.get(src);
  if (!perFmt) {
    perFmt = new Map();
    bySource.set(src, perFmt);
  }
  let p = perFmt.get(key);
  if (!p) {
    p = build(src, fmt);
    perFmt.set(key, p);
  }
  return p;
}

export function silenceFrame(fmt: StreamFormat): string {
  const key = `${fmt.encoding}/${fmt.sampleRate}`;
  let f = silence.get(key);
  if (!f) {
    f = toFrames(encodePcm(new Int16Array(frameSamples(fmt)), fmt), fmt)[0]!;
    silence.set(key, f);
  }
  return f;
}

function frameSamples(fmt: StreamFormat): number {
  return (fmt.sampleRate * FRAME_MS) / 1000;
}

async function build(src: AudioSource, fmt: StreamFormat): Promise<FramePiece[]> {
  const rate = fmt.sampleRate;
  const fs = frameSamples(fmt);
  switch (src.kind) {
    case 'silence':
      return [
        { cycle: [silenceFrame(fmt)], count: Math.ceil(Math.round((src.ms * rate) / 1000) / fs), tail: undefined },
      ];
    case 'tone': {
      const n = Math.round((src.ms * rate) / 1000);
      const full = Math.floor(n / fs);
      if (Number.isInteger(src.hz) && src.hz > 0) {
        // sin(2π·hz·i/rate) repeats every rate/gcd(rate, hz) samples; one common period with the frame size suffices.
        const period = rate / gcd(rate, src.hz);
        const cycleFrames = lcm(fs, period) / fs;
        if (full > cycleFrames) {
          const amp = clamp01(src.amplitude ?? 0.3) * 32767;
          const cycle = toFrames(encodePcm(toneSamples(src.hz, amp, rate, 0, cycleFrames * fs), fmt), fmt);
          const tail = n > full * fs ? toneSamples(src.hz, amp, rate, full * fs, n) : undefined;
          return [{ cycle, count: full, tail: tail ? toFrames(encodePcm(tail, fmt), fmt)[0] : undefined }];
        }
      }
      break;
    }
    case 'noise': {
      const n = Math.round((src.ms * rate) / 1000);
      if (src.ms > NOISE_LOOP_MS) {
        const cycle = toFrames(encodePcm(await renderPcm({ ...src, ms: NOISE_LOOP_MS }, rate), fmt), fmt);
        return [{ cycle, count: Math.ceil(n / fs), tail: undefined }];
      }
      break;
    }
    case 'sequence':
      if (src.parts.some((p) => p.kind === 'wav') || estimateMs(src) > MAX_RENDERED_SEQUENCE_MS) {
        const pieces = await Promise.all(src.parts.map((p) => framesFor(p, fmt)));
        return pieces.flat();
      }
      break;
  }
  const frames = toFrames(encodePcm(await renderPcm(src, rate), fmt), fmt);
  return [{ cycle: frames, count: frames.length, tail: undefined }];
}

function toneSamples(hz: number, amp: number, rate: number, from: number, to: number): Int16Array {
  const out = new Int16Array(to - from);
  const w = (2 * Math.PI * hz) / rate;
  for (let i = from; i < to; i++) out[i - from] = Math.round(amp * Math.sin(w * i));
  return out;
}

function estimateMs(src: AudioSource): number {
  switch (src.kind) {
    case 'pcm':
      return (src.samples.length * 1000) / src.sampleRate;
    case 'sequence':
      return src.parts.reduce((a, p) => a + estimateMs(p), 0);
    case 'wav':
      return Number.POSITIVE_INFINITY;
    default:
      return src.ms;
  }
}

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

function lcm(a: number, b: number): number {
  return (a / gcd(a, b)) * b;
}

function clamp01(x: number): number {
  return Math.max(0, Math.min(1, x));
}

// Shared test helpers: the backends to run every suite against, and float64 measurement tools (windowed DFT at
// one frequency, the ideal band-limited output of a sine) that share no code with src/audio.
import { loadAudioBackend } from '../../src/audio/backend.ts';
import { tsBackend } from '../../src/audio/ts-backend.ts';
import type { AudioBackend } from '../../src/audio/types.ts';

function nativeOrUndefined(): AudioBackend | undefined {
  try {
    return loadAudioBackend('native').backend;
  } catch (err) {
    // CI always builds the addon: a load failure there is a bug, not a reason to test less.
    if (process.env.CI) throw err;
    return undefined;
  }
}

export const nativeBackend: AudioBackend | undefined = nativeOrUndefined();
export const backends: AudioBackend[] = nativeBackend ? [tsBackend, nativeBackend] : [tsBackend];
export const backendCases = backends.map((b) => [b.name, b] as const);
export { RATE_PAIRS, toneAmplitude } from '../../bench/signal.ts';
export { tsBackend };

export function sine(n: number, rate: number, freq: number, amp: number, phase = 0.3): Int16Array {
  const out = new Int16Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.round(amp * Math.sin((2 * Math.PI * freq * i) / rate + phase));
  return out;
}

/** Uniform random PCM16 from a seeded LCG (reproducible failures). */
export function randomPcm(n: number, seed = 1): Int16Array {
  const out = new Int16Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (s >>> 16) - 32768;
  }
  return out;
}

/** Phase (radians) of the component at `freq`, referred to sample index 0. */
export function tonePhase(x: ArrayLike<number>, rate: number, freq: number, from: number, len: number): number {
  let re = 0;
  let im = 0;
  const k = (2 * Math.PI * freq) / rate;
  for (let i = 0; i < len; i++) {
    const w = 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / (len - 1));
    re += x[from + i]! * w * Math.cos(k * (from + i));
    im -= x[from + i]! * w * Math.sin(k * (from + i));
  }
  return Math.atan2(im, re);
}

/**
 * Float64 reference resampler for a sine: an ideal band-limited resampler with group delay `delay` (output samples)
 * turns A·sin(2πf·n/inRate + φ) into exactly A·sin(2πf·(m − delay)/outRate + φ). Returns the SNR (dB) of `y`
 * against that over y[from … from+len).
 */
export function snrAgainstIdealSine(
  y: Int16Array,
  outRate: number,
  freq: number,
  amp: number,
  delay: number,
  from: number,
  len: number,
  phase = 0.3,
): number {
  let sig = 0;
  let err = 0;
  for (let m = from; m < from + len; m++) {
    const ideal = amp * Math.sin((2 * Math.PI * freq * (m - delay)) / outRate + phase);
    sig += ideal * ideal;
    err += (y[m]! - ideal) ** 2;
  }
  return 10 * Math.log10(sig / err);
}

export const db = (ratio: number): number => 20 * Math.log10(ratio);

/** Runs a resampler over `input` cut into pieces of the given sizes (cycled), concatenating the output. */
export function runChunked(
  r: { maxOutput(n: number): number; process(i: Int16Array, o: Int16Array): number },
  input: Int16Array,
  sizes: readonly number[],
): Int16Array {
  const out = new Int16Array(r.maxOutput(input.length) + sizes.length + 8);
  let at = 0;
  let k = 0;
  for (let start = 0; start < input.length; k++) {
    const size = Math.max(1, sizes[k % sizes.length]!);
    const piece = input.subarray(start, Math.min(input.length, start + size));
    const tmp = new Int16Array(r.maxOutput(piece.length));
    const n = r.process(piece, tmp);
    out.set(tmp.subarray(0, n), at);
    at += n;
    start += piece.length;
  }
  return out.slice(0, at);
}

export function firstDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return -1;
}

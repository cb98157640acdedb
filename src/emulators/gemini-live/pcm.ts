// The emulator's own PCM helpers. Deliberately independent of src/audio: if the gateway's DSP had a bug, a shared
// helper would hide it from every test that uses the emulator.

/** Little-endian PCM16 bytes → samples (copies, so odd offsets in pooled Buffers are safe). */
export function bytesToInt16(bytes: Uint8Array): Int16Array {
  const n = bytes.length >> 1;
  const out = new Int16Array(n);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < n; i++) out[i] = view.getInt16(i * 2, true);
  return out;
}

export function int16ToBytes(samples: Int16Array): Buffer {
  const out = Buffer.alloc(samples.length * 2);
  for (let i = 0; i < samples.length; i++) out.writeInt16LE(samples[i] ?? 0, i * 2);
  return out;
}

/** RMS level of a PCM16 block in dBFS (full scale = 32768); -Infinity for digital silence or an empty block. */
export function rmsDbfs(samples: Int16Array, start = 0, end = samples.length): number {
  if (end <= start) return Number.NEGATIVE_INFINITY;
  let sum = 0;
  for (let i = start; i < end; i++) {
    const s = samples[i] ?? 0;
    sum += s * s;
  }
  const rms = Math.sqrt(sum / (end - start));
  return rms === 0 ? Number.NEGATIVE_INFINITY : 20 * Math.log10(rms / 32768);
}

/**
 * Linear-interpolation resampler. Good enough for the emulator's own assets (speech synthesised at 22.05 kHz, WAV
 * files): downsampling first averages with a box filter of the ratio's width to keep gross aliasing out.
 */
export function resample(input: Int16Array, fromRate: number, toRate: number): Int16Array {
  if (fromRate === toRate || input.length === 0) return input.slice();
  let src = input;
  if (toRate < fromRate) {
    const width = Math.max(1, Math.round(fromRate / toRate));
    if (width > 1) {
      const smoothed = new Int16Array(input.length);
      let acc = 0;
      for (let i = 0; i < input.length; i++) {
        acc += input[i] ?? 0;
        if (i >= width) acc -= input[i - width] ?? 0;
        smoothed[i] = Math.round(acc / Math.min(i + 1, width));
      }
      src = smoothed;
    }
  }
  const outLen = Math.max(1, Math.floor((src.length * toRate) / fromRate));
  const out = new Int16Array(outLen);
  const step = fromRate / toRate;
  for (let i = 0; i < outLen; i++) {
    const pos = i * step;
    const i0 = Math.floor(pos);
    const frac = pos - i0;
    const a = src[i0] ?? 0;
    const b = src[Math.min(i0 + 1, src.length - 1)] ?? a;
    out[i] = clamp16(a + (b - a) * frac);
  }
  return out;
}

export function clamp16(v: number): number {
  if (v > 32767) return 32767;
  if (v < -32768) return -32768;
  return Math.round(v);
}

export function concatInt16(parts: Int16Array[]): Int16Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Int16Array(n);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** A sine tone with 10 ms raised-cosine edges, so that it does not click. */
export function tone(rate: number, ms: number, freqHz: number, dbfs = -12): Int16Array {
  const n = Math.round((rate * ms) / 1000);
  const amp = 32767 * 10 ** (dbfs / 20);
  const edge = Math.min(Math.round(rate * 0.01), n >> 1);
  const out = new Int16Array(n);
  for (let i = 0; i < n; i++) {
    let env = 1;
    if (i < edge) env = 0.5 - 0.5 * Math.cos((Math.PI * i) / edge);
    else if (i >= n - edge) env = 0.5 - 0.5 * Math.cos((Math.PI * (n - 1 - i)) / edge);
    out[i] = clamp16(amp * env * Math.sin((2 * Math.PI * freqHz * i) / rate));
  }
  return out;
}

export function silence(rate: number, ms: number): Int16Array {
  return new Int16Array(Math.round((rate * ms) / 1000));
}

/** Milliseconds of PCM16 audio in `bytes` bytes at `rate`. */
export function pcmBytesToMs(bytes: number, rate: number): number {
  return (bytes / 2 / rate) * 1000;
}

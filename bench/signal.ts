// Float64 signal references shared by the audio tests and the quality bench: the rate pairs every resampler
// supports, and a windowed single-frequency DFT. They share no code with src/audio.

export const RATE_PAIRS: ReadonlyArray<readonly [number, number]> = [
  [8000, 16000],
  [24000, 8000],
  [16000, 8000],
  [8000, 24000],
  [16000, 24000],
  [24000, 16000],
];

/**
 * Amplitude of the component at `freq` in x[from … from+len), with a 4-term Blackman-Harris window (sidelobes
 * −92 dB, so a strong tone 1 kHz away does not leak into the measurement).
 */
export function toneAmplitude(x: ArrayLike<number>, rate: number, freq: number, from: number, len: number): number {
  let re = 0;
  let im = 0;
  let wsum = 0;
  const w0 = (2 * Math.PI) / (len - 1);
  const k = (2 * Math.PI * freq) / rate;
  for (let i = 0; i < len; i++) {
    const w = 0.35875 - 0.48829 * Math.cos(w0 * i) + 0.14128 * Math.cos(2 * w0 * i) - 0.01168 * Math.cos(3 * w0 * i);
    const v = x[from + i]! * w;
    re += v * Math.cos(k * (from + i));
    im -= v * Math.sin(k * (from + i));
    wsum += w;
  }
  return (2 * Math.hypot(re, im)) / wsum;
}

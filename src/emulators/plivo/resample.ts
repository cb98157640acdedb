// Offline resampler for test audio: windowed-sinc interpolation, run once per source and cached, so quality beats
// speed here. Cut-off follows the lower of the two rates so that downsampling does not alias.

const HALF_TAPS = 16;

export function resample(input: Int16Array, fromRate: number, toRate: number): Int16Array {
  if (fromRate === toRate) return input;
  if (!(fromRate > 0 && toRate > 0)) throw new RangeError('sample rates must be positive');
  const outLen = Math.floor((input.length * toRate) / fromRate);
  const out = new Int16Array(outLen);
  const ratio = fromRate / toRate;
  const cutoff = Math.min(1, toRate / fromRate);
  const halfWidth = HALF_TAPS / cutoff;
  for (let n = 0; n < outLen; n++) {
    const center = n * ratio;
    const lo = Math.max(0, Math.ceil(center - halfWidth));
    const hi = Math.min(input.length - 1, Math.floor(center + halfWidth));
    let acc = 0;
    let norm = 0;
    for (let k = lo; k <= hi; k++) {
      const x = k - center;
      const w = kernel(x * cutoff) * blackman(x / halfWidth);
      acc += input[k]! * w;
      norm += w;
    }
    const v = norm !== 0 ? acc / norm : 0;
    out[n] = v > 32767 ? 32767 : v < -32768 ? -32768 : Math.round(v);
  }
  return out;
}

function kernel(x: number): number {
  if (x === 0) return 1;
  const px = Math.PI * x;
  return Math.sin(px) / px;
}

/** Blackman window over [-1, 1]. */
function blackman(t: number): number {
  if (t <= -1 || t >= 1) return 0;
  const u = (t + 1) / 2;
  return 0.42 - 0.5 * Math.cos(2 * Math.PI * u) + 0.08 * Math.cos(4 * Math.PI * u);
}

// The one resampler design every rate pair uses: a rational L/M polyphase FIR whose prototype is a Kaiser-windowed
// sinc at the prototype rate inRate·L. It is computed here, in TS, and handed to the native addon as data, so both
// backends run the very same integer-valued coefficients and stay bit-identical.
//
// Band plan, relative to the lower of the two Nyquist frequencies fN (4 kHz whenever 8 kHz is involved):
//   passband 0 … 0.85·fN (0–3.4 kHz for telephony), stopband from 1.15·fN (4.6 kHz), cutoff at fN.
// Aliases and images of anything at or above 1.15·fN land in the passband at least STOPBAND_DB down. Content between
// 0.85·fN and 1.15·fN only aliases into 3.4–4 kHz, outside the telephone band. Closing that gap would double the
// filter length and the delay, and the delay budget is ≤ 3 ms per direction.
//
// Fixed point: coefficients are integers in Q22 stored in float64, and every sum of products with PCM16 samples is
// an exact integer (far below 2^53), so any summation order (scalar JS, SIMD lanes in C++) gives the same result,
// which is what makes TS ≡ native and chunking invariance exact. Q22 puts coefficient quantisation ~120 dB down,
// far below the stopband. The native kernels run 16-bit multiplies (pmaddwd: 16 MACs per AVX2 instruction, against
// 4 for float64 FMA) by splitting each coefficient as c = hi·2^8 + lo with hi and lo int16, lo in [−128, 128), and
// summing Σhi·x and Σlo·x separately in int32. Single int16 coefficients would not do: at Q15/Q16 these designs keep
// only 71–85 dB of rejection, and their sums could overflow int32. The design checks that neither int32 sum can overflow for any PCM16 input, so the
// native result is the same exact integer.
import { GatewayError } from '../errors.ts';

/**
 * Kaiser design target (dB). 87 rather than 90: four taps fewer for 8k → 16k and 24k → 8k (75 and 113), still
 * ≥ 86.5 dB with the quantised coefficients on a 5 Hz grid and ≥ 86.8 dB measured, against 80 dB required.
 */
export const STOPBAND_DB = 87;
export const PASSBAND_FRACTION = 0.85;
export const STOPBAND_FRACTION = 1.15;
export const COEF_SHIFT = 22;
export const COEF_ONE = 2 ** COEF_SHIFT;
/** Native split c = hi·2^COEF_SPLIT + lo (see the file comment); must equal kCoefSplit in native/src/polyphase.h. */
export const COEF_SPLIT = 8;
/** Largest L or M (after reducing by the gcd) we design for; keeps prototypes small. */
export const MAX_FACTOR = 64;
/** Phase lengths are padded to a multiple of this (the native kernels take taps in int16 pairs). */
export const PHASE_ALIGN = 2;
/**
 * Input samples processed per internal block; bounds per-stream memory (history + block samples). 512 holds a whole
 * 20 ms frame at 24 kHz (480), so a frame is one pass over the history, not two.
 */
export const BLOCK = 512;

export interface PolyphaseDesign {
  readonly inRate: number;
  readonly outRate: number;
  readonly up: number; // L
  readonly down: number; // M
  /** Prototype length (odd, linear phase). */
  readonly taps: number;
  /** Prototype in float64, gain L (for quality reports and references). */
  readonly prototype: Float64Array;
  /** Q22 integer-valued coefficients, per phase, time-reversed so each output is a forward dot product. */
  readonly coefs: Float64Array;
  /** Per phase p: [offset into coefs, length, back] where the window is x[n0 - back … n0 - back + length). */
  readonly phases: Int32Array;
  /** Input samples of history a stream must keep (max back over phases). */
  readonly history: number;
  /** Group delay in output samples: (taps - 1) / 2 / M. */
  readonly delaySamples: number;
  /** Largest Σ|coef| over phases, in units of COEF_ONE: proves every dot product is exact (see file comment). */
  readonly maxAbsSum: number;
}

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

/** Modified Bessel function of the first kind, order 0 (power series; converges fast for Kaiser's β). */
function besselI0(x: number): number {
  let sum = 1;
  let term = 1;
  const q = (x / 2) * (x / 2);
  for (let k = 1; k < 200; k++) {
    term *= q / (k * k);
    sum += term;
    if (term < sum * 1e-17) break;
  }
  return sum;
}

/** Throws GW_ERR_INVALID_ARGUMENT unless `rate` is an integer in 1000..192000 Hz. */
export function checkRate(name: string, rate: unknown): number {
  if (typeof rate !== 'number' || !Number.isInteger(rate) || rate < 1000 || rate > 192_000) {
    throw new GatewayError('GW_ERR_INVALID_ARGUMENT', `${name} must be an integer sample rate in 1000..192000 Hz`, {
      detail: { [name]: rate },
    });
  }
  return rate;
}

const cache = new Map<string, PolyphaseDesign>();

/** Design (or fetch the cached design of) the resampler inRate → outRate. Throws for equal rates. */
export function designPolyphase(inRate: number, outRate: number): PolyphaseDesign {
  checkRate('inRate', inRate);
  checkRate('outRate', outRate);
  const key = `${inRate}:${outRate}`;
  const hit = cache.get(key);
  if (hit) return hit;
  const g = gcd(inRate, outRate);
  const up = outRate / g;
  const down = inRate / g;
  if (up === down) throw new GatewayError('GW_ERR_INVALID_ARGUMENT', 'equal rates need no resampler (passthrough)');
  if (up > MAX_FACTOR || down > MAX_FACTOR) {
    throw new GatewayError(
      'GW_ERR_INVALID_ARGUMENT',
      `unsupported rate pair ${inRate} → ${outRate} Hz: the ratio ${up}/${down} needs factors ≤ ${MAX_FACTOR}`,
    );
  }
  const protoRate = inRate * up;
  const nyquist = Math.min(inRate, outRate) / 2;
  const transition = (2 * Math.PI * (STOPBAND_FRACTION - PASSBAND_FRACTION) * nyquist) / protoRate;
  let taps = Math.ceil((STOPBAND_DB - 7.95) / (2.285 * transition)) + 1;
  if (taps % 2 === 0) taps++;
  const design = kaiserDesign(inRate, outRate, up, down, taps, 0.1102 * (STOPBAND_DB - 8.7));
  cache.set(key, design);
  return design;
}

/** The Kaiser-windowed-sinc polyphase design with `taps` (odd) taps and window parameter `beta`, uncached. */
export function kaiserDesign(
  inRate: number,
  outRate: number,
  up: number,
  down: number,
  taps: number,
  beta: number,
): PolyphaseDesign {
  const protoRate = inRate * up;
  const nyquist = Math.min(inRate, outRate) / 2;
  const fc = nyquist / protoRate;
  const centre = (taps - 1) / 2;
  const i0beta = besselI0(beta);
  const prototype = new Float64Array(taps);
  for (let n = 0; n < taps; n++) {
    const t = n - centre;
    const sinc = t === 0 ? 2 * fc : Math.sin(2 * Math.PI * fc * t) / (Math.PI * t);
    const r = t / centre;
    prototype[n] = up * sinc * (besselI0(beta * Math.sqrt(Math.max(0, 1 - r * r))) / i0beta);
  }
  // Each phase gets exactly unit DC gain, so a DC offset leaves no image at multiples of inRate.
  for (let p = 0; p < up; p++) {
    let s = 0;
    for (let n = p; n < taps; n += up) s += prototype[n]!;
    for (let n = p; n < taps; n += up) prototype[n] = prototype[n]! / s;
  }
  for (let n = 0; n < taps; n++) prototype[n] = prototype[n]! * up;

  const phases = new Int32Array(up * 3);
  const chunks: number[][] = [];
  let history = 0;
  let maxAbsSum = 0;
  let total = 0;
  for (let p = 0; p < up; p++) {
    // Phase p multiplies x[n0 - k] by h[p + k·L]; reversed, index j = K-1-k runs forward in time.
    const k = Math.ceil((taps - p) / up);
    const rev: number[] = [];
    // `+ 0` turns the −0 that Math.round gives small negative taps into 0.
    for (let j = 0; j < k; j++) rev.push(Math.round((prototype[p + (k - 1 - j) * up]! / up) * COEF_ONE) + 0);
    let lo = 0;
    while (lo < k && rev[lo] === 0) lo++;
    let hi = k - 1;
    while (hi > lo && rev[hi] === 0) hi--;
    // Leading/trailing zero taps are dropped: for ×2 and ×3 one phase is a pure delay (a single 1.0 tap). Other
    // phases are padded with zero taps at the old end to a multiple of PHASE_ALIGN, so the native kernels take
    // runs whole vectors with no scalar tail (zero terms leave the exact sum unchanged).
    const kept = rev.slice(lo, hi + 1);
    const pad = kept.length === 1 ? 0 : (PHASE_ALIGN - (kept.length % PHASE_ALIGN)) % PHASE_ALIGN;
    for (let i = 0; i < pad; i++) kept.unshift(0);
    const back = k - 1 - lo + pad;
    phases[p * 3] = total;
    phases[p * 3 + 1] = kept.length;
    phases[p * 3 + 2] = back;
    total += kept.length;
    history = Math.max(history, back);
    maxAbsSum = Math.max(maxAbsSum, kept.reduce((a, c) => a + Math.abs(c), 0) / COEF_ONE);
    chunks.push(kept);
  }
  const coefs = new Float64Array(total);
  let at = 0;
  for (const c of chunks) for (const v of c) coefs[at++] = v;
  // Exactness proof obligations: |Σ c·x| ≤ maxAbsSum · 2^22 · 2^15 stays below 2^53 (TS), and the native int32 sums
  // of the split coefficients cannot overflow (splitFits).
  if (maxAbsSum * COEF_ONE * 32768 >= 2 ** 53 || !chunks.every(splitFits)) {
    throw new Error('resampler design would lose exactness');
  }
  return Object.freeze({
    inRate,
    outRate,
    up,
    down,
    taps,
    prototype,
    coefs,
    phases,
    history,
    delaySamples: (taps - 1) / 2 / down,
    maxAbsSum,
  });
}

/** c = hi·2^COEF_SPLIT + lo with lo in [−2^(COEF_SPLIT−1), 2^(COEF_SPLIT−1)); native/src/polyphase.cc splits alike. */
export function splitCoef(c: number): [hi: number, lo: number] {
  const unit = 2 ** COEF_SPLIT;
  const hi = Math.floor((c + unit / 2) / unit);
  return [hi, c - hi * unit];
}

/**
 * Whether one phase's split sums fit int32 for every PCM16 input: |Σ hi·x| plus the rounding terms of the native
 * combine step ((Σhi·x + 2^(h−1) + (Σlo·x >> COEF_SPLIT)) >> h, h = COEF_SHIFT − COEF_SPLIT), and |Σ lo·x|.
 */
export function splitFits(phase: readonly number[]): boolean {
  let hiSum = 0;
  let loSum = 0;
  for (const c of phase) {
    const [hi, lo] = splitCoef(c);
    if (Math.abs(hi) > 32767) return false;
    hiSum += Math.abs(hi);
    loSum += Math.abs(lo);
  }
  const limit = 2 ** 31;
  return hiSum * 32768 + 2 ** (COEF_SHIFT - COEF_SPLIT - 1) + limit / 2 ** COEF_SPLIT < limit && loSum * 32768 < limit;
}

/** Upper bound on outputs for `n` inputs, whatever the stream position: ceil(n·L/M). */
export function maxOutputFor(n: number, up: number, down: number): number {
  return Math.ceil((n * up) / down);
}

// G.711 μ-law (ITU-T G.711 §A, the "classic" bias-0x84 formulation used by the Sun/CCITT reference code and by
// Python's audioop). A 16-bit sample is truncated to G.711's 14-bit input (floor(x / 4)); see
// tests/fixtures/g711/make.sh for how this differs from sox's rounding and how the reference vectors were made.
// The tables are built once at module load and never written afterwards, so they are safe to share.

const BIAS = 0x84;
const CLIP = 8159; // largest 14-bit magnitude that still fits the top segment once biased by 0x84 >> 2

function decodeOne(code: number): number {
  const u = ~code & 0xff;
  const t = (((u & 0x0f) << 3) + BIAS) << ((u & 0x70) >> 4);
  return u & 0x80 ? BIAS - t : t - BIAS;
}

/** `value` is a 14-bit two's-complement sample (-8192..8191). */
function encode14(value: number): number {
  let mag = value;
  let mask = 0xff;
  if (mag < 0) {
    mag = -mag;
    mask = 0x7f;
  }
  if (mag > CLIP) mag = CLIP;
  mag += BIAS >> 2;
  let seg = 0;
  // Segment = position of the highest set bit above bit 5 (0x3f, 0x7f … 0x1fff are the segment ends).
  for (let end = 0x3f; seg < 8 && mag > end; end = (end << 1) | 1) seg++;
  const code = seg >= 8 ? 0x7f : (seg << 4) | ((mag >> (seg + 1)) & 0x0f);
  return code ^ mask;
}

/** PCM16 value of each μ-law code. */
export const ULAW_DECODE_TABLE: Int16Array = (() => {
  const t = new Int16Array(256);
  for (let c = 0; c < 256; c++) t[c] = decodeOne(c);
  return t;
})();

/**
 * μ-law code of each 14-bit input, indexed by `(pcm16 >> 2) & 0x3fff`: 16 KiB, one load per sample instead of a
 * segment search.
 */
export const ULAW_ENCODE_TABLE: Uint8Array = (() => {
  const t = new Uint8Array(16384);
  for (let i = 0; i < 16384; i++) t[i] = encode14(i >= 8192 ? i - 16384 : i);
  return t;
})();

/** Caller guarantees out.length >= input.length (checked by the backend wrapper). */
export function ulawDecodeInto(input: Uint8Array, out: Int16Array, n: number): void {
  const table = ULAW_DECODE_TABLE;
  for (let i = 0; i < n; i++) out[i] = table[input[i]!]!;
}

/** Caller guarantees out.length >= input.length (checked by the backend wrapper). */
export function ulawEncodeInto(input: Int16Array, out: Uint8Array, n: number): void {
  const table = ULAW_ENCODE_TABLE;
  for (let i = 0; i < n; i++) out[i] = table[(input[i]! >> 2) & 0x3fff]!;
}

// Pure-TS polyphase engine: the reference the native addon must match bit for bit (native/src/polyphase.h is the
// same algorithm). One stream = one instance; state is the input history plus the position of the next output.
import { BLOCK, COEF_SHIFT, type PolyphaseDesign } from './design.ts';
import { ULAW_DECODE_TABLE, ULAW_ENCODE_TABLE } from './g711.ts';

const HALF = 2 ** (COEF_SHIFT - 1);
const INV_ONE = 2 ** -COEF_SHIFT;

export class TsPolyphase {
  readonly design: PolyphaseDesign;
  private readonly buf: Float64Array;
  private readonly coefs: Float64Array;
  private readonly phases: Int32Array;
  private readonly hist: number;
  private readonly up: number;
  private readonly down: number;
  /** Phase (0 … L-1) of the next output. */
  private phase = 0;
  /** Index of the next output's newest input sample, relative to the first sample of the current block. */
  private offset = 0;

  constructor(design: PolyphaseDesign) {
    this.design = design;
    this.coefs = design.coefs;
    this.phases = design.phases;
    this.hist = design.history;
    this.up = design.up;
    this.down = design.down;
    this.buf = new Float64Array(design.history + BLOCK);
  }

  reset(): void {
    this.buf.fill(0);
    this.phase = 0;
    this.offset = 0;
  }

  /** PCM16 in, PCM16 out. `out` must hold maxOutputFor(input.length). */
  processPcm(input: Int16Array, n: number, out: Int16Array): number {
    const buf = this.buf;
    const hist = this.hist;
    let produced = 0;
    for (let start = 0; start < n; start += BLOCK) {
      const take = Math.min(BLOCK, n - start);
      for (let i = 0; i < take; i++) buf[hist + i] = input[start + i]!;
      produced = this.drain(take, out, produced);
    }
    return produced;
  }

  /** μ-law in (decoded straight into the history buffer), PCM16 out. */
  processUlawIn(input: Uint8Array, n: number, out: Int16Array): number {
    const buf = this.buf;
    const hist = this.hist;
    const table = ULAW_DECODE_TABLE;
    let produced = 0;
    for (let start = 0; start < n; start += BLOCK) {
      const take = Math.min(BLOCK, n - start);
      for (let i = 0; i < take; i++) buf[hist + i] = table[input[start + i]!]!;
      produced = this.drain(take, out, produced);
    }
    return produced;
  }

  /** PCM16 in, μ-law out; `scratch` holds one block's outputs (maxOutputFor(BLOCK)). */
  processUlawOut(input: Int16Array, n: number, out: Uint8Array, scratch: Int16Array): number {
    const buf = this.buf;
    const hist = this.hist;
    const table = ULAW_ENCODE_TABLE;
    let produced = 0;
    for (let start = 0; start < n; start += BLOCK) {
      const take = Math.min(BLOCK, n - start);
      for (let i = 0; i < take; i++) buf[hist + i] = input[start + i]!;
      const got = this.drain(take, scratch, 0);
      for (let i = 0; i < got; i++) out[produced + i] = table[(scratch[i]! >> 2) & 0x3fff]!;
      produced += got;
    }
    return produced;
  }

  /** Computes every output whose newest input is now in the block, then slides the history. */
  private drain(take: number, out: Int16Array, at: number): number {
    const buf = this.buf;
    const coefs = this.coefs;
    const phases = this.phases;
    const up = this.up;
    const down = this.down;
    const hist = this.hist;
    let phase = this.phase;
    let offset = this.offset;
    while (offset < take) {
      const base = phase * 3;
      const c0 = phases[base]!;
      const len = phases[base + 1]!;
      const w0 = hist + offset - phases[base + 2]!;
      let acc: number;
      if (len === 1) {
        acc = coefs[c0]! * buf[w0]!;
      } else {
        // Lengths are multiples of PHASE_ALIGN (design.ts). Two partial sums break the add dependency chain;
        // regrouping is exact because every term is an integer-valued double (see design.ts).
        let a0 = 0;
        let a1 = 0;
        for (let j = 0; j < len; j += 2) {
          a0 += coefs[c0 + j]! * buf[w0 + j]!;
          a1 += coefs[c0 + j + 1]! * buf[w0 + j + 1]!;
        }
        acc = a0 + a1;
      }
      let v = Math.floor((acc + HALF) * INV_ONE);
      if (v > 32767) v = 32767;
      else if (v < -32768) v = -32768;
      out[at++] = v;
      phase += down;
      offset += Math.floor(phase / up);
      phase %= up;
    }
    this.phase = phase;
    this.offset = offset - take;
    buf.copyWithin(0, take, take + hist);
    return at;
  }
}

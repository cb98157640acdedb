// Fused per-frame kernels and TS ≡ native agreement.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { AudioBackend } from '../../src/audio/types.ts';
import {
  backendCases,
  firstDifference,
  nativeBackend,
  RATE_PAIRS,
  randomPcm,
  runChunked,
  tsBackend,
} from './helpers.ts';

function randomUlaw(n: number, seed: number): Uint8Array {
  const pcm = randomPcm(n, seed);
  return Uint8Array.from(pcm, (v) => v & 0xff);
}

function uplinkComposed(b: AudioBackend, ulaw: Uint8Array): Int16Array {
  const pcm = new Int16Array(ulaw.length);
  b.ulawDecode(ulaw, pcm);
  const r = b.createResampler(8000, 16000);
  const out = new Int16Array(r.maxOutput(pcm.length));
  return out.subarray(0, r.process(pcm, out));
}

function downlinkComposed(b: AudioBackend, pcm24k: Int16Array): Uint8Array {
  const r = b.createResampler(24000, 8000);
  const pcm8k = new Int16Array(r.maxOutput(pcm24k.length));
  const n = r.process(pcm24k, pcm8k);
  const out = new Uint8Array(n);
  b.ulawEncode(pcm8k.subarray(0, n), out);
  return out;
}

describe.each(backendCases)('fused kernels (%s)', (_name, backend) => {
  it('uplink = μ-law decode then 8k → 16k, frame by frame, 320 samples per 160 bytes', () => {
    const ulaw = randomUlaw(160 * 25, 3);
    const up = backend.createUplink();
    const frame = new Int16Array(320);
    const got = new Int16Array(320 * 25);
    for (let f = 0; f < 25; f++) {
      expect(up.process(ulaw.subarray(f * 160, f * 160 + 160), frame)).toBe(320);
      got.set(frame, f * 320);
    }
    expect(firstDifference(got, uplinkComposed(backend, ulaw))).toBe(-1);
  });

  it('downlink = 24k → 8k then μ-law encode, for any chunk sizes', () => {
    const pcm = randomPcm(480 * 20 + 7, 4).map((v) => v >> 1);
    const want = downlinkComposed(backend, pcm);
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 2000 }), { minLength: 1, maxLength: 12 }), (sizes) => {
        const down = backend.createDownlink();
        const got: number[] = [];
        let k = 0;
        for (let start = 0; start < pcm.length; k++) {
          const piece = pcm.subarray(start, Math.min(pcm.length, start + sizes[k % sizes.length]!));
          const out = new Uint8Array(down.maxOutput(piece.length));
          const n = down.process(piece, out);
          for (let i = 0; i < n; i++) got.push(out[i]!);
          start += piece.length;
        }
        return firstDifference(got, want) === -1;
      }),
      { numRuns: 30 },
    );
  });

  it('a 20 ms Gemini frame (480 samples) gives exactly one 160-byte phone frame', () => {
    const down = backend.createDownlink();
    const out = new Uint8Array(160);
    expect(down.maxOutput(480)).toBe(160);
    for (let i = 0; i < 5; i++) expect(down.process(randomPcm(480, i), out)).toBe(160);
  });

  it('reset() forgets the filter history', () => {
    const up = backend.createUplink();
    const a = new Int16Array(320);
    const b = new Int16Array(320);
    const frame = randomUlaw(160, 8);
    up.process(frame, a);
    up.process(randomUlaw(160, 9), b);
    up.reset();
    up.process(frame, b);
    expect(firstDifference(a, b)).toBe(-1);
  });

  it('rejects bad arguments', () => {
    const up = backend.createUplink();
    const down = backend.createDownlink();
    const bad = (fn: () => unknown) => expect(fn).toThrow(expect.objectContaining({ code: 'GW_ERR_INVALID_ARGUMENT' }));
    bad(() => up.process(new Int16Array(160) as unknown as Uint8Array, new Int16Array(320)));
    bad(() => up.process(new Uint8Array(160), new Int16Array(319)));
    bad(() => up.process(new Uint8Array(160), new Uint8Array(640) as unknown as Int16Array));
    bad(() => down.process(new Uint8Array(480) as unknown as Int16Array, new Uint8Array(160)));
    bad(() => down.process(new Int16Array(480), new Uint8Array(159)));
    bad(() => down.process(new Int16Array(480), [] as unknown as Uint8Array));
  });
});

describe.runIf(nativeBackend !== undefined)('TS and native agree bit for bit', () => {
  const native = nativeBackend!;

  it.each(RATE_PAIRS.map(([a, b]) => [`${a} → ${b}`, a, b] as const))('resampler %s on random signals', (_p, a, b) => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 2 ** 31 - 1 }),
        fc.array(fc.integer({ min: 1, max: 900 }), { minLength: 1, maxLength: 8 }),
        (seed, sizes) => {
          const x = randomPcm(3000, seed);
          const t = runChunked(tsBackend.createResampler(a, b), x, sizes);
          const n = runChunked(native.createResampler(a, b), x, [...sizes].reverse());
          return firstDifference(t, n) === -1;
        },
      ),
      { numRuns: 20 },
    );
  });

  it('G.711 and the fused kernels on random signals', () => {
    const ulaw = randomUlaw(160 * 10, 77);
    expect(firstDifference(uplinkComposed(tsBackend, ulaw), uplinkComposed(native, ulaw))).toBe(-1);
    const pcm = randomPcm(4803, 78);
    expect(firstDifference(downlinkComposed(tsBackend, pcm), downlinkComposed(native, pcm))).toBe(-1);
    const tsUp = tsBackend.createUplink();
    const nUp = native.createUplink();
    const o1 = new Int16Array(320);
    const o2 = new Int16Array(320);
    for (let f = 0; f < 10; f++) {
      const frame = ulaw.subarray(f * 160, f * 160 + 160);
      tsUp.process(frame, o1);
      nUp.process(frame, o2);
      expect(firstDifference(o1, o2)).toBe(-1);
    }
  });

  it('the addon itself refuses wrong array types and short outputs (defence in depth)', async () => {
    const { createRequire } = await import('node:module');
    const { DEFAULT_ADDON_PATH } = await import('../../src/audio/native.ts');
    const { designPolyphase } = await import('../../src/audio/design.ts');
    const addon = createRequire(import.meta.url)(DEFAULT_ADDON_PATH);
    expect(() => addon.ulawDecode(new Int16Array(4), new Int16Array(4))).toThrow(TypeError);
    expect(() => addon.ulawDecode({ length: 4 }, new Int16Array(4))).toThrow(TypeError);
    expect(() => addon.ulawEncode(new Int16Array(4), new Uint8Array(3))).toThrow(RangeError);
    const d = designPolyphase(24000, 8000);
    const p = new addon.Polyphase(d.up, d.down, d.history, d.coefs, d.phases);
    expect(() => p.pcm(new Int16Array(480), new Int16Array(159))).toThrow(RangeError);
    expect(() => p.ulawOut(new Int16Array(480), new Int8Array(160))).toThrow(TypeError);
    // A design whose windows would read outside the history is refused, not trusted.
    const evil = Int32Array.from(d.phases);
    evil[2] = d.history + 100;
    expect(() => new addon.Polyphase(d.up, d.down, d.history, d.coefs, evil)).toThrow(RangeError);
    expect(() => new addon.Polyphase(d.up, d.down, d.history, d.coefs, d.phases.subarray(0, 2))).toThrow(RangeError);
    expect(() => new addon.Polyphase(0, 1, 0, d.coefs, d.phases)).toThrow(RangeError);
    const huge = Float64Array.from(d.coefs, () => 2 ** 50);
    expect(() => new addon.Polyphase(d.up, d.down, d.history, huge, d.phases)).toThrow(RangeError);
    // Exact in float64 but not in the native int32 split sums: refused, not silently wrapped.
    const loud = Float64Array.from(d.coefs, (c) => c * 4);
    expect(() => new addon.Polyphase(d.up, d.down, d.history, loud, d.phases)).toThrow(RangeError);
    const fractional = Float64Array.from(d.coefs, (c) => c + 0.5);
    expect(() => new addon.Polyphase(d.up, d.down, d.history, fractional, d.phases)).toThrow(RangeError);
    expect(() => new addon.Polyphase(d.up, d.down)).toThrow(TypeError);
  });
});

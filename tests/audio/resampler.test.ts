import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { designPolyphase, PASSBAND_FRACTION, STOPBAND_FRACTION } from '../../src/audio/design.ts';
import {
  backendCases,
  db,
  firstDifference,
  RATE_PAIRS,
  randomPcm,
  runChunked,
  sine,
  snrAgainstIdealSine,
  toneAmplitude,
  tonePhase,
} from './helpers.ts';

const AMP = 16000;
const LOUD = 30000;
/** Passband edge: 0.85 × the lower Nyquist (3.4 kHz whenever 8 kHz is involved, 6.8 kHz for 16k ↔ 24k). */
const passEdge = (inRate: number, outRate: number) => (PASSBAND_FRACTION * Math.min(inRate, outRate)) / 2;

function resampleAll(backend: (typeof backendCases)[number][1], inRate: number, outRate: number, x: Int16Array) {
  const r = backend.createResampler(inRate, outRate);
  const y = new Int16Array(r.maxOutput(x.length));
  const n = r.process(x, y);
  return { r, y: y.subarray(0, n) };
}

describe.each(backendCases)('resampler (%s)', (_name, backend) => {
  describe.each(RATE_PAIRS.map(([a, b]) => [`${a} → ${b}`, a, b] as const))('%s', (_pair, inRate, outRate) => {
    const seconds = 0.5;
    const settle = 200; // output samples ignored at the start (filter warm-up)

    it('passband (0–3.4 kHz for telephony): ripple ≤ ±0.1 dB and SNR ≥ 75 dB against the ideal float64 resampler', () => {
      const r0 = backend.createResampler(inRate, outRate);
      const worstRipple = { db: 0, f: 0 };
      let worstSnr = Number.POSITIVE_INFINITY;
      const edge = passEdge(inRate, outRate);
      for (let f = edge / 34; f <= edge + 1e-9; f += edge / 34) {
        const { y } = resampleAll(backend, inRate, outRate, sine(inRate * seconds, inRate, f, AMP));
        const len = y.length - settle - 50;
        const gain = db(toneAmplitude(y, outRate, f, settle, len) / AMP);
        if (Math.abs(gain) > Math.abs(worstRipple.db)) Object.assign(worstRipple, { db: gain, f });
        worstSnr = Math.min(worstSnr, snrAgainstIdealSine(y, outRate, f, AMP, r0.delaySamples, settle, len));
      }
      expect(Math.abs(worstRipple.db), `worst at ${worstRipple.f} Hz`).toBeLessThanOrEqual(0.1);
      expect(worstSnr).toBeGreaterThanOrEqual(75);
    });

    it('rejects images and aliases landing in the passband by ≥ 80 dB', () => {
      const lowNyq = Math.min(inRate, outRate) / 2;
      let worst = { db: -1000, fin: 0, fout: 0 };
      // Every input tone either in the passband (its images) or in the stopband (its aliases).
      const inputs: number[] = [];
      const edge = passEdge(inRate, outRate);
      for (let f = 250; f <= edge; f += 210) inputs.push(f);
      for (let f = Math.ceil(STOPBAND_FRACTION * lowNyq); f < inRate / 2 - 50; f += 130) inputs.push(f);
      for (const f of inputs) {
        const { y } = resampleAll(backend, inRate, outRate, sine(inRate * seconds, inRate, f, LOUD));
        const len = y.length - settle - 50;
        // Components at |f ± k·inRate| (images) folded into the output band; skip the wanted tone itself.
        for (let k = -4; k <= 4; k++) {
          let g = Math.abs(f + k * inRate) % outRate;
          if (g > outRate / 2) g = outRate - g;
          if (g < 20 || g > outRate / 2 - 20) continue;
          if (Math.abs(g - f) < 1 && f < lowNyq) continue;
          if (g > edge && g < STOPBAND_FRACTION * lowNyq) continue; // transition band (3.4–4.6 kHz at 8 kHz)
          const level = db(toneAmplitude(y, outRate, g, settle, len) / LOUD);
          if (level > worst.db) worst = { db: level, fin: f, fout: g };
        }
      }
      expect(worst.db, `input ${worst.fin} Hz → ${worst.fout} Hz`).toBeLessThanOrEqual(-80);
    });

    it('exposes its exact group delay (≤ 3 ms), matching the measured phase delay', () => {
      const { r, y } = resampleAll(backend, inRate, outRate, sine(inRate * seconds, inRate, 1000, AMP, 0));
      expect(r.delaySamples / outRate).toBeLessThanOrEqual(0.003);
      expect(r.delaySamples).toBe(designPolyphase(inRate, outRate).delaySamples);
      const len = y.length - settle - 50;
      const phase = tonePhase(y, outRate, 1000, settle, len);
      // y ≈ sin(ω(m − D)) = cos(ω(m − D) − π/2): phase = −ωD − π/2 (mod 2π).
      const omega = (2 * Math.PI * 1000) / outRate;
      let diff = phase + Math.PI / 2 + omega * r.delaySamples;
      diff = Math.atan2(Math.sin(diff), Math.cos(diff));
      expect(Math.abs(diff / omega)).toBeLessThan(0.01);
    });

    it('output does not depend on chunking (1, 7, 160, 1337 and random cuts)', () => {
      const x = randomPcm(6000, inRate + outRate);
      const whole = resampleAll(backend, inRate, outRate, x).y;
      for (const sizes of [[1], [7], [160], [1337], [3, 480, 1, 999]]) {
        const got = runChunked(backend.createResampler(inRate, outRate), x, sizes);
        expect(firstDifference(got, whole), `sizes ${sizes}`).toBe(-1);
      }
      fc.assert(
        fc.property(fc.array(fc.integer({ min: 1, max: 1400 }), { minLength: 1, maxLength: 20 }), (sizes) => {
          const got = runChunked(backend.createResampler(inRate, outRate), x, sizes);
          return firstDifference(got, whole) === -1;
        }),
        { numRuns: 25 },
      );
    });

    it('produces ceil(n·L/M) samples from the start and reset() restarts the stream', () => {
      const r = backend.createResampler(inRate, outRate);
      const x = randomPcm(1001, 5);
      const out = new Int16Array(r.maxOutput(x.length));
      const n = r.process(x, out);
      expect(n).toBe(Math.ceil((x.length * outRate) / inRate));
      const first = out.slice(0, n);
      r.reset();
      const again = new Int16Array(r.maxOutput(x.length));
      expect(r.process(x, again)).toBe(n);
      expect(firstDifference(again.subarray(0, n), first)).toBe(-1);
      // Zero-length input is fine and produces nothing.
      expect(r.process(new Int16Array(0), new Int16Array(0))).toBe(0);
    });

    it('saturates instead of wrapping on full-scale square waves', () => {
      const x = new Int16Array(4000);
      for (let i = 0; i < x.length; i++) x[i] = Math.floor(i / 7) % 2 ? 32767 : -32768;
      const { y } = resampleAll(backend, inRate, outRate, x);
      let max = 0;
      for (const v of y) max = Math.max(max, Math.abs(v));
      expect(max).toBeGreaterThan(32000); // overshoot clipped at the rails, not wrapped to small values
    });

    it('rejects bad arguments', () => {
      const r = backend.createResampler(inRate, outRate);
      const bad = (fn: () => unknown) =>
        expect(fn).toThrow(expect.objectContaining({ code: 'GW_ERR_INVALID_ARGUMENT' }));
      bad(() => r.process(new Uint8Array(10) as unknown as Int16Array, new Int16Array(100)));
      bad(() => r.process(new Int16Array(10), new Float32Array(100) as unknown as Int16Array));
      bad(() => r.process(new Int16Array(300), new Int16Array(r.maxOutput(300) - 1)));
      bad(() => r.process(undefined as unknown as Int16Array, new Int16Array(1)));
    });
  });

  it('equal rates are a zero-delay passthrough', () => {
    const r = backend.createResampler(16000, 16000);
    const x = randomPcm(321, 9);
    const out = new Int16Array(321);
    expect(r.process(x, out)).toBe(321);
    expect(firstDifference(out, x)).toBe(-1);
    expect(r.delaySamples).toBe(0);
  });

  it('rejects unsupported rates', () => {
    const bad = (fn: () => unknown) => expect(fn).toThrow(expect.objectContaining({ code: 'GW_ERR_INVALID_ARGUMENT' }));
    bad(() => backend.createResampler(0, 8000));
    bad(() => backend.createResampler(8000, 8000.5));
    bad(() => backend.createResampler(8000, Number.NaN));
    bad(() => backend.createResampler(44100, 8000)); // 441/80 exceeds the factor limit
    bad(() => backend.createResampler('8000' as unknown as number, 16000));
  });
});

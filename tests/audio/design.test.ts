import { describe, expect, it } from 'vitest';
import { COEF_ONE, COEF_SPLIT, designPolyphase, splitCoef, splitFits } from '../../src/audio/design.ts';
import { analyseDesign, quantisedPrototype } from '../../src/audio/design-response.ts';
import { RATE_PAIRS } from './helpers.ts';

describe.each(RATE_PAIRS.map(([a, b]) => [`${a} → ${b}`, a, b] as const))('design %s', (_p, inRate, outRate) => {
  const d = designPolyphase(inRate, outRate);

  it('meets the spec on a 5 Hz grid with the quantised coefficients', () => {
    const q = analyseDesign(d);
    expect(q.rippleDb).toBeLessThanOrEqual(0.1);
    expect(q.rejectionDb).toBeGreaterThanOrEqual(85); // 80 dB required, 5 dB margin
    expect(q.delayMs).toBeLessThanOrEqual(3);
  });

  it('has integer Q22 coefficients whose dot products with PCM16 are exact in float64 and in the native int32 split', () => {
    for (const c of d.coefs) expect(Number.isInteger(c)).toBe(true);
    expect(d.maxAbsSum * COEF_ONE * 32768).toBeLessThan(2 ** 53);
    for (let p = 0; p < d.up; p++) {
      const phase = Array.from(d.coefs.subarray(d.phases[p * 3]!, d.phases[p * 3]! + d.phases[p * 3 + 1]!));
      expect(splitFits(phase)).toBe(true);
      for (const c of phase) {
        const [hi, lo] = splitCoef(c);
        expect(hi * 2 ** COEF_SPLIT + lo).toBe(c);
        expect(Math.abs(hi)).toBeLessThanOrEqual(32767);
        expect(lo).toBeGreaterThanOrEqual(-(2 ** (COEF_SPLIT - 1)));
        expect(lo).toBeLessThan(2 ** (COEF_SPLIT - 1));
      }
    }
  });

  it('is linear phase (symmetric prototype) with unit DC gain per phase', () => {
    const h = quantisedPrototype(d);
    const centre = (d.taps - 1) / 2;
    for (let i = 0; i <= centre; i++) {
      expect(Math.abs((h[centre - i] ?? 0) - (h[centre + i] ?? 0))).toBeLessThanOrEqual((2 * d.up) / COEF_ONE);
    }
    for (let p = 0; p < d.up; p++) {
      let s = 0;
      for (let j = 0; j < d.phases[p * 3 + 1]!; j++) s += d.coefs[d.phases[p * 3]! + j]!;
      expect(Math.abs(s - COEF_ONE)).toBeLessThanOrEqual(d.taps);
    }
  });

  it('is cached per rate pair', () => {
    expect(designPolyphase(inRate, outRate)).toBe(d);
  });
});

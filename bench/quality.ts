// Quality of every resampler: passband ripple, worst image/alias rejection and group delay. Two views:
// - "design": the quantised coefficients' frequency response on a dense grid (exact worst case);
// - "measured": sine sweeps pushed through the running resampler (native when built, else TS), measured with a
//   Blackman-Harris-windowed DFT at the wanted tone and at every image/alias that lands in the passband.
import { loadAudioBackend } from '../src/audio/backend.ts';
import { designPolyphase } from '../src/audio/design.ts';
import { analyseDesign } from '../src/audio/design-response.ts';
import type { AudioBackend } from '../src/audio/types.ts';
// The same windowed single-bin measurement the tests assert with, so bench and tests cannot disagree.
import { RATE_PAIRS as PAIRS, toneAmplitude } from './signal.ts';
import { round } from './stats.ts';
import type { BenchRow, BenchSuite } from './types.ts';

function run(b: AudioBackend, inRate: number, outRate: number, f: number, amp: number, seconds: number) {
  const n = Math.round(inRate * seconds);
  const x = new Int16Array(n);
  for (let i = 0; i < n; i++) x[i] = Math.round(amp * Math.sin((2 * Math.PI * f * i) / inRate + 0.3));
  const r = b.createResampler(inRate, outRate);
  const y = new Int16Array(r.maxOutput(n));
  return y.subarray(0, r.process(x, y));
}

function measure(b: AudioBackend, inRate: number, outRate: number, smoke: boolean) {
  const q = analyseDesign(designPolyphase(inRate, outRate), smoke ? 50 : 5);
  const lowNyq = Math.min(inRate, outRate) / 2;
  const seconds = smoke ? 0.1 : 0.5;
  const settle = 200;
  let ripple = 0;
  const passStep = q.passbandHz / (smoke ? 6 : 34);
  for (let f = passStep; f <= q.passbandHz + 1e-9; f += passStep) {
    const y = run(b, inRate, outRate, f, 16000, seconds);
    const g = 20 * Math.log10(toneAmplitude(y, outRate, f, settle, y.length - settle) / 16000);
    ripple = Math.max(ripple, Math.abs(g));
  }
  let worst = Number.NEGATIVE_INFINITY;
  const tones: number[] = [];
  for (let f = 250; f <= q.passbandHz; f += smoke ? 1000 : 210) tones.push(f);
  for (let f = q.stopbandHz; f < inRate / 2 - 50; f += smoke ? 1500 : 130) tones.push(f);
  for (const f of tones) {
    const y = run(b, inRate, outRate, f, 30000, seconds);
    for (let k = -4; k <= 4; k++) {
      let g = Math.abs(f + k * inRate) % outRate;
      if (g > outRate / 2) g = outRate - g;
      if (g < 20 || g > outRate / 2 - 20 || (Math.abs(g - f) < 1 && f < lowNyq)) continue;
      if (g > q.passbandHz && g < q.stopbandHz) continue;
      worst = Math.max(worst, 20 * Math.log10(toneAmplitude(y, outRate, g, settle, y.length - settle) / 30000));
    }
  }
  return { q, measuredRippleDb: ripple, measuredRejectionDb: -worst };
}

export const qualitySuite: BenchSuite = {
  name: 'quality',
  columns: ['taps', 'measuredRippleDb', 'measuredRejectionDb', 'delayMs'],
  async run({ smoke }) {
    const { backend } = loadAudioBackend('auto');
    const rows: BenchRow[] = [];
    for (const [inRate, outRate] of PAIRS) {
      const d = designPolyphase(inRate, outRate);
      const { q, measuredRippleDb, measuredRejectionDb } = measure(backend, inRate, outRate, smoke);
      rows.push({
        suite: 'quality',
        name: `resample ${inRate / 1000}k → ${outRate / 1000}k`,
        backend: backend.name,
        extra: {
          taps: d.taps,
          passbandHz: q.passbandHz,
          stopbandHz: q.stopbandHz,
          rippleDb: round(q.rippleDb),
          rejectionDb: round(q.rejectionDb),
          measuredRippleDb: round(measuredRippleDb),
          measuredRejectionDb: round(measuredRejectionDb),
          delaySamples: round(q.delaySamples),
          delayMs: round(q.delayMs),
        },
      });
    }
    return rows;
  },
};

// Frequency response of a polyphase design as actually run (the quantised Q22 coefficients, reassembled into the
// prototype), for the quality benchmark and the design tests.
import { COEF_ONE, PASSBAND_FRACTION, type PolyphaseDesign, STOPBAND_FRACTION } from './design.ts';

/** The quantised prototype (gain L), time order, as the streams run it. */
export function quantisedPrototype(d: PolyphaseDesign): Float64Array {
  const h = new Float64Array(d.taps + d.up * d.history);
  let maxIndex = 0;
  for (let p = 0; p < d.up; p++) {
    const off = d.phases[p * 3]!;
    const len = d.phases[p * 3 + 1]!;
    const back = d.phases[p * 3 + 2]!;
    // Coefficient j of phase p multiplies x[n0 − back + j], i.e. prototype index p + (back − j)·L.
    for (let j = 0; j < len; j++) {
      const idx = p + (back - j) * d.up;
      h[idx] = d.coefs[off + j]! / COEF_ONE;
      maxIndex = Math.max(maxIndex, idx);
    }
  }
  return h.subarray(0, maxIndex + 1);
}

/** |H(f)| relative to the passband gain L, in dB, at frequency f (Hz) of the prototype rate inRate·L. */
export function responseDb(h: Float64Array, d: PolyphaseDesign, f: number): number {
  const w = (2 * Math.PI * f) / (d.inRate * d.up);
  let re = 0;
  let im = 0;
  for (let n = 0; n < h.length; n++) {
    re += h[n]! * Math.cos(w * n);
    im -= h[n]! * Math.sin(w * n);
  }
  return 20 * Math.log10(Math.hypot(re, im) / d.up);
}

export interface DesignQuality {
  passbandHz: number;
  stopbandHz: number;
  /** Largest |gain| deviation over 0 … passbandHz (dB). */
  rippleDb: number;
  /** Smallest attenuation over stopbandHz … prototype Nyquist (dB, positive). */
  rejectionDb: number;
  delaySamples: number;
  delayMs: number;
}

/** Dense-grid (5 Hz) analysis of the quantised design. */
export function analyseDesign(d: PolyphaseDesign, stepHz = 5): DesignQuality {
  const h = quantisedPrototype(d);
  const nyq = Math.min(d.inRate, d.outRate) / 2;
  const passbandHz = PASSBAND_FRACTION * nyq;
  const stopbandHz = STOPBAND_FRACTION * nyq;
  let ripple = 0;
  for (let f = 0; f <= passbandHz; f += stepHz) ripple = Math.max(ripple, Math.abs(responseDb(h, d, f)));
  let worst = Number.NEGATIVE_INFINITY;
  const top = (d.inRate * d.up) / 2;
  for (let f = stopbandHz; f <= top; f += stepHz) worst = Math.max(worst, responseDb(h, d, f));
  return {
    passbandHz,
    stopbandHz,
    rippleDb: ripple,
    rejectionDb: -worst,
    delaySamples: d.delaySamples,
    delayMs: (d.delaySamples / d.outRate) * 1000,
  };
}

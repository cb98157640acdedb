// Edge test helpers: the edge stack (src/demo/edge-stack.ts) under its test names, and signal measurements.
export {
  AUTH_ID,
  AUTH_TOKEN,
  CALLER,
  type EdgeStack as Harness,
  OUR_NUMBER,
  startEdgeStack as startHarness,
} from '../../../src/demo/edge-stack.ts';

/** Goertzel power of `hz` relative to total power (0..1): near 1 for a clean tone at that frequency. */
export function toneRatio(samples: Int16Array, rate: number, hz: number): number {
  const n = samples.length;
  if (n === 0) return 0;
  const w = (2 * Math.PI * hz) / rate;
  const coeff = 2 * Math.cos(w);
  let s1 = 0;
  let s2 = 0;
  let energy = 0;
  for (let i = 0; i < n; i++) {
    const x = samples[i]!;
    const s0 = x + coeff * s1 - s2;
    s2 = s1;
    s1 = s0;
    energy += x * x;
  }
  const power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
  return energy === 0 ? 0 : (2 * power) / (n * energy);
}

export function rms(samples: Int16Array): number {
  let e = 0;
  for (const x of samples) e += x * x;
  return samples.length === 0 ? 0 : Math.sqrt(e / samples.length);
}

export async function until(pred: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

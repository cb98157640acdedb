// Per-20 ms-frame cost of each DSP kernel: native addon, pure TS, and a naive baseline with no anti-alias/anti-image
// filter (linear interpolation up, plain decimation down, per-sample G.711 arithmetic) so the price of quality is
// visible. Timer resolution is far coarser than one frame, so frames run in batches timed with hrtime.bigint and
// each batch contributes one per-frame sample (batch time / frames); percentiles are over those samples.
import { loadAudioBackend } from '../src/audio/backend.ts';
import { tsBackend } from '../src/audio/ts-backend.ts';
import type { AudioBackend } from '../src/audio/types.ts';
import { round, Samples } from './stats.ts';
import type { BenchRow, BenchSuite } from './types.ts';

type Kernel = () => void;
interface KernelSet {
  backend: 'native' | 'ts' | 'naive';
  kernels: Array<[string, Kernel]>;
}

function signal(n: number, seed: number): Int16Array {
  const out = new Int16Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    out[i] = Math.round(8000 * Math.sin(i / 9) + ((s >>> 20) - 2048));
  }
  return out;
}

function kernelsFor(b: AudioBackend): KernelSet {
  const ulaw = new Uint8Array(160);
  b.ulawEncode(signal(160, 1), ulaw);
  const pcm8k = signal(160, 2);
  const pcm24k = signal(480, 3);
  const out160 = new Int16Array(160);
  const out320 = new Int16Array(320);
  const outUlaw = new Uint8Array(160);
  const up = b.createResampler(8000, 16000);
  const down = b.createResampler(24000, 8000);
  const upFused = b.createUplink();
  const downFused = b.createDownlink();
  return {
    backend: b.name,
    kernels: [
      ['μ-law decode (160 B)', () => b.ulawDecode(ulaw, out160)],
      ['μ-law encode (160 samples)', () => b.ulawEncode(pcm8k, outUlaw)],
      ['resample 8k → 16k (160 → 320)', () => void up.process(pcm8k, out320)],
      ['resample 24k → 8k (480 → 160)', () => void down.process(pcm24k, out160)],
      ['uplink fused (μ-law 8k → PCM16 16k)', () => void upFused.process(ulaw, out320)],
      ['downlink fused (PCM16 24k → μ-law 8k)', () => void downFused.process(pcm24k, outUlaw)],
    ],
  };
}

// The naive baseline: what a gateway without a resampling filter does.
function naiveDecode(u: number): number {
  const v = ~u & 0xff;
  const t = (((v & 0x0f) << 3) + 0x84) << ((v & 0x70) >> 4);
  return v & 0x80 ? 0x84 - t : t - 0x84;
}
function naiveEncode(x: number): number {
  let mag = x >> 2;
  let mask = 0xff;
  if (mag < 0) {
    mag = -mag;
    mask = 0x7f;
  }
  if (mag > 8159) mag = 8159;
  mag += 33;
  let seg = 0;
  while (seg < 8 && mag > (0x3f << seg) + ((1 << seg) - 1)) seg++;
  return (seg >= 8 ? 0x7f : (seg << 4) | ((mag >> (seg + 1)) & 0x0f)) ^ mask;
}

function naiveKernels(): KernelSet {
  const ulaw = new Uint8Array(160).fill(0x55);
  const pcm8k = signal(160, 2);
  const pcm24k = signal(480, 3);
  const out160 = new Int16Array(160);
  const out320 = new Int16Array(320);
  const outUlaw = new Uint8Array(160);
  let lastUp = 0;
  const upLinear = (src: Int16Array, n: number, dst: Int16Array) => {
    for (let i = 0; i < n; i++) {
      const x = src[i]!;
      dst[2 * i] = (lastUp + x) >> 1;
      dst[2 * i + 1] = x;
      lastUp = x;
    }
  };
  const decoded = new Int16Array(160);
  return {
    backend: 'naive',
    kernels: [
      [
        'μ-law decode (160 B)',
        () => {
          for (let i = 0; i < 160; i++) out160[i] = naiveDecode(ulaw[i]!);
        },
      ],
      [
        'μ-law encode (160 samples)',
        () => {
          for (let i = 0; i < 160; i++) outUlaw[i] = naiveEncode(pcm8k[i]!);
        },
      ],
      ['resample 8k → 16k (160 → 320)', () => upLinear(pcm8k, 160, out320)],
      [
        'resample 24k → 8k (480 → 160)',
        () => {
          for (let i = 0; i < 160; i++) out160[i] = pcm24k[3 * i]!;
        },
      ],
      [
        'uplink fused (μ-law 8k → PCM16 16k)',
        () => {
          for (let i = 0; i < 160; i++) decoded[i] = naiveDecode(ulaw[i]!);
          upLinear(decoded, 160, out320);
        },
      ],
      [
        'downlink fused (PCM16 24k → μ-law 8k)',
        () => {
          for (let i = 0; i < 160; i++) outUlaw[i] = naiveEncode(pcm24k[3 * i]!);
        },
      ],
    ],
  };
}

/** Per-frame µs samples from `batches` timed batches of `frames` calls each, after a warm-up. */
export function timeKernel(fn: Kernel, batches: number, frames: number): Samples {
  for (let i = 0; i < Math.min(20_000, batches * frames); i++) fn();
  const samples = new Samples(batches);
  for (let b = 0; b < batches; b++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < frames; i++) fn();
    samples.record(Number(process.hrtime.bigint() - t0) / 1000 / frames);
  }
  return samples;
}

export const dspSuite: BenchSuite = {
  name: 'dsp',
  async run({ smoke }) {
    const sets: KernelSet[] = [];
    const native = loadAudioBackend('auto');
    if (native.backend.name === 'native') sets.push(kernelsFor(native.backend));
    sets.push(kernelsFor(tsBackend), naiveKernels());
    const batches = smoke ? 100 : 3000;
    const frames = smoke ? 8 : 32;
    const rows: BenchRow[] = [];
    for (const set of sets) {
      for (const [name, fn] of set.kernels) {
        const s = timeKernel(fn, batches, frames).summary();
        rows.push({
          suite: 'dsp',
          name,
          backend: set.backend,
          execution: 'inline',
          p50Us: round(s.p50),
          p99Us: round(s.p99),
          p999Us: round(s.p999),
          framesPerSecPerCore: Math.round(1e6 / s.mean),
          extra: { frames: s.count * frames },
        });
      }
    }
    if (native.warning !== undefined) {
      rows.push({ suite: 'dsp', name: 'native addon unavailable', extra: { warning: native.warning } });
    }
    return rows;
  },
};

// The native backend: loads build/Release/gateway_dsp.node and wraps it in the AudioBackend contract. Every
// argument is validated here (same checks and messages as the TS backend) before it crosses into C++, which only
// ever sees typed arrays and integers. Resampler designs come from design.ts, so native ≡ TS bit for bit.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AGENT_INPUT_RATE, AGENT_OUTPUT_RATE } from '../contract/media.ts';
import {
  BLOCK,
  COEF_SHIFT,
  COEF_SPLIT,
  checkRate,
  designPolyphase,
  PHASE_ALIGN,
  type PolyphaseDesign,
} from './design.ts';
import { KernelDownlink, KernelResampler, KernelUplink, type PolyphaseImpl } from './kernels.ts';
import { PassthroughResampler } from './passthrough.ts';
import type { AudioBackend, DownlinkKernel, Resampler, UplinkKernel } from './types.ts';
import { assertCapacity, assertInt16, assertUint8 } from './validate.ts';

/** Must match kAbiVersion in native/src/addon.cc. */
export const NATIVE_ABI_VERSION = 2;

export const DEFAULT_ADDON_PATH = join(
  dirname(fileURLToPath(import.meta.url)),
  '..',
  '..',
  'build',
  'Release',
  'gateway_dsp.node',
);

interface NativeAddon {
  abiVersion: number;
  blockSize: number;
  phaseAlign: number;
  coefShift: number;
  coefSplit: number;
  ulawDecode(input: Uint8Array, out: Int16Array): void;
  ulawEncode(input: Int16Array, out: Uint8Array): void;
  Polyphase: new (up: number, down: number, history: number, coefs: Float64Array, phases: Int32Array) => PolyphaseImpl;
}

/**
 * Loads the addon and returns the native backend. Throws (a plain Error from the loader, or one naming the
 * mismatch) when the file is missing, fails to load, or was built from other sources; backend.ts turns that into
 * the warning or GW_ERR_NATIVE_UNAVAILABLE.
 */
export function loadNativeBackend(path: string = DEFAULT_ADDON_PATH): AudioBackend {
  const addon = createRequire(import.meta.url)(path) as NativeAddon;
  const got = [addon.abiVersion, addon.blockSize, addon.phaseAlign, addon.coefShift, addon.coefSplit];
  const want = [NATIVE_ABI_VERSION, BLOCK, PHASE_ALIGN, COEF_SHIFT, COEF_SPLIT];
  if (got.some((v, i) => v !== want[i])) {
    throw new Error(
      `stale native build at ${path} (abi, block, align, coefficient shift and split ${got.join(', ')}; ` +
        `expected ${want.join(', ')})`,
    );
  }
  // The addon's Polyphase object already has the shape the shared wrappers take (src/audio/kernels.ts).
  const polyphase = (d: PolyphaseDesign): PolyphaseImpl =>
    new addon.Polyphase(d.up, d.down, d.history, d.coefs, d.phases);
  return Object.freeze({
    name: 'native' as const,
    ulawDecode(input: Uint8Array, out: Int16Array): void {
      assertUint8('input', input);
      assertInt16('out', out);
      assertCapacity('out', out.length, input.length);
      addon.ulawDecode(input, out);
    },
    ulawEncode(input: Int16Array, out: Uint8Array): void {
      assertInt16('input', input);
      assertUint8('out', out);
      assertCapacity('out', out.length, input.length);
      addon.ulawEncode(input, out);
    },
    createResampler(inRate: number, outRate: number): Resampler {
      if (inRate === outRate) return new PassthroughResampler(checkRate('inRate', inRate));
      return new KernelResampler(polyphase, designPolyphase(inRate, outRate));
    },
    createUplink: (): UplinkKernel => new KernelUplink(polyphase, AGENT_INPUT_RATE),
    createDownlink: (): DownlinkKernel => new KernelDownlink(polyphase, AGENT_OUTPUT_RATE),
  });
}

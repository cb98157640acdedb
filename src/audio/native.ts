// The native backend: loads build/Release/gateway_dsp.node and wraps it in the AudioBackend contract. Every
// argument is validated here (same checks and messages as the TS backend) before it crosses into C++, which only
// ever sees typed arrays and integers. Resampler designs come from design.ts, so native ≡ TS bit for bit.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  BLOCK,
  COEF_SHIFT,
  COEF_SPLIT,
  checkRate,
  designPolyphase,
  maxOutputFor,
  PHASE_ALIGN,
  type PolyphaseDesign,
} from './design.ts';
import { PassthroughResampler } from './passthrough.ts';
import type { AudioBackend, DownlinkKernel, Resampler, UplinkKernel } from './types.ts';
import { AGENT_INPUT_RATE, AGENT_OUTPUT_RATE } from '../contract/media.ts';
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

interface NativePolyphase {
  pcm(input: Int16Array, out: Int16Array): number;
  ulawIn(input: Uint8Array, out: Int16Array): number;
  ulawOut(input: Int16Array, out: Uint8Array): number;
  reset(): void;
}

interface NativeAddon {
  abiVersion: number;
  blockSize: number;
  phaseAlign: number;
  coefShift: number;
  coefSplit: number;
  ulawDecode(input: Uint8Array, out: Int16Array): void;
  ulawEncode(input: Int16Array, out: Uint8Array): void;
  Polyphase: new (
    up: number,
    down: number,
    history: number,
    coefs: Float64Array,
    phases: Int32Array,
  ) => NativePolyphase;
}

function makePolyphase(addon: NativeAddon, d: PolyphaseDesign): NativePolyphase {
  return new addon.Polyphase(d.up, d.down, d.history, d.coefs, d.phases);
}

class NativeResampler implements Resampler {
  readonly inRate: number;
  readonly outRate: number;
  readonly delaySamples: number;
  private readonly up: number;
  private readonly down: number;
  private readonly impl: NativePolyphase;
  constructor(addon: NativeAddon, design: PolyphaseDesign) {
    this.inRate = design.inRate;
    this.outRate = design.outRate;
    this.delaySamples = design.delaySamples;
    this.up = design.up;
    this.down = design.down;
    this.impl = makePolyphase(addon, design);
  }
  maxOutput(inputLength: number): number {
    return maxOutputFor(inputLength, this.up, this.down);
  }
  process(input: Int16Array, out: Int16Array): number {
    assertInt16('input', input);
    assertInt16('out', out);
    assertCapacity('out', out.length, this.maxOutput(input.length));
    return this.impl.pcm(input, out);
  }
  reset(): void {
    this.impl.reset();
  }
}

class NativeUplink implements UplinkKernel {
  private readonly impl: NativePolyphase;
  constructor(addon: NativeAddon) {
    this.impl = makePolyphase(addon, designPolyphase(8000, AGENT_INPUT_RATE));
  }
  process(ulaw: Uint8Array, out: Int16Array): number {
    assertUint8('ulaw', ulaw);
    assertInt16('out', out);
    assertCapacity('out', out.length, ulaw.length * 2);
    return this.impl.ulawIn(ulaw, out);
  }
  reset(): void {
    this.impl.reset();
  }
}

class NativeDownlink implements DownlinkKernel {
  private readonly impl: NativePolyphase;
  constructor(addon: NativeAddon) {
    this.impl = makePolyphase(addon, designPolyphase(AGENT_OUTPUT_RATE, 8000));
  }
  maxOutput(inputLength: number): number {
    return maxOutputFor(inputLength, 1, 3);
  }
  process(pcm24k: Int16Array, out: Uint8Array): number {
    assertInt16('pcm24k', pcm24k);
    assertUint8('out', out);
    assertCapacity('out', out.length, this.maxOutput(pcm24k.length));
    return this.impl.ulawOut(pcm24k, out);
  }
  reset(): void {
    this.impl.reset();
  }
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
      return new NativeResampler(addon, designPolyphase(inRate, outRate));
    },
    createUplink: (): UplinkKernel => new NativeUplink(addon),
    createDownlink: (): DownlinkKernel => new NativeDownlink(addon),
  });
}

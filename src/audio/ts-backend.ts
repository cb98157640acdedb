// The pure-TS backend: always available, and the reference the native addon is tested against.

import { AGENT_INPUT_RATE, AGENT_OUTPUT_RATE } from '../contract/media.ts';
import { BLOCK, checkRate, designPolyphase, maxOutputFor, type PolyphaseDesign } from './design.ts';
import { ulawDecodeInto, ulawEncodeInto } from './g711.ts';
import { KernelDownlink, KernelResampler, KernelUplink, type PolyphaseImpl } from './kernels.ts';
import { PassthroughResampler } from './passthrough.ts';
import { TsPolyphase } from './ts-polyphase.ts';
import type { AudioBackend, DownlinkKernel, Resampler, UplinkKernel } from './types.ts';
import { assertCapacity, assertInt16, assertUint8 } from './validate.ts';

/** The TS engine behind the polyphase shape the native addon exports (src/audio/kernels.ts). */
function tsPolyphase(design: PolyphaseDesign): PolyphaseImpl {
  const engine = new TsPolyphase(design);
  // processUlawOut filters one block at a time into this scratch, then encodes it.
  const scratch = new Int16Array(maxOutputFor(BLOCK, design.up, design.down));
  return {
    pcm: (input, out) => engine.processPcm(input, input.length, out),
    ulawIn: (input, out) => engine.processUlawIn(input, input.length, out),
    ulawOut: (input, out) => engine.processUlawOut(input, input.length, out, scratch),
    reset: () => engine.reset(),
  };
}

export const tsBackend: AudioBackend = Object.freeze({
  name: 'ts' as const,
  ulawDecode(input: Uint8Array, out: Int16Array): void {
    assertUint8('input', input);
    assertInt16('out', out);
    assertCapacity('out', out.length, input.length);
    ulawDecodeInto(input, out, input.length);
  },
  ulawEncode(input: Int16Array, out: Uint8Array): void {
    assertInt16('input', input);
    assertUint8('out', out);
    assertCapacity('out', out.length, input.length);
    ulawEncodeInto(input, out, input.length);
  },
  createResampler(inRate: number, outRate: number): Resampler {
    if (inRate === outRate) {
      return new PassthroughResampler(checkRate('inRate', inRate));
    }
    return new KernelResampler(tsPolyphase, designPolyphase(inRate, outRate));
  },
  createUplink: (): UplinkKernel => new KernelUplink(tsPolyphase, AGENT_INPUT_RATE),
  createDownlink: (): DownlinkKernel => new KernelDownlink(tsPolyphase, AGENT_OUTPUT_RATE),
});

// The pure-TS backend: always available, and the reference the native addon is tested against.
import { BLOCK, checkRate, designPolyphase, maxOutputFor, type PolyphaseDesign } from './design.ts';
import { ulawDecodeInto, ulawEncodeInto } from './g711.ts';
import { PassthroughResampler } from './passthrough.ts';
import { TsPolyphase } from './ts-polyphase.ts';
import type { AudioBackend, DownlinkKernel, Resampler, UplinkKernel } from './types.ts';
import { AGENT_INPUT_RATE, AGENT_OUTPUT_RATE } from '../contract/media.ts';
import { assertCapacity, assertInt16, assertUint8 } from './validate.ts';

class TsResampler implements Resampler {
  readonly inRate: number;
  readonly outRate: number;
  readonly delaySamples: number;
  private readonly engine: TsPolyphase;
  private readonly up: number;
  private readonly down: number;
  constructor(design: PolyphaseDesign) {
    this.inRate = design.inRate;
    this.outRate = design.outRate;
    this.delaySamples = design.delaySamples;
    this.up = design.up;
    this.down = design.down;
    this.engine = new TsPolyphase(design);
  }
  maxOutput(inputLength: number): number {
    return maxOutputFor(inputLength, this.up, this.down);
  }
  process(input: Int16Array, out: Int16Array): number {
    assertInt16('input', input);
    assertInt16('out', out);
    assertCapacity('out', out.length, this.maxOutput(input.length));
    return this.engine.processPcm(input, input.length, out);
  }
  reset(): void {
    this.engine.reset();
  }
}

class TsUplink implements UplinkKernel {
  private readonly engine = new TsPolyphase(designPolyphase(8000, AGENT_INPUT_RATE));
  process(ulaw: Uint8Array, out: Int16Array): number {
    assertUint8('ulaw', ulaw);
    assertInt16('out', out);
    assertCapacity('out', out.length, ulaw.length * 2);
    return this.engine.processUlawIn(ulaw, ulaw.length, out);
  }
  reset(): void {
    this.engine.reset();
  }
}

class TsDownlink implements DownlinkKernel {
  private readonly engine = new TsPolyphase(designPolyphase(AGENT_OUTPUT_RATE, 8000));
  private readonly scratch = new Int16Array(maxOutputFor(BLOCK, 1, 3));
  maxOutput(inputLength: number): number {
    return maxOutputFor(inputLength, 1, 3);
  }
  process(pcm24k: Int16Array, out: Uint8Array): number {
    assertInt16('pcm24k', pcm24k);
    assertUint8('out', out);
    assertCapacity('out', out.length, this.maxOutput(pcm24k.length));
    return this.engine.processUlawOut(pcm24k, pcm24k.length, out, this.scratch);
  }
  reset(): void {
    this.engine.reset();
  }
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
    return new TsResampler(designPolyphase(inRate, outRate));
  },
  createUplink: (): UplinkKernel => new TsUplink(),
  createDownlink: (): DownlinkKernel => new TsDownlink(),
});

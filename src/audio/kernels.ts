// The kernel wrappers both backends share: a backend supplies only its polyphase engine (the native addon's object,
// or the TS engine behind the same four methods) and its G.711 pair; argument checks, capacity rules and the
// designs live here once, so the backends cannot drift apart at the boundary.
//
// Each kernel has two entries: `process` checks its arguments (the public AudioBackend boundary: tests, the pool
// worker, any caller), `processChecked` trusts them. The engine (src/audio/engine.ts) validates a frame once where
// it enters and then calls `processChecked` with buffers it allocated itself, so a frame is validated once in JS.
// The C++ side still re-checks the array types and lengths it is handed (native/src/addon.cc GetView): that is a
// few compares per call and keeps memory safety independent of this file.
import { designPolyphase, maxOutputFor, type PolyphaseDesign } from './design.ts';
import type { DownlinkKernel, Resampler, UplinkKernel } from './types.ts';
import { assertCapacity, assertInt16, assertUint8 } from './validate.ts';

/** One streaming polyphase filter with its state, as each backend implements it. */
export interface PolyphaseImpl {
  /** PCM16 in, PCM16 out at the design's rates; returns samples written. */
  pcm(input: Int16Array, out: Int16Array): number;
  /** μ-law in (decoded on the fly), PCM16 out. */
  ulawIn(input: Uint8Array, out: Int16Array): number;
  /** PCM16 in, μ-law out (encoded on the fly). */
  ulawOut(input: Int16Array, out: Uint8Array): number;
  reset(): void;
}

export type PolyphaseFactory = (design: PolyphaseDesign) => PolyphaseImpl;

export class KernelResampler implements Resampler {
  readonly inRate: number;
  readonly outRate: number;
  readonly delaySamples: number;
  private readonly up: number;
  private readonly down: number;
  private readonly impl: PolyphaseImpl;

  constructor(make: PolyphaseFactory, design: PolyphaseDesign) {
    this.inRate = design.inRate;
    this.outRate = design.outRate;
    this.delaySamples = design.delaySamples;
    this.up = design.up;
    this.down = design.down;
    this.impl = make(design);
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

  processChecked(input: Int16Array, out: Int16Array): number {
    return this.impl.pcm(input, out);
  }

  reset(): void {
    this.impl.reset();
  }
}

/** Fused uplink: μ-law 8 kHz → PCM16 at `outRate` (the agent's input rate). */
export class KernelUplink implements UplinkKernel {
  private readonly impl: PolyphaseImpl;
  private readonly ratio: number;

  constructor(make: PolyphaseFactory, outRate: number) {
    this.impl = make(designPolyphase(8000, outRate));
    this.ratio = outRate / 8000;
  }

  process(ulaw: Uint8Array, out: Int16Array): number {
    assertUint8('ulaw', ulaw);
    assertInt16('out', out);
    assertCapacity('out', out.length, ulaw.length * this.ratio);
    return this.impl.ulawIn(ulaw, out);
  }

  processChecked(ulaw: Uint8Array, out: Int16Array): number {
    return this.impl.ulawIn(ulaw, out);
  }

  reset(): void {
    this.impl.reset();
  }
}

/** Fused downlink: PCM16 at `inRate` (the agent's output rate) → μ-law 8 kHz. */
export class KernelDownlink implements DownlinkKernel {
  private readonly impl: PolyphaseImpl;
  private readonly design: PolyphaseDesign;

  constructor(make: PolyphaseFactory, inRate: number) {
    this.design = designPolyphase(inRate, 8000);
    this.impl = make(this.design);
  }

  maxOutput(inputLength: number): number {
    return maxOutputFor(inputLength, this.design.up, this.design.down);
  }

  process(pcm: Int16Array, out: Uint8Array): number {
    assertInt16('pcm24k', pcm);
    assertUint8('out', out);
    assertCapacity('out', out.length, this.maxOutput(pcm.length));
    return this.impl.ulawOut(pcm, out);
  }

  processChecked(pcm: Int16Array, out: Uint8Array): number {
    return this.impl.ulawOut(pcm, out);
  }

  reset(): void {
    this.impl.reset();
  }
}

import type { Resampler } from './types.ts';
import { assertCapacity, assertInt16 } from './validate.ts';

/** Equal rates: a copy, zero delay. Shared by both backends (there is nothing to accelerate). */
export class PassthroughResampler implements Resampler {
  readonly inRate: number;
  readonly outRate: number;
  readonly delaySamples = 0;
  constructor(rate: number) {
    this.inRate = rate;
    this.outRate = rate;
  }
  maxOutput(inputLength: number): number {
    return inputLength;
  }
  process(input: Int16Array, out: Int16Array): number {
    assertInt16('input', input);
    assertInt16('out', out);
    assertCapacity('out', out.length, input.length);
    return this.processChecked(input, out);
  }
  processChecked(input: Int16Array, out: Int16Array): number {
    out.set(input);
    return input.length;
  }
  reset(): void {}
}

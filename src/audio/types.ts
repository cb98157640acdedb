// The audio core's public contract. Two implementations (native C++ addon and pure TS) give the same results;
// an AudioEngine adds the execution mode (inline on the calling thread, or batched on a piscina pool).
// The phone edge owns per-stream converters between a phone format and the agent's rates, both defined by
// the ground-floor contract (src/contract/media.ts): the DSP names no party.
import type { PhoneAudioFormat } from '../contract/media.ts';

export type AudioBackendName = 'native' | 'ts';

/**
 * Streaming rational resampler (L/M polyphase FIR) with per-stream state. Output does not depend on how the
 * input is chunked. `process` writes into `out` and returns the number of samples written; `out` must hold at
 * least `maxOutput(input.length)` samples.
 */
export interface Resampler {
  readonly inRate: number;
  readonly outRate: number;
  /** Group delay in output samples (exact, may be fractional). */
  readonly delaySamples: number;
  maxOutput(inputLength: number): number;
  process(input: Int16Array, out: Int16Array): number;
  /** `process` without argument checks, for a caller that checked at its own boundary (src/audio/engine.ts). */
  processChecked(input: Int16Array, out: Int16Array): number;
  reset(): void;
}

/** Stateless kernels plus factories for stateful ones: what each backend implements. */
export interface AudioBackend {
  readonly name: AudioBackendName;
  /** G.711 μ-law (bit-exact to ITU-T G.711, same codes as sox/audioop). */
  ulawDecode(input: Uint8Array, out: Int16Array): void;
  ulawEncode(input: Int16Array, out: Uint8Array): void;
  createResampler(inRate: number, outRate: number): Resampler;
  /** Fused uplink: μ-law 8 kHz → PCM16 16 kHz. `out.length` must be 2 × `ulaw.length`. */
  createUplink(): UplinkKernel;
  /** Fused downlink: PCM16 24 kHz → μ-law 8 kHz; returns μ-law bytes written (input may be any length). */
  createDownlink(): DownlinkKernel;
}

export interface UplinkKernel {
  process(ulaw: Uint8Array, out: Int16Array): number;
  /** `process` without argument checks (see Resampler.processChecked). */
  processChecked(ulaw: Uint8Array, out: Int16Array): number;
  reset(): void;
}

export interface DownlinkKernel {
  maxOutput(inputLength: number): number;
  process(pcm24k: Int16Array, out: Uint8Array): number;
  /** `process` without argument checks (see Resampler.processChecked). */
  processChecked(pcm24k: Int16Array, out: Uint8Array): number;
  reset(): void;
}

/**
 * Per-stream converter from phone audio to agent input (PCM16 16 kHz). Delivers each converted frame to the `onFrame` given at
 * creation (synchronously in inline mode, later in pool mode, always in order). The Int16Array handed to
 * `onFrame` is only valid during the callback: copy it if you keep it.
 */
export interface UplinkConverter {
  push(phoneFrame: Uint8Array): void;
  close(): void;
}

/**
 * Per-stream converter from agent output (PCM16 24 kHz, any chunk size) to phone frames of exactly 20 ms
 * (160 bytes μ-law at 8 kHz, 320/640 bytes for L16 8/16 kHz). `onFrame`'s buffer is valid only during the
 * callback. `flush()` pads the last partial frame with silence and emits it (end of a turn); `clear()` drops
 * everything pending, filter history included (barge-in).
 */
export interface DownlinkConverter {
  push(pcm24k: Int16Array): void;
  flush(): void;
  clear(): void;
  close(): void;
}

export interface AudioEngine {
  readonly backend: AudioBackendName;
  readonly execution: 'inline' | 'pool';
  createUplink(format: PhoneAudioFormat, onFrame: (pcm16k: Int16Array) => void): UplinkConverter;
  createDownlink(format: PhoneAudioFormat, onFrame: (phoneFrame: Uint8Array) => void): DownlinkConverter;
  close(): Promise<void>;
}

// Per-stream converters on the calling thread (AUDIO_EXECUTION=inline), plus the factory that picks inline or the
// piscina pool. The frame is validated once, here where it enters (push); the kernels are then called through
// their unchecked entry with buffers this file sized itself (src/audio/kernels.ts). Every converter preallocates its scratch and frame buffers: push() allocates nothing when the
// phone sends 20 ms frames (the normal case); only oversized chunks are split through subarray views.

import type { Config } from '../config.ts';
import type { PhoneAudioFormat } from '../contract/media.ts';
import { AGENT_INPUT_RATE, AGENT_OUTPUT_RATE, FRAME_MS } from '../contract/media.ts';
import { GatewayError, InvalidStateError } from '../errors.ts';
import { loadAudioBackend } from './backend.ts';
import { createPoolEngine } from './pool/index.ts';
import type {
  AudioBackend,
  AudioEngine,
  DownlinkConverter,
  DownlinkKernel,
  Resampler,
  UplinkConverter,
  UplinkKernel,
} from './types.ts';
import { assertInt16, assertUint8 } from './validate.ts';

/** PCM16 samples in one 20 ms frame of agent input (16 kHz). */
const UP_FRAME = (AGENT_INPUT_RATE * FRAME_MS) / 1000;
/** Largest input chunk converted in one kernel call; bigger pushes are split. */
const MAX_CHUNK_IN = 4096;
const ULAW_SILENCE = 0xff;

function checkFormat(format: PhoneAudioFormat): PhoneAudioFormat {
  const ok =
    format !== null &&
    typeof format === 'object' &&
    ((format.encoding === 'mulaw' && format.sampleRate === 8000) ||
      (format.encoding === 'l16' && (format.sampleRate === 8000 || format.sampleRate === 16000)));
  if (!ok) {
    throw new GatewayError(
      'GW_ERR_INVALID_ARGUMENT',
      `unsupported phone audio format ${JSON.stringify(format)}: expected μ-law 8 kHz or L16 8/16 kHz`,
    );
  }
  return format;
}

function checkCallback(onFrame: unknown): void {
  if (typeof onFrame !== 'function') throw new GatewayError('GW_ERR_INVALID_ARGUMENT', 'onFrame must be a function');
}

function oddL16(length: number): GatewayError {
  return new GatewayError('GW_ERR_AUDIO', `L16 audio must be whole 16-bit samples (got ${length} bytes, odd)`);
}

/** Little-endian PCM16 bytes → samples, without a (possibly misaligned) view. */
function readL16(bytes: Uint8Array, from: number, count: number, out: Int16Array): void {
  for (let i = 0, b = from; i < count; i++, b += 2) out[i] = ((bytes[b + 1]! << 24) >> 16) | bytes[b]!;
}

class InlineUplink implements UplinkConverter {
  private readonly frame = new Int16Array(UP_FRAME);
  private filled = 0;
  private closed = false;
  private readonly onFrame: (pcm16k: Int16Array) => void;
  private readonly format: PhoneAudioFormat;
  private readonly kernel: UplinkKernel | undefined;
  private readonly resampler: Resampler | undefined;
  private readonly samples: Int16Array; // L16 input decoded from bytes
  /**
   * 16 kHz output of one chunk, allocated on first use: a μ-law stream in whole 20 ms frames (Plivo's) never needs
   * it, and 16 KiB on every call would be a tenth of a call's memory.
   */
  private convertedBuf: Int16Array | undefined;

  constructor(backend: AudioBackend, format: PhoneAudioFormat, onFrame: (pcm16k: Int16Array) => void) {
    this.format = format;
    this.onFrame = onFrame;
    if (format.encoding === 'mulaw') this.kernel = backend.createUplink();
    else if (format.sampleRate === 8000) this.resampler = backend.createResampler(8000, AGENT_INPUT_RATE);
    this.samples = new Int16Array(format.encoding === 'mulaw' ? 0 : MAX_CHUNK_IN);
  }

  private get converted(): Int16Array {
    this.convertedBuf ??= new Int16Array(MAX_CHUNK_IN * 2);
    return this.convertedBuf;
  }

  push(phoneFrame: Uint8Array): void {
    if (this.closed) throw new InvalidStateError('uplink converter used after close()');
    assertUint8('phoneFrame', phoneFrame);
    if (this.format.encoding === 'l16' && phoneFrame.length % 2 !== 0) throw oddL16(phoneFrame.length);
    for (let start = 0; start < phoneFrame.length; start += MAX_CHUNK_IN) {
      const end = Math.min(phoneFrame.length, start + MAX_CHUNK_IN);
      const chunk = start === 0 && end === phoneFrame.length ? phoneFrame : phoneFrame.subarray(start, end);
      this.convert(chunk);
    }
  }

  private convert(chunk: Uint8Array): void {
    if (this.kernel) {
      // Fast path: a whole 20 ms μ-law frame lands directly in the frame buffer.
      if (this.filled === 0 && chunk.length * 2 === UP_FRAME) {
        this.kernel.processChecked(chunk, this.frame);
        this.onFrame(this.frame);
        return;
      }
      this.emit(this.kernel.processChecked(chunk, this.converted));
      return;
    }
    const n = chunk.length >> 1;
    if (this.resampler) {
      readL16(chunk, 0, n, this.samples);
      // The resampler takes the whole samples buffer; process only the first n via a per-converter view cache.
      this.emit(this.resampler.processChecked(this.view(n), this.converted));
      return;
    }
    readL16(chunk, 0, n, this.converted);
    this.emit(n);
  }

  private lastView: Int16Array | undefined;
  /** A view of the first n decoded samples, reused while the phone keeps the same frame size (it always does). */
  private view(n: number): Int16Array {
    if (this.lastView === undefined || this.lastView.length !== n) this.lastView = this.samples.subarray(0, n);
    return this.lastView;
  }

  private emit(count: number): void {
    const src = this.converted;
    const frame = this.frame;
    let filled = this.filled;
    for (let i = 0; i < count; i++) {
      frame[filled++] = src[i]!;
      if (filled === UP_FRAME) {
        filled = 0;
        this.filled = 0;
        this.onFrame(frame);
      }
    }
    this.filled = filled;
  }

  close(): void {
    this.closed = true;
  }
}

class InlineDownlink implements DownlinkConverter {
  private readonly onFrame: (phoneFrame: Uint8Array) => void;
  private readonly frame: Uint8Array;
  private readonly silence: number;
  private filled = 0;
  private closed = false;
  private readonly kernel: DownlinkKernel | undefined;
  private readonly resampler: Resampler | undefined;
  private readonly ulaw: Uint8Array;
  private readonly pcm: Int16Array;

  constructor(backend: AudioBackend, format: PhoneAudioFormat, onFrame: (phoneFrame: Uint8Array) => void) {
    this.onFrame = onFrame;
    const bytesPerSample = format.encoding === 'mulaw' ? 1 : 2;
    this.frame = new Uint8Array(((format.sampleRate * FRAME_MS) / 1000) * bytesPerSample);
    this.silence = format.encoding === 'mulaw' ? ULAW_SILENCE : 0;
    if (format.encoding === 'mulaw') this.kernel = backend.createDownlink();
    else this.resampler = backend.createResampler(AGENT_OUTPUT_RATE, format.sampleRate);
    this.ulaw = new Uint8Array(this.kernel ? this.kernel.maxOutput(MAX_CHUNK_IN) : 0);
    this.pcm = new Int16Array(this.resampler ? this.resampler.maxOutput(MAX_CHUNK_IN) : 0);
  }

  push(pcm24k: Int16Array): void {
    if (this.closed) throw new InvalidStateError('downlink converter used after close()');
    assertInt16('pcm24k', pcm24k);
    for (let start = 0; start < pcm24k.length; start += MAX_CHUNK_IN) {
      const end = Math.min(pcm24k.length, start + MAX_CHUNK_IN);
      const chunk = start === 0 && end === pcm24k.length ? pcm24k : pcm24k.subarray(start, end);
      if (this.kernel) this.emitBytes(this.kernel.processChecked(chunk, this.ulaw));
      else this.emitL16(this.resampler!.processChecked(chunk, this.pcm));
    }
  }

  private emitBytes(count: number): void {
    const src = this.ulaw;
    const frame = this.frame;
    const size = frame.length;
    let filled = this.filled;
    for (let i = 0; i < count; i++) {
      frame[filled++] = src[i]!;
      if (filled === size) {
        filled = 0;
        this.filled = 0;
        this.onFrame(frame);
      }
    }
    this.filled = filled;
  }

  private emitL16(count: number): void {
    const src = this.pcm;
    const frame = this.frame;
    const size = frame.length;
    let filled = this.filled;
    for (let i = 0; i < count; i++) {
      const s = src[i]!;
      frame[filled++] = s & 0xff;
      frame[filled++] = (s >> 8) & 0xff;
      if (filled === size) {
        filled = 0;
        this.filled = 0;
        this.onFrame(frame);
      }
    }
    this.filled = filled;
  }

  flush(): void {
    if (this.closed) throw new InvalidStateError('downlink converter used after close()');
    if (this.filled === 0) return;
    this.frame.fill(this.silence, this.filled);
    this.filled = 0;
    this.onFrame(this.frame);
  }

  clear(): void {
    if (this.closed) return;
    this.filled = 0;
    this.kernel?.reset();
    this.resampler?.reset();
  }

  close(): void {
    this.closed = true;
  }
}

/** Converters that run synchronously on the calling thread: onFrame fires inside push()/flush(). */
export function createInlineEngine(backend: AudioBackend): AudioEngine {
  let closed = false;
  const live = (): void => {
    if (closed) throw new InvalidStateError('audio engine used after close()');
  };
  return {
    backend: backend.name,
    execution: 'inline',
    createUplink(format, onFrame) {
      live();
      checkCallback(onFrame);
      return new InlineUplink(backend, checkFormat(format), onFrame);
    },
    createDownlink(format, onFrame) {
      live();
      checkCallback(onFrame);
      return new InlineDownlink(backend, checkFormat(format), onFrame);
    },
    async close() {
      closed = true;
    },
  };
}

/**
 * The engine configured by AUDIO_EXECUTION / AUDIO_BACKEND / AUDIO_POOL_THREADS. `warning` is the backend
 * fallback message, to be logged once by the caller.
 */
export async function createAudioEngine(config: Config['audio']): Promise<{ engine: AudioEngine; warning?: string }> {
  if (config.execution === 'inline') {
    const { backend, warning } = loadAudioBackend(config.backend);
    const engine = createInlineEngine(backend);
    return warning === undefined ? { engine } : { engine, warning };
  }
  if (config.execution !== 'pool') {
    throw new GatewayError(
      'GW_ERR_INVALID_ARGUMENT',
      `audio execution must be inline or pool (got ${config.execution})`,
    );
  }
  const engine = await createPoolEngine({ backendPreference: config.backend, threads: config.poolThreads });
  return engine.warning === undefined ? { engine } : { engine, warning: engine.warning };
}

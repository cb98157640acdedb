// Wire layout shared by the main thread and the pool workers. One batch carries the records of every stream
// pinned to one worker, for one hand-off:
//
//   input  (SharedArrayBuffer, filled by the main thread, read by the worker)
//   ┌────┬──────┬─────┬─────┬──────────────────────┐┌────┬─ …
//   │ op │ slot │ arg │ len │ payload (len bytes,   ││ op │
//   │ u32│ u32  │ u32 │ u32 │ padded to 4)          ││    │
//   └────┴──────┴─────┴─────┴──────────────────────┘└────┴─ …
//
//   output (SharedArrayBuffer, written by the worker, read by the main thread)
//   ┌──────┬─────┬─────┬──────────────────────┐┌─ …
//   │ slot │ gen │ len │ payload (len bytes,   ││
//   │ u32  │ u32 │ u32 │ padded to 4)          ││
//   └──────┴─────┴─────┴──────────────────────┘└─ …
//
// `arg` is the stream's generation for PUSH/FLUSH (copied onto every frame it produces, so the main thread can
// drop frames produced before a clear()), and the format code for OPEN_*. Payloads stay 4-byte aligned so the
// same buffer can be viewed as Int16Array/Int32Array without copying.
import type { PhoneAudioFormat } from '../../contract/media.ts';

export const IN_HEADER_BYTES = 16;
export const OUT_HEADER_BYTES = 12;

export const OP_OPEN_UP = 1;
export const OP_OPEN_DOWN = 2;
export const OP_PUSH = 3;
export const OP_FLUSH = 4;
export const OP_CLEAR = 5;
export const OP_CLOSE = 6;

export const FORMATS: readonly PhoneAudioFormat[] = [
  { encoding: 'mulaw', sampleRate: 8000 },
  { encoding: 'l16', sampleRate: 8000 },
  { encoding: 'l16', sampleRate: 16000 },
];

export function formatCode(format: PhoneAudioFormat): number {
  for (let i = 0; i < FORMATS.length; i++) {
    const f = FORMATS[i]!;
    if (f.encoding === format.encoding && f.sampleRate === format.sampleRate) return i;
  }
  return -1;
}

export function pad4(n: number): number {
  return (n + 3) & ~3;
}

/** First message to each worker: load the kernels, report what was loaded. */
export interface InitTask {
  kind: 'init';
  backendPreference: 'auto' | 'native' | 'ts';
  /** Module exporting `createWorkerEngine(pref)`; see worker-engine.ts. */
  engineModule: string;
}

export interface InitResult {
  ok: boolean;
  backend?: 'native' | 'ts';
  warning?: string | undefined;
  code?: string;
  message?: string;
}

export interface BatchTask {
  kind: 'batch';
  /** Bumped by the main thread after a failure: a worker seeing a new value drops every stream it holds. */
  incarnation: number;
  input: SharedArrayBuffer;
  inputBytes: number;
  output: SharedArrayBuffer;
}

export interface BatchResult {
  outputBytes: number;
  /** Set when the worker had to grow the output buffer; the main thread keeps it for the next batches. */
  output?: SharedArrayBuffer;
}

export type PoolTask = InitTask | BatchTask;

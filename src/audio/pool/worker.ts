// Pool worker: owns the per-stream converters of every stream pinned to it and runs one batch per task.
// Converters deliver frames synchronously, so while one record is processed `curSlot`/`curGen` say whose frame
// it is and two shared callbacks append it to the output buffer: no per-stream closures, no per-frame views.
import { workerData } from 'node:worker_threads';
import type { AudioEngine, DownlinkConverter, UplinkConverter } from '../types.ts';
import {
  type BatchResult,
  type BatchTask,
  FORMATS,
  IN_HEADER_BYTES,
  type InitResult,
  OP_CLEAR,
  OP_CLOSE,
  OP_FLUSH,
  OP_OPEN_DOWN,
  OP_OPEN_UP,
  OP_PUSH,
  OUT_HEADER_BYTES,
  type PoolTask,
  pad4,
} from './protocol.ts';
import type { WorkerEngine } from './worker-engine.ts';

interface PoolWorkerData {
  backendPreference: 'auto' | 'native' | 'ts';
  engineModule: string;
}

const config = workerData as PoolWorkerData;

let loaded: WorkerEngine | undefined;
let loadError: { code: string; message: string } | undefined;
let loading: Promise<void> | undefined;

let incarnation = 0;
const ups: (UplinkConverter | undefined)[] = [];
const downs: (DownlinkConverter | undefined)[] = [];

let out = new SharedArrayBuffer(0);
let outU8 = new Uint8Array(out);
let outU32 = new Uint32Array(out);
let outI16 = new Int16Array(out);
let outPos = 0;
let outGrown = false;
let curSlot = 0;
let curGen = 0;

function setOutput(buf: SharedArrayBuffer): void {
  out = buf;
  outU8 = new Uint8Array(buf);
  outU32 = new Uint32Array(buf, 0, buf.byteLength >> 2);
  outI16 = new Int16Array(buf, 0, buf.byteLength >> 1);
}

function reserve(bytes: number): void {
  const need = outPos + bytes;
  if (need <= out.byteLength) return;
  let size = Math.max(out.byteLength * 2, 4096);
  while (size < need) size *= 2;
  const next = new SharedArrayBuffer(size);
  new Uint8Array(next).set(outU8.subarray(0, outPos));
  setOutput(next);
  outGrown = true;
}

function emitPcm(frame: Int16Array): void {
  const bytes = frame.length * 2;
  reserve(OUT_HEADER_BYTES + pad4(bytes));
  const w = outPos >> 2;
  outU32[w] = curSlot;
  outU32[w + 1] = curGen;
  outU32[w + 2] = bytes;
  outI16.set(frame, (outPos + OUT_HEADER_BYTES) >> 1);
  outPos += OUT_HEADER_BYTES + pad4(bytes);
}

function emitPhone(frame: Uint8Array): void {
  const bytes = frame.length;
  reserve(OUT_HEADER_BYTES + pad4(bytes));
  const w = outPos >> 2;
  outU32[w] = curSlot;
  outU32[w + 1] = curGen;
  outU32[w + 2] = bytes;
  outU8.set(frame, outPos + OUT_HEADER_BYTES);
  outPos += OUT_HEADER_BYTES + pad4(bytes);
}

// Converters receive a view of a private scratch copy rather than a view into the shared input: views are cached
// by length (20 ms frames repeat the same few lengths), and nothing a converter might keep aliases a buffer the
// main thread refills.
let scratchU8 = new Uint8Array(8192);
let scratchI16 = new Int16Array(scratchU8.buffer);
let viewsU8: (Uint8Array | undefined)[] = [];
let viewsI16: (Int16Array | undefined)[] = [];
const MAX_CACHED_VIEW = 8192;

function ensureScratch(bytes: number): void {
  if (bytes <= scratchU8.length) return;
  scratchU8 = new Uint8Array(pad4(Math.max(bytes, scratchU8.length * 2)));
  scratchI16 = new Int16Array(scratchU8.buffer);
  viewsU8 = [];
  viewsI16 = [];
}

function bytesView(src: Uint8Array, off: number, len: number): Uint8Array {
  ensureScratch(len);
  const s = scratchU8;
  for (let i = 0; i < len; i++) s[i] = src[off + i]!;
  let v = viewsU8[len];
  if (v === undefined) {
    v = s.subarray(0, len);
    if (len <= MAX_CACHED_VIEW) viewsU8[len] = v;
  }
  return v;
}

function samplesView(src: Int16Array, off: number, count: number): Int16Array {
  ensureScratch(count * 2);
  const s = scratchI16;
  const base = off >> 1;
  for (let i = 0; i < count; i++) s[i] = src[base + i]!;
  let v = viewsI16[count];
  if (v === undefined) {
    v = s.subarray(0, count);
    if (count <= MAX_CACHED_VIEW) viewsI16[count] = v;
  }
  return v;
}

function dropAllStreams(): void {
  for (let i = 0; i < ups.length; i++) ups[i]?.close();
  for (let i = 0; i < downs.length; i++) downs[i]?.close();
  ups.length = 0;
  downs.length = 0;
}

async function load(): Promise<void> {
  try {
    const mod = (await import(config.engineModule)) as {
      createWorkerEngine(pref: PoolWorkerData['backendPreference']): Promise<WorkerEngine>;
    };
    loaded = await mod.createWorkerEngine(config.backendPreference);
  } catch (err) {
    const e = err as { code?: unknown; message?: unknown };
    loadError = {
      code: typeof e?.code === 'string' ? e.code : 'GW_ERR_AUDIO',
      message: typeof e?.message === 'string' ? e.message : String(err),
    };
  }
}

function ensureLoaded(): Promise<void> {
  loading ??= load();
  return loading;
}

function runBatch(engine: AudioEngine, task: BatchTask): BatchResult {
  if (task.incarnation !== incarnation) {
    dropAllStreams();
    incarnation = task.incarnation;
  }
  setOutput(task.output);
  outPos = 0;
  outGrown = false;
  const input = task.input;
  const end = task.inputBytes;
  const u32 = new Uint32Array(input, 0, end >> 2);
  const u8 = new Uint8Array(input, 0, end);
  const i16 = new Int16Array(input, 0, end >> 1);
  let pos = 0;
  while (pos < end) {
    const w = pos >> 2;
    const op = u32[w]!;
    const slot = u32[w + 1]!;
    const arg = u32[w + 2]!;
    const len = u32[w + 3]!;
    const payload = pos + IN_HEADER_BYTES;
    curSlot = slot;
    curGen = arg;
    switch (op) {
      case OP_PUSH: {
        const up = ups[slot];
        if (up !== undefined) up.push(bytesView(u8, payload, len));
        else downOf(slot).push(samplesView(i16, payload, len >> 1));
        break;
      }
      case OP_FLUSH:
        downOf(slot).flush();
        break;
      case OP_CLEAR:
        downOf(slot).clear();
        break;
      case OP_OPEN_UP:
        ups[slot]?.close();
        downs[slot]?.close();
        downs[slot] = undefined;
        ups[slot] = engine.createUplink(FORMATS[arg]!, emitPcm);
        break;
      case OP_OPEN_DOWN:
        ups[slot]?.close();
        downs[slot]?.close();
        ups[slot] = undefined;
        downs[slot] = engine.createDownlink(FORMATS[arg]!, emitPhone);
        break;
      case OP_CLOSE:
        ups[slot]?.close();
        downs[slot]?.close();
        ups[slot] = undefined;
        downs[slot] = undefined;
        break;
      default:
        throw new Error(`audio pool: corrupt batch (op ${op} at byte ${pos})`);
    }
    pos = payload + pad4(len);
  }
  return outGrown ? { outputBytes: outPos, output: out } : { outputBytes: outPos };
}

function downOf(slot: number): DownlinkConverter {
  const d = downs[slot];
  if (d === undefined) throw new Error(`audio pool: no stream in slot ${slot}`);
  return d;
}

async function init(): Promise<InitResult> {
  await ensureLoaded();
  if (loaded === undefined) return { ok: false, ...loadError! };
  return { ok: true, backend: loaded.engine.backend, warning: loaded.warning };
}

async function loadThenRun(task: BatchTask): Promise<BatchResult> {
  await ensureLoaded();
  if (loaded === undefined) throw new Error(`audio pool: backend failed to load: ${loadError?.message}`);
  return runBatch(loaded.engine, task);
}

export default function handle(task: PoolTask): BatchResult | Promise<BatchResult> | Promise<InitResult> {
  if (task.kind === 'init') return init();
  // A worker piscina started to replace a dead one has not loaded its backend yet.
  if (loaded === undefined) return loadThenRun(task);
  return runBatch(loaded.engine, task);
}

// AudioEngine that runs the kernels on piscina worker threads. A worker round trip (~40-100 µs) costs far more
// than one frame's DSP (< 1 µs native), so frames are never sent one by one: every stream is pinned to one
// worker ("shard", a one-thread piscina pool, because per-stream filter state lives there), pushes are appended
// to that shard's batch in a SharedArrayBuffer, and one task carries the records of all its streams. Results come
// back in one shared buffer and are dispatched to each stream's onFrame in order.
//
// Each shard has three batch buffers: one filling, up to two in flight. A batch is sent when the scheduling
// window has passed (tickMs = 0: the end of the current event-loop turn, so a lone frame is not delayed while a busy
// process naturally gathers bigger batches; tickMs > 0: that many ms after the first pending record), or as soon as
// it holds maxBatchRecords records, so that the worker starts on a big burst while the main thread is still pushing.
//
// clear() must also stop frames already in flight: every record carries the stream's generation, the worker
// copies it onto every frame it produces, and the main thread delivers only frames of the current generation.
// clear() bumps the generation and queues a reset of the worker's state.
import { Piscina } from 'piscina';
import type { PhoneAudioFormat } from '../../contract/media.ts';
import { GatewayError, InvalidStateError } from '../../errors.ts';
import { childLogger } from '../../log.ts';
import type { AudioBackendName, AudioEngine, DownlinkConverter, UplinkConverter } from '../types.ts';
import { assertInt16, assertUint8 } from '../validate.ts';
import {
  type BatchResult,
  type BatchTask,
  FORMATS,
  formatCode,
  IN_HEADER_BYTES,
  type InitResult,
  type InitTask,
  OP_CLEAR,
  OP_CLOSE,
  OP_FLUSH,
  OP_OPEN_DOWN,
  OP_OPEN_UP,
  OP_PUSH,
  OUT_HEADER_BYTES,
  pad4,
} from './protocol.ts';

export interface PoolEngineOptions {
  backendPreference: 'auto' | 'native' | 'ts';
  /** Worker threads; each stream is pinned to one of them. */
  threads: number;
  /** Batching window in ms after the first pending frame; 0 (default) sends at the end of the event-loop turn. */
  tickMs?: number;
  /** Bytes one worker's pending batch may hold; pushes beyond it are dropped and counted. Default 32 MiB. */
  maxBatchBytes?: number;
  /**
   * A batch holding this many records goes out at once, without waiting for the scheduling window, so a big burst
   * reaches the worker in pieces (up to two in flight per worker). Default 1024.
   */
  maxBatchRecords?: number;
  /**
   * A batch not back after this many ms means a wedged worker: it is terminated and its streams fail, instead of
   * the pool hanging. Default 5000.
   */
  stallTimeoutMs?: number;
  /** Told about every worker failure (the affected streams also throw it from their next call). */
  onError?: (err: GatewayError) => void;
  /**
   * Module each worker imports to build its per-stream converters (exports `createWorkerEngine`, see
   * worker-engine.ts). Default: the real backend and inline engine. Tests substitute instrumented engines.
   */
  engineModule?: string | URL;
}

export interface PoolStats {
  /** Batches completed since start. */
  batches: number;
  /** Records (frames and control operations) sent to workers. */
  records: number;
  /** Pushes dropped because a worker's pending batch was full. */
  droppedPushes: number;
  /** Worker failures (each fails the streams pinned to that worker). */
  failures: number;
  streams: number;
}

export interface PoolEngine extends AudioEngine {
  readonly execution: 'pool';
  /** Set when the preferred backend was unavailable and the workers fell back. */
  readonly warning: string | undefined;
  stats(): PoolStats;
  /** Resolves once every frame pushed so far has been delivered (or dropped by clear/close). */
  whenIdle(): Promise<void>;
}

const DEFAULT_MAX_BATCH_BYTES = 32 * 1024 * 1024;
const INITIAL_BATCH_BYTES = 64 * 1024;
// Control records (open/flush/clear/close) are never dropped, but they must not grow a buffer without limit either.
const CONTROL_HEADROOM_BYTES = 1024 * 1024;
const MAX_CACHED_VIEW = 8192;
// Two batches in flight let a burst be cut into pieces the worker starts on while the main thread still pushes.
const MAX_IN_FLIGHT = 2;
const DEFAULT_MAX_BATCH_RECORDS = 1024;
const CLOSE_GRACE_MS = 1000;

const log = childLogger({ module: 'audio-pool' });

class Batch {
  input: SharedArrayBuffer;
  u8: Uint8Array;
  u32: Uint32Array;
  i16: Int16Array;
  bytes = 0;
  records = 0;
  output: SharedArrayBuffer;
  outU8: Uint8Array;
  outU32: Uint32Array;
  outI16: Int16Array;
  /** Slots whose CLOSE record is in this batch: reusable once the worker has seen it. */
  readonly releases: number[] = [];
  /** When the worker could start on it (sent, or the batch before it came back): the stall clock. */
  sentAt = 0;
  abort: AbortController | null = null;

  constructor() {
    this.input = new SharedArrayBuffer(INITIAL_BATCH_BYTES);
    this.u8 = new Uint8Array(this.input);
    this.u32 = new Uint32Array(this.input);
    this.i16 = new Int16Array(this.input);
    this.output = new SharedArrayBuffer(INITIAL_BATCH_BYTES);
    this.outU8 = new Uint8Array(this.output);
    this.outU32 = new Uint32Array(this.output);
    this.outI16 = new Int16Array(this.output);
  }

  growInput(need: number): void {
    let size = this.input.byteLength * 2;
    while (size < need) size *= 2;
    const next = new SharedArrayBuffer(size);
    const u8 = new Uint8Array(next);
    u8.set(this.u8.subarray(0, this.bytes));
    this.input = next;
    this.u8 = u8;
    this.u32 = new Uint32Array(next);
    this.i16 = new Int16Array(next);
  }

  setOutput(buf: SharedArrayBuffer): void {
    this.output = buf;
    this.outU8 = new Uint8Array(buf);
    this.outU32 = new Uint32Array(buf, 0, buf.byteLength >> 2);
    this.outI16 = new Int16Array(buf, 0, buf.byteLength >> 1);
  }

  reset(): void {
    this.bytes = 0;
    this.records = 0;
    this.releases.length = 0;
  }
}

class Shard {
  readonly pool: Piscina;
  readonly index: number;
  incarnation = 1;
  readonly streams: (PoolStream | undefined)[] = [];
  readonly free: number[] = [];
  active = 0;
  fill = new Batch();
  /** Sent and not back yet, oldest first: one worker thread answers in order. */
  readonly inFlight: Batch[] = [];
  /** Buffers ready to become `fill`: MAX_IN_FLIGHT + 1 buffers in all. */
  idle: Batch[] = [];
  /** The scheduling window for the filling batch has passed: send it as soon as the worker is free. */
  due = false;
  /** False while a replacement worker loads its backend after a failure. */
  ready = true;
  /** Set when a replacement worker could not load either: the shard takes no more streams. */
  dead: GatewayError | undefined;

  constructor(pool: Piscina, index: number) {
    this.pool = pool;
    this.index = index;
    this.freshBuffers();
  }

  freshBuffers(): void {
    this.fill = new Batch();
    this.idle = [];
    for (let i = 0; i < MAX_IN_FLIGHT; i++) this.idle.push(new Batch());
  }

  allocSlot(stream: PoolStream): number {
    const slot = this.free.length > 0 ? this.free.pop()! : this.streams.length;
    this.streams[slot] = stream;
    this.active++;
    return slot;
  }
}

abstract class PoolStream {
  protected readonly engine: PoolEngineImpl;
  readonly shard: Shard;
  readonly slot: number;
  gen: number;
  closed = false;
  failed: GatewayError | undefined;

  constructor(engine: PoolEngineImpl, shard: Shard, op: number, format: number) {
    this.engine = engine;
    this.shard = shard;
    this.slot = shard.allocSlot(this);
    this.gen = engine.nextGen();
    try {
      engine.appendControl(shard, op, this.slot, format);
    } catch (err) {
      shard.streams[this.slot] = undefined;
      shard.free.push(this.slot);
      shard.active--;
      throw err;
    }
  }

  protected check(): void {
    if (this.failed !== undefined) throw this.failed;
    if (this.closed) throw new InvalidStateError('audio converter is closed');
  }

  /** Called on the main thread for each frame of the current generation. */
  abstract deliver(batch: Batch, offset: number, bytes: number): void;

  close(): void {
    if (this.closed || this.failed !== undefined) return;
    this.closed = true;
    this.engine.appendClose(this.shard, this.slot);
  }
}

class PoolUplink extends PoolStream implements UplinkConverter {
  private readonly onFrame: (pcm16k: Int16Array) => void;
  private readonly l16: boolean;

  constructor(engine: PoolEngineImpl, shard: Shard, format: number, onFrame: (pcm16k: Int16Array) => void) {
    super(engine, shard, OP_OPEN_UP, format);
    this.onFrame = onFrame;
    this.l16 = FORMATS[format]!.encoding === 'l16';
  }

  push(phoneFrame: Uint8Array): void {
    this.check();
    assertUint8('phoneFrame', phoneFrame);
    // Rejected here as inline does: in the worker it would fail every stream sharing that thread.
    if (this.l16 && phoneFrame.length % 2 !== 0) {
      throw new GatewayError(
        'GW_ERR_AUDIO',
        `L16 audio must be whole 16-bit samples (got ${phoneFrame.length} bytes, odd)`,
      );
    }
    if (phoneFrame.length === 0) return;
    this.engine.appendBytes(this.shard, this.slot, this.gen, phoneFrame);
  }

  deliver(batch: Batch, offset: number, bytes: number): void {
    this.onFrame(this.engine.pcmView(batch.outI16, offset, bytes >> 1));
  }
}

class PoolDownlink extends PoolStream implements DownlinkConverter {
  private readonly onFrame: (phoneFrame: Uint8Array) => void;

  constructor(engine: PoolEngineImpl, shard: Shard, format: number, onFrame: (phoneFrame: Uint8Array) => void) {
    super(engine, shard, OP_OPEN_DOWN, format);
    this.onFrame = onFrame;
  }

  push(pcm24k: Int16Array): void {
    this.check();
    assertInt16('pcm24k', pcm24k);
    if (pcm24k.length === 0) return;
    this.engine.appendSamples(this.shard, this.slot, this.gen, pcm24k);
  }

  flush(): void {
    this.check();
    this.engine.appendControl(this.shard, OP_FLUSH, this.slot, this.gen);
  }

  clear(): void {
    // Nothing to clear on a closed or failed stream (inline also ignores clear() after close()).
    if (this.closed || this.failed !== undefined) return;
    // Frames of the old generation still pending here or in flight are dropped on arrival.
    this.gen = this.engine.nextGen();
    this.engine.appendControl(this.shard, OP_CLEAR, this.slot, this.gen);
  }

  deliver(batch: Batch, offset: number, bytes: number): void {
    this.onFrame(this.engine.phoneView(batch.outU8, offset, bytes));
  }
}

class PoolEngineImpl implements PoolEngine {
  readonly execution = 'pool' as const;
  readonly backend: AudioBackendName;
  readonly warning: string | undefined;
  private readonly shards: Shard[];
  private readonly tickMs: number;
  private readonly maxBatchBytes: number;
  private readonly maxBatchRecords: number;
  private readonly onError: ((err: GatewayError) => void) | undefined;
  private readonly stallTimeoutMs: number;
  private readonly initTask: InitTask;
  private readonly watchdog: NodeJS.Timeout;
  private gen = 0;
  private scheduled = false;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private closing: Promise<void> | undefined;
  private batches = 0;
  private records = 0;
  private droppedPushes = 0;
  private failures = 0;
  // onFrame buffers are only valid during the callback, so one scratch buffer per direction serves every stream;
  // views are cached by length because 20 ms frames come in a handful of sizes.
  private pcmScratch = new Int16Array(4096);
  private pcmViews: (Int16Array | undefined)[] = [];
  private phoneScratch = new Uint8Array(4096);
  private phoneViews: (Uint8Array | undefined)[] = [];
  private readonly runScheduled = (): void => this.onSchedule();
  private readonly idleWaiters: (() => void)[] = [];
  /** Every piscina task not settled yet. */
  private readonly outstanding = new Set<Promise<unknown>>();

  constructor(
    shards: Shard[],
    backend: AudioBackendName,
    warning: string | undefined,
    tickMs: number,
    maxBatchBytes: number,
    maxBatchRecords: number,
    stallTimeoutMs: number,
    onError: ((err: GatewayError) => void) | undefined,
    initTask: InitTask,
  ) {
    this.initTask = initTask;
    this.shards = shards;
    this.backend = backend;
    this.warning = warning;
    this.tickMs = tickMs;
    this.maxBatchBytes = maxBatchBytes;
    this.maxBatchRecords = maxBatchRecords;
    this.onError = onError;
    this.stallTimeoutMs = stallTimeoutMs;
    this.watchdog = setInterval(() => this.checkStalls(), Math.min(1000, Math.max(10, stallTimeoutMs / 4)));
    this.watchdog.unref();
  }

  private checkStalls(): void {
    const now = performance.now();
    for (const shard of this.shards) {
      const oldest = shard.inFlight[0];
      if (oldest === undefined || oldest.abort === null || now - oldest.sentAt <= this.stallTimeoutMs) continue;
      // piscina terminates the thread running an aborted task and starts a fresh one.
      oldest.abort.abort(
        new GatewayError('GW_ERR_TIMEOUT', `audio worker did not return a batch within ${this.stallTimeoutMs} ms`),
      );
      oldest.abort = null;
    }
  }

  createUplink(format: PhoneAudioFormat, onFrame: (pcm16k: Int16Array) => void): UplinkConverter {
    const code = this.validate(format, onFrame);
    return new PoolUplink(this, this.pickShard(), code, onFrame);
  }

  createDownlink(format: PhoneAudioFormat, onFrame: (phoneFrame: Uint8Array) => void): DownlinkConverter {
    const code = this.validate(format, onFrame);
    return new PoolDownlink(this, this.pickShard(), code, onFrame);
  }

  stats(): PoolStats {
    let streams = 0;
    for (const s of this.shards) streams += s.active;
    return {
      batches: this.batches,
      records: this.records,
      droppedPushes: this.droppedPushes,
      failures: this.failures,
      streams,
    };
  }

  whenIdle(): Promise<void> {
    if (this.closed || this.idle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private idle(): boolean {
    for (const s of this.shards) if (s.inFlight.length > 0 || s.fill.bytes > 0) return false;
    return true;
  }

  private wakeIdleWaiters(): void {
    if (this.idleWaiters.length === 0 || !(this.closed || this.idle())) return;
    const waiters = this.idleWaiters.splice(0);
    for (const w of waiters) w();
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    this.closed = true;
    clearInterval(this.watchdog);
    if (this.timer !== undefined) clearTimeout(this.timer);
    for (const shard of this.shards) {
      for (const s of shard.streams) if (s !== undefined) s.closed = true;
    }
    this.wakeIdleWaiters();
    // Let batches in flight come back first (their frames are no longer delivered): piscina reports an answer that
    // arrives after destroy() as an error. A wedged worker is not waited for.
    if (this.outstanding.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.allSettled(this.outstanding),
        new Promise((resolve) => {
          timer = setTimeout(resolve, CLOSE_GRACE_MS);
        }),
      ]);
      clearTimeout(timer);
    }
    await Promise.all(this.shards.map((s) => s.pool.destroy()));
  }

  private validate(format: PhoneAudioFormat, onFrame: unknown): number {
    if (this.closed) throw new InvalidStateError('audio engine is closed');
    const code = typeof format === 'object' && format !== null ? formatCode(format) : -1;
    if (code < 0) {
      throw new GatewayError('GW_ERR_INVALID_ARGUMENT', 'unsupported phone audio format', {
        detail: { format },
      });
    }
    if (typeof onFrame !== 'function') {
      throw new GatewayError('GW_ERR_INVALID_ARGUMENT', 'onFrame must be a function');
    }
    return code;
  }

  private pickShard(): Shard {
    let best: Shard | undefined;
    for (const s of this.shards) if (s.dead === undefined && (best === undefined || s.active < best.active)) best = s;
    if (best === undefined) throw this.shards[0]!.dead!;
    return best;
  }

  nextGen(): number {
    // Generations are engine-wide, so a reused slot never matches frames of its previous stream.
    this.gen = (this.gen + 1) >>> 0 || 1;
    return this.gen;
  }

  // --- appending records (hot path: no allocation unless a buffer must grow) ---

  private room(shard: Shard, bytes: number, control: boolean): Batch | undefined {
    const b = shard.fill;
    const need = b.bytes + bytes;
    if (need > (control ? this.maxBatchBytes + CONTROL_HEADROOM_BYTES : this.maxBatchBytes)) return undefined;
    if (need > b.input.byteLength) b.growInput(need);
    return b;
  }

  private header(b: Batch, op: number, slot: number, arg: number, len: number): number {
    const w = b.bytes >> 2;
    b.u32[w] = op;
    b.u32[w + 1] = slot;
    b.u32[w + 2] = arg;
    b.u32[w + 3] = len;
    return b.bytes + IN_HEADER_BYTES;
  }

  private committed(shard: Shard, b: Batch, payloadAt: number, len: number): void {
    b.bytes = payloadAt + pad4(len);
    if (++b.records >= this.maxBatchRecords) this.trySend(shard);
    else if (!shard.due && !this.scheduled) this.schedule();
  }

  appendBytes(shard: Shard, slot: number, gen: number, data: Uint8Array): void {
    const len = data.length;
    const b = this.room(shard, IN_HEADER_BYTES + pad4(len), false);
    if (b === undefined) {
      this.droppedPushes++;
      return;
    }
    const at = this.header(b, OP_PUSH, slot, gen, len);
    b.u8.set(data, at);
    this.committed(shard, b, at, len);
  }

  appendSamples(shard: Shard, slot: number, gen: number, data: Int16Array): void {
    const len = data.length * 2;
    const b = this.room(shard, IN_HEADER_BYTES + pad4(len), false);
    if (b === undefined) {
      this.droppedPushes++;
      return;
    }
    const at = this.header(b, OP_PUSH, slot, gen, len);
    b.i16.set(data, at >> 1);
    this.committed(shard, b, at, len);
  }

  appendControl(shard: Shard, op: number, slot: number, arg: number): void {
    const b = this.room(shard, IN_HEADER_BYTES, true);
    if (b === undefined) {
      throw new GatewayError('GW_ERR_AUDIO', 'audio pool overloaded: worker is not keeping up', {
        retryable: true,
        detail: { shard: shard.index },
      });
    }
    this.committed(shard, b, this.header(b, op, slot, arg, 0), 0);
  }

  /** Never refused (close() must not throw): one record per stream, so bounded by the number of streams. */
  appendClose(shard: Shard, slot: number): void {
    const b = shard.fill;
    const need = b.bytes + IN_HEADER_BYTES;
    if (need > b.input.byteLength) b.growInput(need);
    // Before committing: committing may send this batch and start a new one.
    b.releases.push(slot);
    this.committed(shard, b, this.header(b, OP_CLOSE, slot, 0, 0), 0);
  }

  // --- sending and receiving batches ---

  private schedule(): void {
    if (this.closed) return;
    this.scheduled = true;
    if (this.tickMs > 0) this.timer = setTimeout(this.runScheduled, this.tickMs);
    else setImmediate(this.runScheduled);
  }

  private onSchedule(): void {
    this.scheduled = false;
    this.timer = undefined;
    if (this.closed) return;
    for (const shard of this.shards) {
      if (shard.fill.bytes === 0) continue;
      shard.due = true;
      this.trySend(shard);
    }
  }

  private trySend(shard: Shard): void {
    while (
      shard.fill.bytes > 0 &&
      (shard.due || shard.fill.records >= this.maxBatchRecords) &&
      shard.inFlight.length < MAX_IN_FLIGHT &&
      shard.ready &&
      !this.closed
    ) {
      shard.due = false;
      this.send(shard);
    }
  }

  private send(shard: Shard): void {
    const b = shard.fill;
    shard.fill = shard.idle.pop()!;
    shard.inFlight.push(b);
    this.records += b.records;
    const incarnation = shard.incarnation;
    const task: BatchTask = {
      kind: 'batch',
      incarnation,
      input: b.input,
      inputBytes: b.bytes,
      output: b.output,
    };
    b.abort = new AbortController();
    b.sentAt = performance.now();
    this.track(
      shard.pool.run(task, { signal: b.abort.signal }).then(
        (res: BatchResult) => this.onDone(shard, b, incarnation, res),
        (err: unknown) => this.onFailed(shard, incarnation, err),
      ),
    );
  }

  private onDone(shard: Shard, b: Batch, incarnation: number, res: BatchResult): void {
    if (this.closed || incarnation !== shard.incarnation) return;
    this.batches++;
    shard.inFlight.shift();
    const next = shard.inFlight[0];
    if (next !== undefined) next.sentAt = performance.now();
    b.abort = null;
    if (res.output !== undefined) b.setOutput(res.output);
    const u32 = b.outU32;
    const streams = shard.streams;
    const end = res.outputBytes;
    let pos = 0;
    while (pos < end) {
      const w = pos >> 2;
      const s = streams[u32[w]!];
      const len = u32[w + 2]!;
      if (s !== undefined && s.gen === u32[w + 1]! && !s.closed && !this.closed) {
        try {
          s.deliver(b, pos + OUT_HEADER_BYTES, len);
        } catch (err) {
          // One stream's callback must not starve the others of their frames.
          log.error({ err }, 'audio onFrame callback threw');
        }
      }
      pos += OUT_HEADER_BYTES + pad4(len);
    }
    for (let i = 0; i < b.releases.length; i++) {
      const slot = b.releases[i]!;
      shard.streams[slot] = undefined;
      shard.free.push(slot);
      shard.active--;
    }
    b.reset();
    // A callback may have closed the engine or failed the shard (which replaced the buffers).
    if (this.closed || incarnation !== shard.incarnation) return;
    shard.idle.push(b);
    if (shard.fill.bytes > 0 && !shard.due && !this.scheduled) this.schedule();
    this.trySend(shard);
    this.wakeIdleWaiters();
  }

  private onFailed(shard: Shard, incarnation: number, cause: unknown): void {
    if (this.closed || incarnation !== shard.incarnation) return;
    this.failures++;
    const err = new GatewayError('GW_ERR_AUDIO', 'audio worker failed; the streams it carried were lost', {
      cause,
      retryable: true,
      detail: { shard: shard.index, streams: shard.active },
    });
    log.error({ err }, 'audio pool worker failed');
    this.dropShardState(shard, err);
    this.restart(shard);
    this.report(err);
  }

  /** Streams pinned to the shard throw `err` from their next call; the next batch starts from empty state. */
  private dropShardState(shard: Shard, err: GatewayError): void {
    // A new incarnation makes whichever thread runs the next batch drop every converter it still holds.
    shard.incarnation++;
    for (let i = 0; i < shard.streams.length; i++) {
      const s = shard.streams[i];
      if (s !== undefined && !s.closed) s.failed = err;
    }
    shard.streams.length = 0;
    shard.free.length = 0;
    shard.active = 0;
    // Batches still queued for the worker are stale. They are left to run (cancelling one the worker has just
    // answered trips piscina) and ignored on return, as their incarnation is old; fresh buffers make sure nothing
    // the worker may still read is refilled.
    shard.inFlight.length = 0;
    shard.freshBuffers();
    shard.due = false;
    this.wakeIdleWaiters();
  }

  /**
   * Load the backend in the thread piscina started to replace a dead one (or check the surviving one) before
   * sending it batches, so that the stall clock never counts a thread's start-up.
   */
  private restart(shard: Shard): void {
    shard.ready = false;
    const incarnation = shard.incarnation;
    const restarted = (shard.pool.run(this.initTask) as Promise<InitResult>).then(
      (r) => {
        if (this.closed || incarnation !== shard.incarnation) return;
        if (!r.ok) {
          this.killShard(shard, new GatewayError('GW_ERR_AUDIO', `audio worker could not be restarted: ${r.message}`));
          return;
        }
        shard.ready = true;
        if (shard.fill.bytes > 0) shard.due = true;
        this.trySend(shard);
      },
      (cause: unknown) => {
        if (this.closed || incarnation !== shard.incarnation) return;
        this.killShard(shard, new GatewayError('GW_ERR_AUDIO', 'audio worker could not be restarted', { cause }));
      },
    );
    this.track(restarted);
  }

  private track(p: Promise<unknown>): void {
    this.outstanding.add(p);
    p.finally(() => this.outstanding.delete(p));
  }

  private killShard(shard: Shard, err: GatewayError): void {
    log.error({ err, shard: shard.index }, 'audio pool worker is out of service');
    shard.dead = err;
    this.dropShardState(shard, err);
    this.report(err);
  }

  private report(err: GatewayError): void {
    if (this.onError === undefined) return;
    try {
      this.onError(err);
    } catch (e) {
      log.error({ err: e }, 'audio pool onError callback threw');
    }
  }

  // --- views handed to onFrame ---

  pcmView(src: Int16Array, byteOffset: number, count: number): Int16Array {
    if (count > this.pcmScratch.length) {
      this.pcmScratch = new Int16Array(Math.max(count, this.pcmScratch.length * 2));
      this.pcmViews = [];
    }
    const s = this.pcmScratch;
    const base = byteOffset >> 1;
    for (let i = 0; i < count; i++) s[i] = src[base + i]!;
    let v = this.pcmViews[count];
    if (v === undefined) {
      v = s.subarray(0, count);
      if (count <= MAX_CACHED_VIEW) this.pcmViews[count] = v;
    }
    return v;
  }

  phoneView(src: Uint8Array, byteOffset: number, count: number): Uint8Array {
    if (count > this.phoneScratch.length) {
      this.phoneScratch = new Uint8Array(Math.max(count, this.phoneScratch.length * 2));
      this.phoneViews = [];
    }
    const s = this.phoneScratch;
    for (let i = 0; i < count; i++) s[i] = src[byteOffset + i]!;
    let v = this.phoneViews[count];
    if (v === undefined) {
      v = s.subarray(0, count);
      if (count <= MAX_CACHED_VIEW) this.phoneViews[count] = v;
    }
    return v;
  }
}

function invalid(message: string): GatewayError {
  return new GatewayError('GW_ERR_INVALID_ARGUMENT', message);
}

/** Start `threads` workers, load the backend in each, and return an engine that batches frames to them. */
export async function createPoolEngine(opts: PoolEngineOptions): Promise<PoolEngine> {
  if (typeof opts !== 'object' || opts === null) throw invalid('options are required');
  const { backendPreference, threads } = opts;
  if (backendPreference !== 'auto' && backendPreference !== 'native' && backendPreference !== 'ts') {
    throw invalid("options.backendPreference must be 'auto', 'native' or 'ts'");
  }
  if (!Number.isInteger(threads) || threads < 1 || threads > 64) {
    throw invalid('options.threads must be an integer from 1 to 64');
  }
  const tickMs = opts.tickMs ?? 0;
  if (typeof tickMs !== 'number' || !Number.isFinite(tickMs) || tickMs < 0 || tickMs > 1000) {
    throw invalid('options.tickMs must be a number of milliseconds from 0 to 1000');
  }
  const maxBatchBytes = opts.maxBatchBytes ?? DEFAULT_MAX_BATCH_BYTES;
  if (!Number.isInteger(maxBatchBytes) || maxBatchBytes < 4096) {
    throw invalid('options.maxBatchBytes must be an integer of at least 4096');
  }
  const maxBatchRecords = opts.maxBatchRecords ?? DEFAULT_MAX_BATCH_RECORDS;
  if (maxBatchRecords !== Number.POSITIVE_INFINITY && (!Number.isInteger(maxBatchRecords) || maxBatchRecords < 1)) {
    throw invalid('options.maxBatchRecords must be a positive integer or Infinity');
  }
  const stallTimeoutMs = opts.stallTimeoutMs ?? 5000;
  if (typeof stallTimeoutMs !== 'number' || !Number.isFinite(stallTimeoutMs) || stallTimeoutMs < 50) {
    throw invalid('options.stallTimeoutMs must be a number of milliseconds, at least 50');
  }
  if (opts.onError !== undefined && typeof opts.onError !== 'function') {
    throw invalid('options.onError must be a function');
  }
  const engineModule = String(opts.engineModule ?? new URL('./worker-engine.ts', import.meta.url));

  const shards: Shard[] = [];
  for (let i = 0; i < threads; i++) {
    const pool = new Piscina({
      filename: new URL('./worker.ts', import.meta.url).href,
      minThreads: 1,
      maxThreads: 1,
      idleTimeout: Number.POSITIVE_INFINITY,
      // Each shard has at most MAX_IN_FLIGHT batches out (plus a restart); anything more is a bug, not load.
      maxQueue: 4,
      recordTiming: false,
      workerData: { backendPreference, engineModule },
    });
    // piscina reports some internal conditions as 'error' events: unhandled, they would crash the process.
    pool.on('error', (err: unknown) => log.error({ err, shard: i }, 'audio pool worker error'));
    shards.push(new Shard(pool, i));
  }
  let results: InitResult[];
  const init: InitTask = { kind: 'init', backendPreference, engineModule };
  try {
    results = await Promise.all(shards.map((s) => s.pool.run(init) as Promise<InitResult>));
  } catch (cause) {
    await Promise.allSettled(shards.map((s) => s.pool.destroy()));
    throw new GatewayError('GW_ERR_AUDIO', 'audio pool workers failed to start', { cause });
  }
  const failed = results.find((r) => !r.ok);
  if (failed !== undefined) {
    await Promise.allSettled(shards.map((s) => s.pool.destroy()));
    const code = failed.code === 'GW_ERR_NATIVE_UNAVAILABLE' ? 'GW_ERR_NATIVE_UNAVAILABLE' : 'GW_ERR_AUDIO';
    throw new GatewayError(code, `audio pool workers could not load the backend: ${failed.message}`);
  }
  const first = results[0]!;
  const backend = first.backend!;
  if (results.some((r) => r.backend !== backend)) {
    await Promise.allSettled(shards.map((s) => s.pool.destroy()));
    throw new GatewayError('GW_ERR_AUDIO', 'audio pool workers loaded different backends');
  }
  if (first.warning !== undefined) log.warn({ backend, warning: first.warning }, 'audio pool backend fallback');
  return new PoolEngineImpl(
    shards,
    backend,
    first.warning,
    tickMs,
    maxBatchBytes,
    maxBatchRecords,
    stallTimeoutMs,
    opts.onError,
    init,
  );
}

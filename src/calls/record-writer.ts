// Coalesced writes of a call's record: changes mark the record dirty and one write per interval carries all of
// them (never one write per transcript fragment). Writes are serialised; `flush()` forces one now.
import type { Logger } from '../log.ts';
import type { CallRecord, CallStore } from '../store/types.ts';

export class RecordWriter {
  readonly #store: CallStore;
  readonly #id: string;
  readonly #apply: (r: CallRecord) => CallRecord;
  readonly #intervalMs: number;
  readonly #log: Logger;
  #timer: NodeJS.Timeout | undefined;
  #queued: Promise<CallRecord | undefined> | undefined;
  #tail: Promise<unknown> = Promise.resolve();
  #closed = false;
  writes = 0;

  constructor(store: CallStore, id: string, apply: (r: CallRecord) => CallRecord, intervalMs: number, log: Logger) {
    this.#store = store;
    this.#id = id;
    this.#apply = apply;
    this.#intervalMs = intervalMs;
    this.#log = log;
  }

  markDirty(): void {
    if (this.#timer || this.#closed) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.flush();
    }, this.#intervalMs);
    this.#timer.unref();
  }

  /**
   * Writes now, after any write in flight; calls made while one is waiting share it (it reads the latest state when
   * it runs). Never throws: a failed write is logged, and the next one carries the same changes.
   */
  flush(): Promise<CallRecord | undefined> {
    if (this.#timer) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    if (this.#queued) return this.#queued;
    const next = this.#tail.then(() => {
      this.#queued = undefined;
      return this.#write();
    });
    this.#queued = next;
    this.#tail = next;
    return next;
  }

  async close(): Promise<CallRecord | undefined> {
    const record = await this.flush();
    this.#closed = true;
    return record;
  }

  async #write(): Promise<CallRecord | undefined> {
    try {
      this.writes++;
      return await this.#store.update(this.#id, this.#apply);
    } catch (err) {
      this.#log.warn({ err }, 'call record write failed');
      return undefined;
    }
  }
}

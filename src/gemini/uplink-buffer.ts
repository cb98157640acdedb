// Caller audio waiting to be sent: a FIFO of PCM16 samples that drops the OLDEST samples past a limit. Everything
// goes through it (also when connected) so that prebuffered audio and live audio can never be reordered.
// It starts small and grows only while audio piles up (before setup, during a reconnect), then shrinks back:
// a 5 s prebuffer for every one of thousands of calls would cost 160 KiB each for nothing most of the time.

export class UplinkBuffer {
  private ring: Int16Array;
  private head = 0;
  private count = 0;
  private readonly baseCapacity: number;
  /** Samples dropped because the limit was reached (oldest first). */
  dropped = 0;

  constructor(baseCapacity: number) {
    this.baseCapacity = Math.max(1, baseCapacity);
    this.ring = new Int16Array(this.baseCapacity);
  }

  get size(): number {
    return this.count;
  }

  get capacity(): number {
    return this.ring.length;
  }

  /** Append `src`, keeping at most `limit` samples in total (older ones are dropped first). */
  push(src: Int16Array, limit: number): void {
    let n = src.length;
    let from = 0;
    if (limit <= 0) {
      this.dropped += this.count + n;
      this.head = 0;
      this.count = 0;
      return;
    }
    if (n > limit) {
      from = n - limit;
      this.dropped += from;
      n = limit;
    }
    const excess = this.count + n - limit;
    if (excess > 0) {
      this.head = (this.head + excess) % this.ring.length;
      this.count -= excess;
      this.dropped += excess;
    }
    if (this.count + n > this.ring.length) this.resize(Math.min(limit, Math.max(this.count + n, this.ring.length * 2)));
    const ring = this.ring;
    const cap = ring.length;
    let w = (this.head + this.count) % cap;
    if (from === 0 && w + n <= cap) {
      ring.set(src, w);
    } else {
      for (let i = 0; i < n; i++) {
        ring[w] = src[from + i]!;
        w = w + 1 === cap ? 0 : w + 1;
      }
    }
    this.count += n;
  }

  /** Move exactly `dst.length` samples into `dst`; false (and nothing moved) when fewer are buffered. */
  read(dst: Int16Array): boolean {
    const n = dst.length;
    if (this.count < n) return false;
    const ring = this.ring;
    const cap = ring.length;
    let r = this.head;
    for (let i = 0; i < n; i++) {
      dst[i] = ring[r]!;
      r = r + 1 === cap ? 0 : r + 1;
    }
    this.head = r;
    this.count -= n;
    if (this.count === 0) this.head = 0;
    // Back to the small ring once a backlog has drained (a partial chunk usually stays, so not only when empty).
    if (cap > this.baseCapacity && this.count <= this.baseCapacity >>> 1) this.resize(this.baseCapacity);
    return true;
  }

  clear(): void {
    this.head = 0;
    this.count = 0;
    if (this.ring.length > this.baseCapacity) this.ring = new Int16Array(this.baseCapacity);
  }

  /** Reallocate to `capacity` (≥ size), oldest sample first. */
  private resize(capacity: number): void {
    const next = new Int16Array(capacity);
    const ring = this.ring;
    const cap = ring.length;
    for (let i = 0; i < this.count; i++) next[i] = ring[(this.head + i) % cap]!;
    this.ring = next;
    this.head = 0;
  }
}

// One timer paces agent audio for every stream of a gateway (a timer per call would mean thousands of timers
// firing every 20 ms). Each tick asks the streams that have audio queued to top Plivo up to `leadMs` of audio
// ahead of real time.
//
// Why pace instead of sending as fast as Gemini produces. Measured (bench/plivo-load.ts, "barge-in after 1 s of a
// 5 s turn", emulator timeline): paced, Plivo holds ~90 ms of audio when the caller interrupts; unpaced it holds
// ~3,990 ms. So:
// - barge-in: `clearAudio` has to cancel only ~lead of audio; unpaced, the whole rest of the answer sits in Plivo's
//   buffer and the caller keeps hearing it for the clearAudio round trip (or for good, if it is lost), and our
//   "what was heard" estimate would depend on Plivo's buffer instead of our clock;
// - pendingPlayoutMs() is exact: queued here + sent-but-unplayed (≤ lead), both known locally;
// - a slow Plivo socket shows up as backpressure within one tick instead of after seconds of buffered audio.
// The lead absorbs event-loop jitter up to ~leadMs - batchMs + 20 - tickMs without a gap inside a turn.
//
// Batching (`batchMs`, PLIVO_PLAYOUT_BATCH_MS): a stream is topped up only once its lead has fallen by a whole
// batch, so each top-up sends batchMs of frames in one corked write (one syscall) instead of one frame per 20 ms.
// The smallest lead left before a top-up is about leadMs - batchMs + 20 - tickMs (50 ms at 60/20 and at 80/40), so
// raise the lead with the batch to keep the same jitter margin. The gateway's default (src/config.ts) is 80/40: half
// the sends of 60/20 for 7.7 % less gateway CPU per call (bench/capacity/ab.ts, README "Capacity"); this class
// keeps one frame per top-up as its own default for the unit tests' arithmetic.

export interface Pumpable {
  /** Sends what the lead allows; returns true while it still has queued audio (stay scheduled). */
  pump(nowMs: number): boolean;
}

export interface PacerOptions {
  /** How far ahead of real time audio is sent (ms). */
  leadMs?: number;
  /** Audio per top-up (ms, a multiple of the 20 ms frame; default one frame). Must be below leadMs. */
  batchMs?: number;
  /** Tick period (ms); must be well below leadMs. */
  tickMs?: number;
  now?: () => number;
}

export class Pacer {
  readonly leadMs: number;
  /** A stream is topped up (to leadMs) once less than this is ahead: leadMs - batchMs + one frame. */
  readonly topUpBelowMs: number;
  readonly tickMs: number;
  readonly now: () => number;
  private readonly active = new Set<Pumpable>();
  private timer: NodeJS.Timeout | undefined;
  /** Largest gap between two ticks seen since the last read (ms), to spot event-loop stalls (benches reset it). */
  maxTickGapMs = 0;
  /** The same since the last `takeMaxIntervalMs()` (the /metrics scrape), kept apart so benches and scrapes agree. */
  private maxIntervalMs = 0;
  private lastTick = 0;

  constructor(o: PacerOptions = {}) {
    this.leadMs = o.leadMs ?? 60;
    const batch = o.batchMs ?? 20;
    if (!(batch >= 20 && batch < this.leadMs))
      throw new RangeError(`batchMs ${batch} must be 20 or more and below leadMs`);
    this.topUpBelowMs = this.leadMs - batch + 20;
    this.tickMs = o.tickMs ?? 10;
    this.now = o.now ?? (() => performance.now());
  }

  /** Schedule a stream and pump it right away, so the first frames of a turn leave without waiting a tick. */
  wake(s: Pumpable): void {
    if (s.pump(this.now())) this.schedule(s);
  }

  schedule(s: Pumpable): void {
    this.active.add(s);
    if (this.timer === undefined) {
      this.lastTick = this.now();
      this.timer = setInterval(() => this.tick(), this.tickMs);
      this.timer.unref();
    }
  }

  remove(s: Pumpable): void {
    this.active.delete(s);
  }

  get size(): number {
    return this.active.size;
  }

  tick(): void {
    const now = this.now();
    const gap = now - this.lastTick;
    if (gap > this.maxTickGapMs) this.maxTickGapMs = gap;
    if (gap > this.maxIntervalMs) this.maxIntervalMs = gap;
    this.lastTick = now;
    for (const s of this.active) {
      if (!s.pump(now)) this.active.delete(s);
    }
    if (this.active.size === 0) this.stop();
  }

  /**
   * The longest interval between two ticks since the previous call, then reset: paced agent audio flows only when
   * this timer runs, so an interval well above tickMs + leadMs is a gap the caller heard.
   */
  takeMaxIntervalMs(): number {
    const v = this.maxIntervalMs;
    this.maxIntervalMs = 0;
    return v;
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }
}

// Load shedding on event-loop delay (issue 9 item 6). When the CPU a replica needs exceeds what it has, the work
// does not slow down evenly: sockets pile up data between loop turns, each turn takes longer to drain it, and the
// pacer's 10 ms timer waits behind it. That spiral is what the load benches saw as a 2 s (600 calls) to 16.7 s
// (1,000 calls) pacer interval with no single long task in the CPU profile, only a loop busy 85–99 % for seconds.
// Every call on the replica hears those gaps. So once the loop's delay over the last window passes
// OVERLOAD_LOOP_DELAY_MS, new calls are refused (busy, as at MAX_CALLS) and /readyz fails, until a whole window is
// back under half of it. Calls already up are never touched: shedding protects them. It cannot take back load that
// grows after admission (calls that turn busy together): MAX_CALLS, set from the measured knee, bounds that; in
// bench/gemini-load.ts at 600 calls on a shared core all calls were admitted before the loop lagged, and the 1.1 s
// stall came later.
import { type IntervalHistogram, monitorEventLoopDelay } from 'node:perf_hooks';

export interface OverloadOptions {
  /** Loop delay p99 over a window above which new calls are refused; 0 turns shedding off. */
  thresholdMs: number;
  /** Window length (default 1000 ms). */
  windowMs?: number;
}

export class OverloadMonitor {
  readonly thresholdMs: number;
  /** The last full window's event-loop delay p99 (ms). */
  lagMs = 0;
  #overloaded = false;
  readonly #histogram: IntervalHistogram | undefined;
  readonly #timer: NodeJS.Timeout | undefined;

  constructor(o: OverloadOptions) {
    this.thresholdMs = o.thresholdMs;
    if (o.thresholdMs <= 0) return;
    // 10 ms resolution: the pacer's own tick, and cheap (one native timer, no JS per sample).
    this.#histogram = monitorEventLoopDelay({ resolution: 10 });
    this.#histogram.enable();
    this.#timer = setInterval(() => this.sample(), o.windowMs ?? 1000);
    this.#timer.unref();
  }

  /** Refusing new calls. */
  get overloaded(): boolean {
    return this.#overloaded;
  }

  /** Closes the window: reads its p99, updates the state, starts the next window. */
  sample(): void {
    const h = this.#histogram;
    if (h === undefined) return;
    // The histogram's delay is beyond the resolution: a loop that keeps up reads about 0.
    this.lagMs = h.count === 0 ? 0 : Math.max(0, h.percentile(99) / 1e6 - 10);
    h.reset();
    if (this.lagMs > this.thresholdMs) this.#overloaded = true;
    else if (this.lagMs < this.thresholdMs / 2) this.#overloaded = false;
  }

  close(): void {
    clearInterval(this.#timer);
    this.#histogram?.disable();
  }
}

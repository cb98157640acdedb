// Warnings about refused unauthenticated requests (bad signatures, bad tokens, replays…), rate-limited (issue 15
// D6): each one used to write a ~200-byte line, so one client could write 40 MB of log in 11 s. Every refusal is
// counted in /metrics by reason; the log gets at most `perMinute` lines per reason per minute (a token bucket,
// bursts up to that size), and what was held back is reported as one "suppressed K similar" line per reason when
// logging resumes or at the next minute tick.
import type client from 'prom-client';
import type { Logger } from '../log.ts';

interface Bucket {
  tokens: number;
  at: number;
  suppressed: number;
}

export interface SecurityLogOptions {
  logger: Logger;
  /** Lines per reason per minute (also the burst). */
  perMinute: number;
  /** Every refusal, by reason. */
  refused: client.Counter<'reason'>;
  /** Lines held back, by reason. */
  suppressed: client.Counter<'reason'>;
  now?: () => number;
}

/** Reasons are our own constants; this bounds the map should a caller ever pass something else. */
const MAX_REASONS = 256;

export class SecurityLog {
  private readonly o: SecurityLogOptions;
  private readonly buckets = new Map<string, Bucket>();
  private readonly ratePerMs: number;
  private readonly now: () => number;
  private timer: NodeJS.Timeout | undefined;

  constructor(o: SecurityLogOptions) {
    this.o = o;
    this.ratePerMs = o.perMinute / 60_000;
    this.now = o.now ?? (() => Date.now());
    this.timer = setInterval(() => this.flush(), 60_000);
    this.timer.unref();
  }

  /** Counts one refused request and logs it if this reason still has budget. */
  warn(reason: string, fields: Record<string, unknown>, message: string): void {
    this.o.refused.inc({ reason });
    const t = this.now();
    let b = this.buckets.get(reason);
    if (b === undefined) {
      if (this.buckets.size >= MAX_REASONS) reason = 'other';
      b = this.buckets.get(reason) ?? { tokens: this.o.perMinute, at: t, suppressed: 0 };
      this.buckets.set(reason, b);
    }
    b.tokens = Math.min(this.o.perMinute, b.tokens + (t - b.at) * this.ratePerMs);
    b.at = t;
    if (b.tokens < 1) {
      b.suppressed++;
      this.o.suppressed.inc({ reason });
      return;
    }
    b.tokens -= 1;
    this.summarise(reason, b);
    this.o.logger.warn({ ...fields, reason }, message);
  }

  /** Reports what was held back (called every minute and on close). */
  flush(): void {
    for (const [reason, b] of this.buckets) this.summarise(reason, b);
  }

  close(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    this.flush();
  }

  private summarise(reason: string, b: Bucket): void {
    if (b.suppressed === 0) return;
    this.o.logger.warn({ reason, suppressed: b.suppressed }, `suppressed ${b.suppressed} similar`);
    b.suppressed = 0;
  }
}

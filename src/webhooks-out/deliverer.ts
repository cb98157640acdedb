// Delivers outbox jobs to POST_CALL_WEBHOOK_URL: a polling worker (unref'd timer) claims due jobs with a lease,
// POSTs each signed, and completes it on 2xx; anything else (status, timeout, refused connection) retries with
// exponential backoff and jitter, capped, until the last attempt sends it to the dead letters.
import { errorMessage } from '../errors.ts';
import { childLogger } from '../log.ts';
import type { Outbox, OutboxJob } from './outbox.ts';
import { EVENT_HEADER, IDEMPOTENCY_HEADER, SIGNATURE_HEADER, sign, TIMESTAMP_HEADER } from './sign.ts';

export interface DelivererOptions {
  url: string;
  secret: string;
  outbox: Outbox;
  maxAttempts: number;
  /** First retry after about this long; doubles per attempt up to maxBackoffMs. */
  backoffMs: number;
  maxBackoffMs: number;
  timeoutMs: number;
  /** Poll period for due jobs. */
  pollMs?: number;
  /** Jobs in flight at once. */
  concurrency?: number;
  /** Sent deliveries (tests, metrics). */
  onResult?: (job: OutboxJob, ok: boolean, status: number | undefined) => void;
}

const log = childLogger({ component: 'post-call-webhook' });

export function backoffDelay(attempt: number, baseMs: number, maxMs: number, random = Math.random): number {
  const exp = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
  // ±20% jitter: many calls that failed together do not retry in lockstep.
  return Math.round(exp * (0.8 + 0.4 * random()));
}

export class WebhookDeliverer {
  readonly #o: DelivererOptions;
  #timer: NodeJS.Timeout | undefined;
  #inFlight = 0;
  #polling = false;
  #closed = false;
  readonly #running = new Set<Promise<void>>();

  constructor(o: DelivererOptions) {
    this.#o = o;
  }

  start(): void {
    if (this.#timer || this.#closed) return;
    this.#timer = setInterval(() => void this.poll(), this.#o.pollMs ?? 500);
    this.#timer.unref();
  }

  /** Claims and sends what is due now (also called right after an enqueue, to skip the poll wait). */
  async poll(): Promise<void> {
    if (this.#polling || this.#closed) return;
    this.#polling = true;
    try {
      const free = (this.#o.concurrency ?? 8) - this.#inFlight;
      if (free <= 0) return;
      // The lease covers one attempt with its timeout, plus slack.
      const jobs = await this.#o.outbox.claim(Date.now(), this.#o.timeoutMs + 5000, free);
      for (const job of jobs) {
        this.#inFlight++;
        const run = this.#deliver(job).finally(() => {
          this.#inFlight--;
          this.#running.delete(run);
        });
        this.#running.add(run);
      }
    } catch (err) {
      log.warn({ err: errorMessage(err) }, 'outbox poll failed');
    } finally {
      this.#polling = false;
    }
  }

  async #deliver(job: OutboxJob): Promise<void> {
    const attempt = job.attempts + 1;
    const ts = Math.floor(Date.now() / 1000);
    let status: number | undefined;
    let error: string | undefined;
    try {
      const res = await fetch(this.#o.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          [IDEMPOTENCY_HEADER]: job.id,
          [EVENT_HEADER]: job.event,
          [TIMESTAMP_HEADER]: String(ts),
          [SIGNATURE_HEADER]: sign(this.#o.secret, ts, job.body),
          'x-gateway-attempt': String(attempt),
        },
        body: job.body,
        signal: AbortSignal.timeout(this.#o.timeoutMs),
      });
      status = res.status;
      await res.arrayBuffer().catch(() => undefined);
      if (res.ok) {
        await this.#o.outbox.complete(job.id);
        log.info({ webhookId: job.id, attempt, status }, 'post-call webhook delivered');
        this.#o.onResult?.(job, true, status);
        return;
      }
      error = `HTTP ${status}`;
    } catch (err) {
      error = errorMessage(err);
    }
    const next: OutboxJob = { ...job, attempts: attempt, lastAttemptAt: new Date().toISOString(), lastError: error };
    const retryAt =
      attempt >= this.#o.maxAttempts
        ? undefined
        : Date.now() + backoffDelay(attempt, this.#o.backoffMs, this.#o.maxBackoffMs);
    try {
      await this.#o.outbox.fail(next, retryAt);
    } catch (err) {
      // The lease runs out and the job is claimed again: nothing is lost.
      log.warn({ webhookId: job.id, err: errorMessage(err) }, 'outbox update failed');
    }
    if (retryAt === undefined) log.error({ webhookId: job.id, attempt, error }, 'post-call webhook dead-lettered');
    else log.warn({ webhookId: job.id, attempt, error, retryInMs: retryAt - Date.now() }, 'post-call webhook failed');
    this.#o.onResult?.(job, false, status);
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#timer);
    await Promise.allSettled([...this.#running]);
  }
}

// The in-process DialQueue: the same semantics as the BullMQ one (delays, dedup by job id, a rate limiter,
// bounded concurrency, a few retries of a failing handler), driven by an injectable clock.
import { childLogger } from '../log.ts';
import type { Clock } from './clock.ts';
import type { DialJob, DialQueue, RateLimit } from './dialer-types.ts';

export interface MemoryDialQueueOptions {
  clock: Clock;
  limiter?: RateLimit | undefined;
  concurrency?: number;
  /** How many finished job ids are remembered for dedup. */
  keepDone?: number;
  attempts?: number;
  retryDelayMs?: number;
  maxPending?: number;
}

export function createMemoryDialQueue(options: MemoryDialQueueOptions): DialQueue {
  const log = childLogger({ component: 'dial-queue' });
  const { clock } = options;
  const concurrency = options.concurrency ?? 16;
  const keepDone = options.keepDone ?? 10_000;
  const attempts = options.attempts ?? 3;
  const maxPending = options.maxPending ?? 1_000_000;
  const known = new Set<string>();
  const done = new Set<string>();
  const delayed = new Map<string, unknown>();
  const ready: Array<{ id: string; job: DialJob; tries: number }> = [];
  const starts: number[] = [];
  let running = 0;
  let handler: ((job: DialJob) => Promise<void>) | undefined;
  let limiterTimer: unknown;
  let closed = false;
  let paused = false;

  const remember = (id: string) => {
    known.delete(id);
    done.add(id);
    if (done.size > keepDone) done.delete(done.values().next().value as string);
  };

  const pump = (): void => {
    if (closed || paused || !handler) return;
    while (running < concurrency && ready.length > 0) {
      if (options.limiter) {
        const now = clock.now();
        while (starts.length > 0 && starts[0]! <= now - options.limiter.durationMs) starts.shift();
        if (starts.length >= options.limiter.max) {
          if (limiterTimer === undefined) {
            limiterTimer = clock.setTimeout(
              () => {
                limiterTimer = undefined;
                pump();
              },
              starts[0]! + options.limiter.durationMs - now,
            );
          }
          return;
        }
        starts.push(now);
      }
      const item = ready.shift()!;
      running++;
      const h = handler;
      void h(item.job)
        .then(
          () => remember(item.id),
          (err: unknown) => {
            if (item.tries + 1 < attempts && !closed) {
              log.warn({ err, jobId: item.id }, 'dial job failed; retrying');
              schedule(item.id, item.job, options.retryDelayMs ?? 1000, item.tries + 1);
            } else {
              log.error({ err, jobId: item.id }, 'dial job failed for good');
              remember(item.id);
            }
          },
        )
        .finally(() => {
          running--;
          pump();
        });
    }
  };

  const schedule = (id: string, job: DialJob, delayMs: number, tries: number) => {
    if (delayMs <= 0) {
      ready.push({ id, job, tries });
      pump();
      return;
    }
    delayed.set(
      id,
      clock.setTimeout(() => {
        delayed.delete(id);
        ready.push({ id, job, tries });
        pump();
      }, delayMs),
    );
  };

  return {
    async add(jobId, job, delayMs) {
      if (closed || known.has(jobId) || done.has(jobId)) return;
      if (known.size >= maxPending) throw new Error('dial queue is full');
      known.add(jobId);
      schedule(jobId, job, delayMs, 0);
    },
    start(h) {
      handler = h;
      pump();
    },
    async pause() {
      paused = true;
    },
    async pending() {
      return known.size - running;
    },
    async close() {
      closed = true;
      for (const t of delayed.values()) clock.clearTimeout(t);
      delayed.clear();
      if (limiterTimer !== undefined) clock.clearTimeout(limiterTimer);
      ready.length = 0;
    },
  };
}

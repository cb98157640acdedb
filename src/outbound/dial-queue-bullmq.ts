// The DialQueue on BullMQ (Redis): delayed jobs survive restarts, job ids deduplicate across replicas, and the
// worker rate limiter is global to the queue, so the Plivo account's calls-per-second holds however many replicas
// dial. BullMQ brings its own ioredis, so it gets connection options, not our client.
import { Queue, Worker } from 'bullmq';
import { errorMessage } from '../errors.ts';
import { childLogger } from '../log.ts';
import type { DialJob, DialQueue, RateLimit } from './dialer-types.ts';

export interface BullDialQueueOptions {
  redisUrl: string;
  /** Queue name (no ':'). */
  name: string;
  prefix?: string;
  limiter?: RateLimit | undefined;
  concurrency?: number;
}

export function redisConnectionOptions(url: string): Record<string, unknown> {
  const u = new URL(url);
  const db = u.pathname.length > 1 ? Number(u.pathname.slice(1)) : 0;
  return {
    host: u.hostname,
    port: u.port ? Number(u.port) : 6379,
    username: u.username ? decodeURIComponent(u.username) : undefined,
    password: u.password ? decodeURIComponent(u.password) : undefined,
    db: Number.isFinite(db) ? db : 0,
    ...(u.protocol === 'rediss:' ? { tls: {} } : {}),
    // Required by BullMQ workers (blocking commands must not be cut short).
    maxRetriesPerRequest: null,
    // BullMQ's own reconnect backoff grows to 20 s, so after a long Redis outage the dialer would sit idle for up
    // to 20 s once Redis is back; reconnect at most 2 s apart instead (a connect attempt is cheap).
    retryStrategy: (times: number) => Math.min(250 * times, 2000),
  };
}

export function createBullDialQueue(options: BullDialQueueOptions): DialQueue {
  const log = childLogger({ component: 'dial-queue', queue: options.name });
  const connection = redisConnectionOptions(options.redisUrl);
  const prefix = options.prefix ?? 'gw-bull';
  const queue = new Queue<DialJob>(options.name, { connection, prefix });
  // BullMQ reports every failed reconnect (several a second through a Redis outage): one line per 10 s is enough.
  let lastWarnAt = 0;
  let suppressed = 0;
  const warnLimited = (err: unknown, msg: string) => {
    const now = Date.now();
    if (now - lastWarnAt < 10_000) {
      suppressed++;
      return;
    }
    log.warn({ err: errorMessage(err), suppressed }, msg);
    lastWarnAt = now;
    suppressed = 0;
  };
  queue.on('error', (err) => warnLimited(err, 'dial queue redis error'));
  let worker: Worker<DialJob> | undefined;
  let closed = false;

  return {
    async add(jobId, job, delayMs) {
      if (closed) return;
      // BullMQ ignores an add whose id exists (waiting, delayed or kept after completion): that is the dedup.
      await queue.add(job.kind, job, {
        jobId,
        delay: Math.max(0, Math.round(delayMs)),
        attempts: 3,
        backoff: { type: 'fixed', delay: 1000 },
        removeOnComplete: { age: 3600, count: 10_000 },
        removeOnFail: { age: 86_400, count: 10_000 },
      });
    },
    start(handler) {
      if (worker || closed) return;
      worker = new Worker<DialJob>(options.name, async (job) => handler(job.data), {
        connection,
        prefix,
        concurrency: options.concurrency ?? 16,
        ...(options.limiter ? { limiter: { max: options.limiter.max, duration: options.limiter.durationMs } } : {}),
      });
      worker.on('error', (err) => warnLimited(err, 'dial worker error'));
      worker.on('failed', (job, err) => log.warn({ err, jobId: job?.id }, 'dial job failed'));
    },
    async pause() {
      // Stop fetching; a job already taken is handed back by the dialer (it checks the drain itself).
      await worker?.pause(true);
    },
    async pending() {
      const counts = await queue.getJobCounts('waiting', 'delayed', 'prioritized', 'paused');
      return Object.values(counts).reduce((a, b) => a + b, 0);
    },
    async close() {
      if (closed) return;
      closed = true;
      await worker?.close();
      await queue.close();
    },
  };
}

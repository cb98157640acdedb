// The durable outbox of post-call webhooks. A job is enqueued once per call (its id is the idempotency key), then
// claimed with a lease, delivered, and either completed, rescheduled with backoff, or moved to the dead letters
// after the last attempt. A worker that dies mid-delivery loses nothing: its lease runs out and the job is claimed
// again (at least once; receivers deduplicate by the Idempotency-Key header). In memory for one process; in Redis
// (src/webhooks-out/outbox-redis.ts) when the call store is, so restarts and replicas share it.

export interface OutboxJob {
  /** Idempotency key: one per call and event. */
  id: string;
  event: string;
  /** The JSON body, fixed at enqueue time so that every attempt sends the same bytes. */
  body: string;
  attempts: number;
  createdAt: string;
  lastAttemptAt?: string | undefined;
  lastError?: string | undefined;
  /** When the job went to the dead letters. */
  deadAt?: string | undefined;
}

export interface Outbox {
  /** Adds a job unless one with this id was ever enqueued (within the retention). Returns whether it was added. */
  enqueue(job: OutboxJob, dueAt: number): Promise<boolean>;
  /** Jobs due at `now`, each leased until now + leaseMs (claimed by nobody else meanwhile). */
  claim(now: number, leaseMs: number, max: number): Promise<OutboxJob[]>;
  complete(id: string): Promise<void>;
  /** A failed attempt: retry at `retryAt`, or dead-letter when `retryAt` is undefined. */
  fail(job: OutboxJob, retryAt: number | undefined): Promise<void>;
  deadLetters(limit: number): Promise<OutboxJob[]>;
  /** Moves a dead letter back to the queue with its attempts reset; false if there is no such dead letter. */
  retryDead(id: string, now: number): Promise<boolean>;
  pending(): Promise<number>;
  close(): Promise<void>;
}

export function createMemoryOutbox(): Outbox {
  const jobs = new Map<string, OutboxJob>();
  const due = new Map<string, number>();
  const dead = new Map<string, OutboxJob>();
  const seen = new Set<string>();
  return {
    async enqueue(job, dueAt) {
      if (seen.has(job.id)) return false;
      seen.add(job.id);
      if (seen.size > 200_000) seen.delete(seen.values().next().value!);
      jobs.set(job.id, { ...job });
      due.set(job.id, dueAt);
      return true;
    },
    async claim(now, leaseMs, max) {
      const out: OutboxJob[] = [];
      for (const [id, at] of due) {
        if (out.length >= max) break;
        if (at > now) continue;
        due.set(id, now + leaseMs);
        out.push({ ...jobs.get(id)! });
      }
      return out;
    },
    async complete(id) {
      due.delete(id);
      jobs.delete(id);
    },
    async fail(job, retryAt) {
      if (retryAt === undefined) {
        due.delete(job.id);
        jobs.delete(job.id);
        dead.set(job.id, { ...job, deadAt: new Date().toISOString() });
        return;
      }
      jobs.set(job.id, { ...job });
      due.set(job.id, retryAt);
    },
    async deadLetters(limit) {
      return [...dead.values()].slice(0, limit).map((j) => ({ ...j }));
    },
    async retryDead(id, now) {
      const job = dead.get(id);
      if (!job) return false;
      dead.delete(id);
      jobs.set(id, { ...job, attempts: 0, deadAt: undefined });
      due.set(id, now);
      return true;
    },
    async pending() {
      return due.size;
    },
    async close() {},
  };
}

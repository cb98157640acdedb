// The outbox in Redis: jobs in a hash, the schedule in a sorted set (score = due time; a claim moves the score to
// the end of the lease), dead letters in another sorted set, and a marker per id so a call is enqueued only once.
// Claiming is one Lua script, so two gateways never lease the same job at the same time.
import { Redis } from 'ioredis';
import type { Outbox, OutboxJob } from './outbox.ts';

const CLAIM = `
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
local out = {}
for _, id in ipairs(ids) do
  redis.call('ZADD', KEYS[1], ARGV[2], id)
  local job = redis.call('HGET', KEYS[2], id)
  if job then table.insert(out, job) else redis.call('ZREM', KEYS[1], id) end
end
return out`;

export function createRedisOutbox(o: { url: string; prefix?: string; retentionS: number }): Outbox {
  const p = `${o.prefix ?? 'gw:'}outbox:`;
  const JOBS = `${p}jobs`;
  const DUE = `${p}due`;
  const DEAD = `${p}dead`;
  const seenKey = (id: string) => `${p}seen:${id}`;
  const redis = new Redis(o.url, { maxRetriesPerRequest: 3, enableAutoPipelining: true });
  redis.on('error', () => {});
  let closed = false;
  return {
    async enqueue(job, dueAt) {
      const first = await redis.set(seenKey(job.id), '1', 'EX', o.retentionS, 'NX');
      if (first !== 'OK') return false;
      await redis.multi().hset(JOBS, job.id, JSON.stringify(job)).zadd(DUE, dueAt, job.id).exec();
      return true;
    },
    async claim(now, leaseMs, max) {
      const rows = (await redis.eval(CLAIM, 2, DUE, JOBS, String(now), String(now + leaseMs), String(max))) as string[];
      return rows.map((r) => JSON.parse(r) as OutboxJob);
    },
    async complete(id) {
      await redis.multi().zrem(DUE, id).hdel(JOBS, id).exec();
    },
    async fail(job, retryAt) {
      if (retryAt === undefined) {
        const deadJob: OutboxJob = { ...job, deadAt: new Date().toISOString() };
        await redis
          .multi()
          .zrem(DUE, job.id)
          .hset(JOBS, job.id, JSON.stringify(deadJob))
          .zadd(DEAD, Date.now(), job.id)
          .exec();
        return;
      }
      await redis.multi().hset(JOBS, job.id, JSON.stringify(job)).zadd(DUE, retryAt, job.id).exec();
    },
    async deadLetters(limit) {
      const ids = await redis.zrange(DEAD, '0', String(limit - 1));
      if (ids.length === 0) return [];
      const rows = await redis.hmget(JOBS, ...ids);
      return rows.filter((r): r is string => r !== null).map((r) => JSON.parse(r) as OutboxJob);
    },
    async retryDead(id, now) {
      const removed = await redis.zrem(DEAD, id);
      if (removed === 0) return false;
      const raw = await redis.hget(JOBS, id);
      if (raw === null) return false;
      const job = { ...(JSON.parse(raw) as OutboxJob), attempts: 0, deadAt: undefined };
      await redis.multi().hset(JOBS, id, JSON.stringify(job)).zadd(DUE, now, id).exec();
      return true;
    },
    async pending() {
      return redis.zcard(DUE);
    },
    async close() {
      if (closed) return;
      closed = true;
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}

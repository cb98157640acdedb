// A time index of call records for GET /calls: record ids by creation time (newest first), next to the call store
// (whose interface has no listing). Filters are applied on the records read from the store, so the index holds only
// (createdAt, id). Redis: one sorted set trimmed to the record TTL; memory: a sorted array, bounded.
import { Redis } from 'ioredis';

export interface IndexEntry {
  id: string;
  /** createdAt, ms since the epoch. */
  at: number;
}

export interface ListIndex {
  add(entry: IndexEntry): Promise<void>;
  /**
   * Entries with from ≤ at ≤ to, newest first, strictly after `after` in that order, at most `limit`.
   */
  page(o: { from: number; to: number; after?: IndexEntry | undefined; limit: number }): Promise<IndexEntry[]>;
  close(): Promise<void>;
}

const before = (a: IndexEntry, b: IndexEntry) => a.at < b.at || (a.at === b.at && a.id < b.id);

export function createMemoryListIndex(o: { ttlS: number; max?: number; now?: () => number }): ListIndex {
  const max = o.max ?? 200_000;
  const now = o.now ?? Date.now;
  // Ascending by (at, id).
  const entries: IndexEntry[] = [];
  const ids = new Set<string>();
  return {
    async add(e) {
      if (ids.has(e.id)) return;
      ids.add(e.id);
      let i = entries.length;
      while (i > 0 && before(e, entries[i - 1]!)) i--;
      entries.splice(i, 0, { ...e });
      const cutoff = now() - o.ttlS * 1000;
      while (entries.length > 0 && (entries.length > max || entries[0]!.at < cutoff)) ids.delete(entries.shift()!.id);
    },
    async page({ from, to, after, limit }) {
      const out: IndexEntry[] = [];
      for (let i = entries.length - 1; i >= 0 && out.length < limit; i--) {
        const e = entries[i]!;
        if (e.at > to) continue;
        if (e.at < from) break;
        if (after && !before(e, after)) continue;
        out.push({ ...e });
      }
      return out;
    },
    async close() {},
  };
}

export function createRedisListIndex(o: { url: string; prefix?: string; ttlS: number }): ListIndex {
  const key = `${o.prefix ?? 'gw:'}records:by-time`;
  const redis = new Redis(o.url, { maxRetriesPerRequest: 3, enableAutoPipelining: true });
  redis.on('error', () => {});
  let closed = false;
  return {
    async add(e) {
      await redis
        .multi()
        .zadd(key, e.at, e.id)
        .zremrangebyscore(key, '-inf', Date.now() - o.ttlS * 1000)
        .exec();
    },
    async page({ from, to, after, limit }) {
      const out: IndexEntry[] = [];
      let max = after ? after.at : to;
      if (after && after.at > to) max = to;
      let offset = 0;
      // Ties on the score come back in reverse id order, which is our order: skip up to and including `after`.
      while (out.length < limit) {
        const rows = await redis.zrevrangebyscore(key, max, from, 'WITHSCORES', 'LIMIT', offset, 200);
        if (rows.length === 0) break;
        for (let i = 0; i < rows.length && out.length < limit; i += 2) {
          const e = { id: rows[i]!, at: Number(rows[i + 1]) };
          if (after && !before(e, after)) continue;
          out.push(e);
        }
        offset += rows.length / 2;
        if (rows.length < 400) break;
      }
      return out;
    },
    async close() {
      if (closed) return;
      closed = true;
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}

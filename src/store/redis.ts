// The shared call store (STATE_STORE=redis): a status request, a Plivo callback and the call's stream may each land
// on a different replica. A record is one JSON string; updates are optimistic compare-and-set in a Lua script (the
// script swaps only if the stored text is still what we read), so they are atomic per record without WATCH, which
// would need a dedicated connection per concurrent update.
import { createHash } from 'node:crypto';
import { Redis } from 'ioredis';
import { GatewayError, InvalidStateError } from '../errors.ts';
import type { CallRecord, CallStore } from './types.ts';

export interface RedisCallStoreOptions {
  url: string;
  /** Records, and their indexes, expire this long after their last write. */
  ttlS: number;
  /** Key prefix, so that several deployments (or tests) can share one Redis. */
  prefix?: string;
  /** Attempts of one update under contention before giving up with GW_ERR_STORE. */
  maxUpdateAttempts?: number;
}

// Compares a digest of the stored text rather than the text itself: records with long transcripts would otherwise
// travel to Redis twice per update.
const CAS_SCRIPT = `
local cur = redis.call('GET', KEYS[1])
if not cur or redis.sha1hex(cur) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
return 1`;

export function createRedisCallStore(options: RedisCallStoreOptions): CallStore {
  const prefix = options.prefix ?? 'gw:';
  const ttl = String(options.ttlS);
  const maxAttempts = options.maxUpdateAttempts ?? 50;
  const redis = new Redis(options.url, { lazyConnect: false, maxRetriesPerRequest: 3, enableAutoPipelining: true });
  // An 'error' listener keeps a Redis outage from crashing the process; commands still reject and callers see that.
  redis.on('error', () => {});
  let closed = false;

  const callKey = (id: string) => `${prefix}call:${id}`;
  const uuidKey = (uuid: string) => `${prefix}uuid:${uuid}`;
  const campaignKey = (campaignId: string) => `${prefix}campaign:${campaignId}:calls`;

  const check = (): void => {
    if (closed) throw new InvalidStateError('call store is closed');
  };
  const wrap = async <T>(what: string, fn: () => Promise<T>): Promise<T> => {
    check();
    try {
      return await fn();
    } catch (err) {
      if (err instanceof GatewayError) throw err;
      throw new GatewayError('GW_ERR_STORE', `redis call store: ${what} failed`, { cause: err, retryable: true });
    }
  };

  const indexes = (r: CallRecord) => {
    const m = redis.multi();
    if (r.plivoCallUuid) m.set(uuidKey(r.plivoCallUuid), r.id, 'EX', ttl);
    if (r.campaignId) m.sadd(campaignKey(r.campaignId), r.id).expire(campaignKey(r.campaignId), ttl);
    return m;
  };

  const store: CallStore = {
    create: (record) =>
      wrap('create', async () => {
        const ok = await redis.set(callKey(record.id), JSON.stringify(record), 'EX', ttl, 'NX');
        if (ok !== 'OK') throw new InvalidStateError(`call record ${record.id} already exists`, { callId: record.id });
        await indexes(record).exec();
      }),
    get: (id) =>
      wrap('get', async () => {
        const json = await redis.get(callKey(id));
        return json === null ? undefined : (JSON.parse(json) as CallRecord);
      }),
    getByPlivoUuid: (uuid) =>
      wrap('getByPlivoUuid', async () => {
        const id = await redis.get(uuidKey(uuid));
        return id === null ? undefined : store.get(id);
      }),
    update: (id, change) =>
      wrap('update', async () => {
        for (let attempt = 0; attempt < maxAttempts; attempt++) {
          const json = await redis.get(callKey(id));
          if (json === null) return undefined;
          const next = change(JSON.parse(json) as CallRecord);
          if (next.id !== id) throw new InvalidStateError('update() must not change a record id', { callId: id });
          const nextJson = JSON.stringify(next);
          const digest = createHash('sha1').update(json).digest('hex');
          const swapped = await redis.eval(CAS_SCRIPT, 1, callKey(id), digest, nextJson, ttl);
          if (swapped === 1) {
            await indexes(next).exec();
            return JSON.parse(nextJson) as CallRecord;
          }
          // Someone else wrote in between: back off a little (jittered) and re-read.
          await new Promise((r) => setTimeout(r, Math.random() * Math.min(50, 2 ** attempt)));
        }
        throw new GatewayError('GW_ERR_STORE', 'call record update kept conflicting', { callId: id, retryable: true });
      }),
    linkPlivoUuid: (id, uuid) =>
      wrap('linkPlivoUuid', async () => {
        const r = await store.update(id, (rec) => ({ ...rec, plivoCallUuid: uuid }));
        if (!r) throw new InvalidStateError(`no call record ${id} to link`, { callId: id });
        // The index is written by update(); written again here so that an earlier uuid of the record stays linked.
        await redis.set(uuidKey(uuid), id, 'EX', ttl);
      }),
    listByCampaign: (campaignId) =>
      wrap('listByCampaign', async () => {
        const ids = await redis.smembers(campaignKey(campaignId));
        if (ids.length === 0) return [];
        const out: CallRecord[] = [];
        // Chunked MGET: a campaign can hold many thousands of calls.
        for (let i = 0; i < ids.length; i += 500) {
          const chunk = ids.slice(i, i + 500);
          const values = await redis.mget(...chunk.map(callKey));
          const expired: string[] = [];
          values.forEach((json, j) => {
            if (json === null) expired.push(chunk[j]!);
            else out.push(JSON.parse(json) as CallRecord);
          });
          if (expired.length > 0) await redis.srem(campaignKey(campaignId), ...expired);
        }
        out.sort((a, b) => a.createdAt.localeCompare(b.createdAt));
        return out;
      }),
    async close() {
      if (closed) return;
      closed = true;
      await redis.quit().catch(() => redis.disconnect());
    },
  };
  return store;
}

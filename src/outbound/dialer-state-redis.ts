// The dialer state shared by replicas through Redis. Multi-key operations that must be atomic (taking a slot,
// changing a contact, finishing) are Lua scripts; everything else is a plain command.
import { Redis } from 'ioredis';
import type { CampaignDef, CampaignInfo, CampaignState, ContactState, DialerState } from './dialer-types.ts';

export interface RedisDialerStateOptions {
  url: string;
  prefix?: string;
  /** Finished campaigns are kept this long. */
  ttlS?: number;
}

// KEYS: meta, ready, active. ARGV: now, leaseMs.
const TAKE = `
if redis.call('HGET', KEYS[1], 'state') ~= 'running' then return {} end
local now = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now)
local max = tonumber(redis.call('HGET', KEYS[1], 'max'))
local gap = tonumber(redis.call('HGET', KEYS[1], 'gapMs'))
local nextAt = tonumber(redis.call('HGET', KEYS[1], 'nextAt') or '0')
local out = {}
while redis.call('ZCARD', KEYS[3]) < max do
  local c = redis.call('LPOP', KEYS[2])
  if not c then break end
  if not redis.call('ZSCORE', KEYS[3], c) then
    local at = math.max(now, nextAt)
    nextAt = at + gap
    redis.call('ZADD', KEYS[3], now + tonumber(ARGV[2]), c)
    table.insert(out, c)
    table.insert(out, tostring(at))
  end
end
redis.call('HSET', KEYS[1], 'nextAt', tostring(nextAt))
return out`;

// KEYS: contacts hash. ARGV: field, expected old JSON, new JSON.
const CAS_FIELD = `
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
return 1`;

// KEYS: meta. ARGV: new state, allowed current states...
const SET_STATE = `
local cur = redis.call('HGET', KEYS[1], 'state')
if not cur or cur == ARGV[1] then return 0 end
if #ARGV > 1 then
  local ok = false
  for i = 2, #ARGV do if ARGV[i] == cur then ok = true end end
  if not ok then return 0 end
end
redis.call('HSET', KEYS[1], 'state', ARGV[1])
return 1`;

export function createRedisDialerState(options: RedisDialerStateOptions): DialerState {
  const p = `${options.prefix ?? 'gw:'}dialer:`;
  const ttlS = options.ttlS ?? 7 * 86_400;
  const redis = new Redis(options.url, { maxRetriesPerRequest: 3, enableAutoPipelining: true });
  redis.on('error', () => {});
  const meta = (id: string) => `${p}c:${id}:meta`;
  const contactsKey = (id: string) => `${p}c:${id}:contacts`;
  const ready = (id: string) => `${p}c:${id}:ready`;
  const active = (id: string) => `${p}c:${id}:active`;
  const index = `${p}campaigns`;

  const state: DialerState = {
    async createCampaign(def, contacts) {
      const created = await redis.hsetnx(meta(def.id), 'def', JSON.stringify(def));
      if (created !== 1) return false;
      const m = redis.multi();
      m.hset(meta(def.id), {
        state: 'running',
        max: String(def.maxConcurrent),
        gapMs: String(1000 / def.callsPerSecond),
        nextAt: '0',
        remaining: String(contacts.length),
        seq: String(contacts.length),
      });
      for (let i = 0; i < contacts.length; i += 1000) {
        const chunk: Record<string, string> = {};
        for (const c of contacts.slice(i, i + 1000)) chunk[c.id] = JSON.stringify(c);
        m.hset(contactsKey(def.id), chunk);
      }
      m.sadd(index, def.id);
      await m.exec();
      return true;
    },
    async addContacts(campaignId, contacts) {
      const out: ContactState[] = [];
      for (const contact of contacts) {
        const seq = await redis.hincrby(meta(campaignId), 'seq', 1);
        const full = { ...contact, id: String(seq - 1) } as ContactState;
        await redis
          .multi()
          .hset(contactsKey(campaignId), full.id, JSON.stringify(full))
          .hincrby(meta(campaignId), 'remaining', 1)
          .exec();
        out.push(full);
      }
      return out;
    },
    async getCampaign(campaignId): Promise<CampaignInfo | undefined> {
      const [def, st, remaining] = await redis.hmget(meta(campaignId), 'def', 'state', 'remaining');
      if (!def || !st) return undefined;
      return { def: JSON.parse(def) as CampaignDef, state: st as CampaignState, remaining: Number(remaining ?? 0) };
    },
    async setState(campaignId, next, from) {
      const changed = (await redis.eval(SET_STATE, 1, meta(campaignId), next, ...(from ?? []))) === 1;
      if (changed && (next === 'completed' || next === 'canceled')) {
        await redis
          .multi()
          .srem(index, campaignId)
          .expire(meta(campaignId), ttlS)
          .expire(contactsKey(campaignId), ttlS)
          .expire(ready(campaignId), ttlS)
          .expire(active(campaignId), ttlS)
          .exec();
      } else if (changed) {
        await redis.multi().sadd(index, campaignId).persist(meta(campaignId)).persist(contactsKey(campaignId)).exec();
      }
      return changed;
    },
    async activeCampaigns() {
      return redis.smembers(index);
    },
    async getContacts(campaignId) {
      const all = await redis.hgetall(contactsKey(campaignId));
      return Object.values(all)
        .map((j) => JSON.parse(j) as ContactState)
        .sort((a, b) => Number(a.id) - Number(b.id));
    },
    async getContact(campaignId, contactId) {
      const j = await redis.hget(contactsKey(campaignId), contactId);
      return j === null ? undefined : (JSON.parse(j) as ContactState);
    },
    async updateContact(campaignId, contactId, change) {
      for (let attempt = 0; attempt < 100; attempt++) {
        const j = await redis.hget(contactsKey(campaignId), contactId);
        if (j === null) return undefined;
        const next = change(JSON.parse(j) as ContactState);
        if (!next) return { contact: JSON.parse(j) as ContactState, changed: false };
        const nextJson = JSON.stringify({ ...next, id: contactId });
        if ((await redis.eval(CAS_FIELD, 1, contactsKey(campaignId), contactId, j, nextJson)) === 1) {
          return { contact: JSON.parse(nextJson) as ContactState, changed: true };
        }
        await new Promise((r) => setTimeout(r, Math.random() * Math.min(50, 2 ** attempt)));
      }
      throw new Error(`contact ${campaignId}/${contactId} update kept conflicting`);
    },
    async pushReady(campaignId, contactIds, front) {
      if (contactIds.length === 0) return;
      for (let i = 0; i < contactIds.length; i += 1000) {
        const chunk = contactIds.slice(i, i + 1000);
        if (front) await redis.lpush(ready(campaignId), ...chunk.reverse());
        else await redis.rpush(ready(campaignId), ...chunk);
      }
    },
    async take(campaignId, nowMs, leaseMs) {
      const out = (await redis.eval(
        TAKE,
        3,
        meta(campaignId),
        ready(campaignId),
        active(campaignId),
        String(nowMs),
        String(leaseMs),
      )) as string[];
      const taken: Array<{ contactId: string; atMs: number }> = [];
      for (let i = 0; i < out.length; i += 2) taken.push({ contactId: out[i]!, atMs: Number(out[i + 1]) });
      return taken;
    },
    async release(campaignId, contactId) {
      return (await redis.zrem(active(campaignId), contactId)) === 1;
    },
    async activeSlots(campaignId, nowMs) {
      return redis.zcount(active(campaignId), `(${nowMs}`, '+inf');
    },
    async claim(key, ttlMs) {
      return (await redis.set(`${p}claim:${key}`, '1', 'PX', ttlMs, 'NX')) === 'OK';
    },
    async finishContact(campaignId) {
      return Math.max(0, await redis.hincrby(meta(campaignId), 'remaining', -1));
    },
    async close() {
      await redis.quit().catch(() => redis.disconnect());
    },
  };
  return state;
}

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCallStore } from '../../src/store/index.ts';
import { createMemoryCallStore } from '../../src/store/memory.ts';
import { createRedisCallStore } from '../../src/store/redis.ts';
import type { CallRecord, CallStore } from '../../src/store/types.ts';
import { startTestRedis, type TestRedis } from '../helpers/redis.ts';

function record(id: string, extra: Partial<CallRecord> = {}): CallRecord {
  return {
    id,
    direction: 'outbound',
    from: '+14155550100',
    to: '+14155550123',
    status: 'queued',
    timeline: [{ status: 'queued', at: new Date().toISOString() }],
    createdAt: new Date().toISOString(),
    transcript: [],
    toolCalls: [],
    callbacks: [],
    reconnects: 0,
    ...extra,
  };
}

let redis: TestRedis;
beforeAll(async () => {
  redis = await startTestRedis();
});
afterAll(async () => {
  await redis?.stop();
});

let n = 0;
const factories: Array<[string, () => CallStore]> = [
  ['memory', () => createMemoryCallStore()],
  ['redis', () => createRedisCallStore({ url: redis.url, ttlS: 600, prefix: `t${++n}:` })],
];

describe.each(factories)('%s call store', (_name, make) => {
  it('creates, reads, and returns copies', async () => {
    const store = make();
    await store.create(record('a'));
    const r = await store.get('a');
    expect(r?.to).toBe('+14155550123');
    r!.to = 'changed';
    expect((await store.get('a'))?.to).toBe('+14155550123');
    expect(await store.get('missing')).toBeUndefined();
    await expect(store.create(record('a'))).rejects.toThrow(/already exists/);
    await store.close();
  });

  it('indexes by Plivo uuid and by campaign', async () => {
    const store = make();
    await store.create(record('a', { campaignId: 'c1' }));
    await store.create(record('b', { campaignId: 'c1' }));
    await store.create(record('c', { campaignId: 'c2' }));
    await store.linkPlivoUuid('a', 'uuid-a');
    expect((await store.getByPlivoUuid('uuid-a'))?.id).toBe('a');
    expect((await store.get('a'))?.plivoCallUuid).toBe('uuid-a');
    expect(await store.getByPlivoUuid('nope')).toBeUndefined();
    expect((await store.listByCampaign('c1')).map((r) => r.id).sort()).toEqual(['a', 'b']);
    expect(await store.listByCampaign('none')).toEqual([]);
    await expect(store.linkPlivoUuid('missing', 'u')).rejects.toThrow(/no call record/);
    await store.close();
  });

  it('updates atomically under concurrency', async () => {
    const store = make();
    await store.create(record('a'));
    await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        store.update('a', (r) => ({
          ...r,
          reconnects: r.reconnects + 1,
          timeline: [...r.timeline, { status: 'ringing', at: String(i) }],
        })),
      ),
    );
    const r = await store.get('a');
    expect(r?.reconnects).toBe(40);
    expect(r?.timeline).toHaveLength(41);
    expect(await store.update('missing', (x) => x)).toBeUndefined();
    await expect(store.update('a', (x) => ({ ...x, id: 'other' }))).rejects.toThrow(/must not change/);
    await store.close();
  });

  it('refuses use after close, and close is idempotent', async () => {
    const store = make();
    await store.close();
    await store.close();
    await expect(store.get('a')).rejects.toThrow(/closed/);
  });
});

describe('redis call store across connections', () => {
  it('two stores on one Redis see and update the same records', async () => {
    const a = createRedisCallStore({ url: redis.url, ttlS: 600, prefix: 'shared:' });
    const b = createRedisCallStore({ url: redis.url, ttlS: 600, prefix: 'shared:' });
    await a.create(record('x', { campaignId: 'k' }));
    await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        (i % 2 ? a : b).update('x', (r) => ({ ...r, reconnects: r.reconnects + 1 })),
      ),
    );
    expect((await b.get('x'))?.reconnects).toBe(30);
    expect((await b.listByCampaign('k')).map((r) => r.id)).toEqual(['x']);
    await a.close();
    await b.close();
  });

  it('fails with a typed error when Redis is unreachable', async () => {
    const store = createRedisCallStore({ url: 'redis://127.0.0.1:1', ttlS: 60, prefix: 'x:' });
    await expect(store.get('a')).rejects.toMatchObject({ code: 'GW_ERR_STORE' });
    await store.close();
  });
});

describe('memory store bounds', () => {
  it('drops the oldest records past maxRecords and expired ones by ttl', async () => {
    let now = Date.parse('2026-01-01T00:00:00Z');
    const store = createMemoryCallStore({ maxRecords: 3, ttlS: 60, now: () => now });
    for (const id of ['a', 'b', 'c', 'd']) {
      await store.create(record(id, { createdAt: new Date(now).toISOString(), plivoCallUuid: `u-${id}` }));
    }
    expect(await store.get('a')).toBeUndefined();
    expect(await store.getByPlivoUuid('u-a')).toBeUndefined();
    expect((await store.get('d'))?.id).toBe('d');
    now += 120_000;
    await store.create(record('e', { createdAt: new Date(now).toISOString() }));
    await store.create(record('f', { createdAt: new Date(now).toISOString() }));
    await store.create(record('g', { createdAt: new Date(now).toISOString() }));
    await store.create(record('h', { createdAt: new Date(now).toISOString() }));
    expect(await store.get('b')).toBeUndefined();
    expect(await store.get('d')).toBeUndefined();
    await store.close();
  });

  it('createCallStore picks the configured store', async () => {
    const mem = createCallStore({ kind: 'memory', redisUrl: undefined, recordTtlS: 60 });
    await mem.create(record('a'));
    expect((await mem.get('a'))?.id).toBe('a');
    await mem.close();
    expect(() => createCallStore({ kind: 'redis', redisUrl: undefined, recordTtlS: 60 })).toThrow(/REDIS_URL/);
  });
});

// The DialerState contract, checked on both implementations: the operations the dialer relies on being atomic
// stay atomic when several callers (or replicas, for Redis) race.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMemoryDialerState } from '../../src/outbound/dialer-state-memory.ts';
import { createRedisDialerState } from '../../src/outbound/dialer-state-redis.ts';
import type { CampaignDef, ContactState, DialerState } from '../../src/outbound/dialer-types.ts';
import { startTestRedis, type TestRedis } from '../helpers/redis.ts';

let redis: TestRedis;
beforeAll(async () => {
  redis = await startTestRedis();
});
afterAll(async () => {
  await redis?.stop();
});

const def = (id: string, maxConcurrent: number, callsPerSecond = 10): CampaignDef => ({
  id,
  openingReason: 'x',
  maxConcurrent,
  callsPerSecond,
  retry: { maxAttempts: 1, retryOn: [], backoffS: 1 },
  timezone: 'UTC',
  machineDetection: 'true',
  createdAt: new Date().toISOString(),
});
const contact = (id: string): ContactState => ({
  id,
  phoneNumber: `+1415555${id.padStart(4, '0')}`,
  status: 'pending',
  attempts: 0,
  callIds: [],
});

let n = 0;
const makers: Array<[string, () => DialerState[]]> = [
  [
    'memory',
    () => {
      const s = createMemoryDialerState();
      return [s, s];
    },
  ],
  [
    'redis (two connections)',
    () => {
      const prefix = `ds${++n}:`;
      return [createRedisDialerState({ url: redis.url, prefix }), createRedisDialerState({ url: redis.url, prefix })];
    },
  ],
];

describe.each(makers)('%s dialer state', (_name, make) => {
  it('hands each ready contact to one taker, within the concurrency cap, paced', async () => {
    const [s1, s2] = make();
    const ids = Array.from({ length: 20 }, (_, i) => String(i));
    expect(await s1!.createCampaign(def('c', 5, 4), ids.map(contact))).toBe(true);
    expect(await s2!.createCampaign(def('c', 5), [])).toBe(false);
    await s1!.pushReady('c', ids);
    const now = 1_000_000;
    const takes = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 ? s1! : s2!).take('c', now, 60_000)));
    const taken = takes.flat();
    expect(taken).toHaveLength(5);
    expect(new Set(taken.map((t) => t.contactId)).size).toBe(5);
    expect(taken.map((t) => t.atMs).sort((a, b) => a - b)).toEqual([now, now + 250, now + 500, now + 750, now + 1000]);
    expect(await s1!.activeSlots('c', now)).toBe(5);
    // A slot is freed once, by whoever holds it.
    const first = taken[0]!.contactId;
    expect(await Promise.all([s1!.release('c', first), s2!.release('c', first)])).toContain(true);
    expect(await s1!.release('c', first)).toBe(false);
    expect((await s2!.take('c', now, 60_000)).length).toBe(1);
    // Leases expire: a lost hangup does not hold a slot for ever.
    expect((await s1!.take('c', now + 61_000, 60_000)).length).toBe(5);
    await s1!.close();
    if (s2 !== s1) await s2!.close();
  });

  it('changes a contact once however many race, and claims once', async () => {
    const [s1, s2] = make();
    await s1!.createCampaign(def('k', 1), [contact('0')]);
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        (i % 2 ? s1! : s2!).updateContact('k', '0', (c) =>
          c.status === 'pending' ? { ...c, status: 'dialing', callId: `call-${i}` } : undefined,
        ),
      ),
    );
    expect(results.filter((r) => r?.changed)).toHaveLength(1);
    const claims = await Promise.all(
      Array.from({ length: 8 }, (_, i) => (i % 2 ? s1! : s2!).claim('dial.x.0', 10_000)),
    );
    expect(claims.filter(Boolean)).toHaveLength(1);
    expect(await s1!.updateContact('k', 'missing', (c) => c)).toBeUndefined();
    expect(await s1!.setState('k', 'paused', ['running'])).toBe(true);
    expect(await s2!.setState('k', 'paused', ['running'])).toBe(false);
    expect(await s2!.take('k', Date.now(), 1000)).toEqual([]);
    expect(await s1!.finishContact('k')).toBe(0);
    const added = await s2!.addContacts('k', [{ ...contact('x'), phoneNumber: '+14155550000' }]);
    expect(added[0]!.id).toBe('1');
    expect((await s1!.getCampaign('k'))?.remaining).toBe(1);
    expect((await s1!.getContacts('k')).map((c) => c.id)).toEqual(['0', '1']);
    await s1!.close();
    if (s2 !== s1) await s2!.close();
  });
});

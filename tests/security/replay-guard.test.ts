// The replay guard's contract, on memory and on a real redis-server: nonces are single-use within their window,
// /answer state is set once per call, a call's stream is taken once (and can be given back before start), and
// nothing is served after the call ended.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMemoryReplayGuard, createRedisReplayGuard, type ReplayGuard } from '../../src/store/replay-guard.ts';
import { startTestRedis, type TestRedis } from '../helpers/redis.ts';

let redis: TestRedis;
beforeAll(async () => {
  redis = await startTestRedis();
});
afterAll(async () => {
  await redis?.stop();
});

const cases: Array<[string, () => Promise<ReplayGuard>]> = [
  ['memory', async () => createMemoryReplayGuard({ nonceTtlS: 60, callTtlS: 60 })],
  [
    'redis',
    async () => {
      const g = createRedisReplayGuard({ url: redis.url, nonceTtlS: 60, callTtlS: 60, prefix: `t${Math.random()}:` });
      await g.ready();
      return g;
    },
  ],
];

describe.each(cases)('%s replay guard', (_name, make) => {
  it('claims a nonce once, and again after it was released', async () => {
    const g = await make();
    expect(await g.claimNonce('n1')).toBe(true);
    expect(await g.claimNonce('n1')).toBe(false);
    expect(await g.claimNonce('n2')).toBe(true);
    await g.releaseNonce('n1');
    expect(await g.claimNonce('n1')).toBe(true);
    expect(g.fallbacks).toBe(0);
    await g.close();
  });

  it('keeps the first answer per call, one stream per call, nothing after the end', async () => {
    const g = await make();
    expect(await g.answerState('c1')).toEqual({ kind: 'none' });
    expect(await g.answerOnce('c1', 'tok-a')).toEqual({ token: 'tok-a' });
    expect(await g.answerOnce('c1', 'tok-b')).toEqual({ token: 'tok-a' });
    expect(await g.answerState('c1')).toEqual({ kind: 'answered', token: 'tok-a' });
    const claims = await Promise.all([g.claimStream('c1'), g.claimStream('c1'), g.claimStream('c1')]);
    expect(claims.sort()).toEqual(['ok', 'used', 'used']);
    await g.releaseStream('c1');
    expect(await g.claimStream('c1')).toBe('ok');
    await g.markEnded('c1');
    expect(await g.claimStream('c1')).toBe('ended');
    expect(await g.answerState('c1')).toEqual({ kind: 'ended' });
    expect(await g.answerOnce('c1', 'tok-c')).toBe('ended');
    // A stream for a call that was never answered here (another path minted its token) is still single-use.
    expect(await g.claimStream('c2')).toBe('ok');
    expect(await g.claimStream('c2')).toBe('used');
    await g.close();
  });

  it('a moved call takes a further stream once per slot, never after the call ended', async () => {
    const g = await make();
    expect(await g.claimStream('m1')).toBe('ok');
    // The draining replica's stream is still marked taken: the moved one has its own slot.
    const claims = await Promise.all([g.claimStream('m1', 'moved:h1'), g.claimStream('m1', 'moved:h1')]);
    expect(claims.sort()).toEqual(['ok', 'used']);
    expect(await g.claimStream('m1', 'moved:h2')).toBe('ok');
    await g.releaseStream('m1', 'moved:h2');
    expect(await g.claimStream('m1')).toBe('used');
    expect(await g.claimStream('m1', 'moved:h2')).toBe('ok');
    await g.releaseStream('m1', 'moved:h3');
    await g.markEnded('m1');
    expect(await g.claimStream('m1', 'moved:h3')).toBe('ended');
    await g.close();
  });
});

describe('memory replay guard bounds', () => {
  it('forgets nonces after their window and keeps at most maxNonces', async () => {
    let t = 0;
    const g = createMemoryReplayGuard({ nonceTtlS: 10, callTtlS: 10, maxNonces: 3, now: () => t });
    expect(await g.claimNonce('a')).toBe(true);
    t = 9_999;
    expect(await g.claimNonce('a')).toBe(false);
    t = 10_000;
    expect(await g.claimNonce('a')).toBe(true);
    for (const k of ['b', 'c', 'd']) expect(await g.claimNonce(k)).toBe(true);
    // 'a' was the oldest of four: evicted by the bound.
    expect(await g.claimNonce('a')).toBe(true);
    expect(await g.claimNonce('d')).toBe(false);
  });
});

describe('stream notices across replicas (redis)', () => {
  it("tells the other replicas, not itself, when it takes a call's stream; a moved call's slot is not a notice", async () => {
    const prefix = `n${Math.random()}:`;
    const a = createRedisReplayGuard({ url: redis.url, nonceTtlS: 60, callTtlS: 60, prefix });
    const b = createRedisReplayGuard({ url: redis.url, nonceTtlS: 60, callTtlS: 60, prefix });
    const other = createRedisReplayGuard({ url: redis.url, nonceTtlS: 60, callTtlS: 60, prefix: `${prefix}x:` });
    const heard: Record<string, string[]> = { a: [], b: [], other: [] };
    a.onStreamElsewhere((id) => heard.a!.push(id));
    b.onStreamElsewhere((id) => heard.b!.push(id));
    other.onStreamElsewhere((id) => heard.other!.push(id));
    await Promise.all([a.ready(), b.ready(), other.ready()]);
    // SUBSCRIBE goes out on each guard's own notice connection: give it time to land before the first claim.
    await new Promise((r) => setTimeout(r, 200));
    expect(await b.claimStream('call-n1')).toBe('ok');
    expect(await b.claimStream('call-n1')).toBe('used');
    expect(await b.claimStream('call-n2', 'moved:h1')).toBe('ok');
    const by = Date.now() + 3000;
    while (heard.a!.length === 0 && Date.now() < by) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 200));
    expect(heard).toEqual({ a: ['call-n1'], b: [], other: [] });
    await Promise.all([a.close(), b.close(), other.close()]);
  });

  it('closes at once while Redis is unreachable (the notice connection does not wait for it)', async () => {
    const g = createRedisReplayGuard({
      url: 'redis://127.0.0.1:1',
      nonceTtlS: 60,
      callTtlS: 60,
      commandTimeoutMs: 100,
    });
    g.onStreamElsewhere(() => {});
    const t0 = Date.now();
    await g.close();
    expect(Date.now() - t0).toBeLessThan(1000);
  });
});

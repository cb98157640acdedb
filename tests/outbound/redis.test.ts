// Two gateways (each its own uWS app, call store, dialer state and BullMQ workers on separate Redis connections)
// sharing one real redis-server and one Plivo emulator: what one replica creates the other serves, and a campaign
// dialed by both never dials a contact twice nor exceeds its limits.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestRedis, type TestRedis } from '../helpers/redis.ts';
import { callRequests, contactNumbers, maxConcurrent, maxInWindow } from './campaign-checks.ts';
import { type Emulator, type Node, NUMBERS, startEmulator, startNode, until } from './helpers.ts';

let redis: TestRedis;
let emulator: Emulator;
let a: Node;
let b: Node;

beforeAll(async () => {
  redis = await startTestRedis();
  emulator = await startEmulator({
    outbound: (to) =>
      to.replace(/\D/g, '') === NUMBERS.busy.slice(1)
        ? { kind: 'busy', ringMs: 10 }
        : { kind: 'answer', ringMs: 10, hangupAfterMs: 150 },
  });
  const common = {
    emulator,
    store: 'redis' as const,
    redisUrl: redis.url,
    prefix: 'pair:',
    env: { PLIVO_CPS: '20' },
  };
  a = await startNode(common);
  b = await startNode(common);
});

afterAll(async () => {
  await a?.close();
  await b?.close();
  await emulator?.close();
  await redis?.stop();
});

describe('two replicas on one Redis', () => {
  it('a call placed through one replica is tracked and served by the other', async () => {
    const res = await a.api('POST', '/outbound/call', { phone_number: NUMBERS.answer, campaign_id: 'shared' });
    expect(res.status).toBe(201);
    const done = await until(async () => {
      const r = await b.api('GET', `/outbound/status/${res.json.call_id}`);
      // Callbacks may be applied out of order (a ring overtaking the make-call response is applied late).
      return r.json.status === 'completed' && r.json.timeline.length === 4 ? r.json : undefined;
    });
    expect(done.timeline.map((t: { status: string }) => t.status)).toEqual([
      'queued',
      'ringing',
      'in-progress',
      'completed',
    ]);
    expect((await b.api('GET', '/outbound/campaign/shared')).json.counts.total).toBe(1);
    const h = await b.api('POST', `/outbound/hangup/${res.json.call_id}`);
    expect(h.status).toBe(409);
  });

  it('dials a campaign from both replicas without dialing any contact twice', async () => {
    const numbers = contactNumbers(30, '+1415556');
    const res = await a.api('POST', '/outbound/campaign', {
      campaign_id: 'pair',
      contacts: numbers.map((phone_number) => ({ phone_number })),
      opening_reason: 'x',
      max_concurrent: 4,
      calls_per_second: 20,
    });
    expect(res.status).toBe(201);
    const view = await until(
      async () => {
        const r = await b.api('GET', '/outbound/campaign/pair');
        return r.json?.dialer?.state === 'completed' ? r.json : undefined;
      },
      30_000,
      'campaign completed',
    );
    const reqs = callRequests(emulator).filter(
      (r) => numbers.includes(`+${r.params.to}`) || numbers.includes(r.params.to!),
    );
    expect(reqs).toHaveLength(30);
    expect(new Set(reqs.map((r) => r.params.to)).size).toBe(30);
    expect(maxConcurrent(reqs, [a.router, b.router])).toBeLessThanOrEqual(4);
    expect(maxInWindow(reqs)).toBeLessThanOrEqual(21);
    expect(view.counts.by_status).toEqual({ completed: 30 });
    expect(view.dialer.attempts).toBe(30);
    // Both replicas' workers took dial jobs (each asks Plivo to call back its own URL).
    const dialedBy = new Set(reqs.map((r) => r.params.answer_url));
    expect([...dialedBy].sort()).toEqual([`${a.base}/answer`, `${b.base}/answer`].sort());
  });

  it('retries a busy contact through the shared queue and dials a due callback', async () => {
    const res = await b.api('POST', '/outbound/campaign', {
      campaign_id: 'busy-retry',
      contacts: [{ phone_number: NUMBERS.busy }],
      opening_reason: 'x',
      max_concurrent: 1,
      retry: { max_attempts: 2, retry_on: ['busy'], backoff_s: 1 },
    });
    expect(res.status).toBe(201);
    const view = await until(
      async () => {
        const r = await a.api('GET', '/outbound/campaign/busy-retry');
        return r.json?.dialer?.state === 'completed' ? r.json : undefined;
      },
      15_000,
      'retry campaign completed',
    );
    expect(view.dialer.contacts[0]).toMatchObject({ status: 'done', attempts: 2, last_status: 'busy' });
    expect(view.counts.by_status).toEqual({ busy: 2 });

    const original = (await a.store.get(view.dialer.contacts[0].call_ids[0]))!;
    const at = Date.now() + 1200;
    await a.outbound.onCallbackScheduled(original, {
      at: new Date(at).toISOString(),
      phoneNumber: NUMBERS.answer,
      reason: 'pricing',
      requestedAt: new Date().toISOString(),
    });
    const call = await until(
      async () => {
        const r = await b.api('GET', '/outbound/campaign/callbacks');
        return r.json?.calls?.find((c: { status: string }) => c.status === 'completed');
      },
      15_000,
      'callback dialed',
    );
    expect(call.callback_of).toBe(original.id);
    expect(call.opening_reason).toMatch(/^callback you requested on \d{4}-\d\d-\d\d about pricing$/);
    const dial = callRequests(emulator).find((r) => r.at >= at - 50 && r.params.to === NUMBERS.answer.slice(1));
    expect(dial?.at).toBeGreaterThanOrEqual(at - 5);
  });

  it('absorbs the account rate limit (Plivo 429s) across replicas without losing or repeating a contact', async () => {
    const limited = await startEmulator({
      outbound: () => ({ kind: 'answer', ringMs: 10, hangupAfterMs: 100 }),
      faults: { callsPerSecond: 4 },
    });
    const common = {
      emulator: limited,
      store: 'redis' as const,
      redisUrl: redis.url,
      prefix: 'limited:',
      // Configured above the real limit on purpose: Plivo's 429s must be absorbed.
      env: { PLIVO_CPS: '20' },
      outbound: { dialer: { rateLimitedRetryMs: { baseMs: 100, maxMs: 400 } } },
    };
    const c = await startNode(common);
    const d = await startNode(common);
    try {
      const numbers = contactNumbers(12, '+1415557');
      await c.api('POST', '/outbound/campaign', {
        campaign_id: 'limited',
        contacts: numbers.map((phone_number) => ({ phone_number })),
        opening_reason: 'x',
        max_concurrent: 12,
        retry: { max_attempts: 1 },
      });
      const view = await until(
        async () => {
          const r = await d.api('GET', '/outbound/campaign/limited');
          return r.json?.dialer?.state === 'completed' ? r.json : undefined;
        },
        30_000,
        'rate-limited campaign completed',
      );
      expect(callRequests(limited, false).some((r) => r.status === 429)).toBe(true);
      const ok = callRequests(limited);
      expect(ok).toHaveLength(12);
      expect(new Set(ok.map((r) => r.params.to)).size).toBe(12);
      expect(view.dialer.attempts).toBe(12);
      expect(view.counts.by_status).toEqual({ completed: 12 });
    } finally {
      await c.close();
      await d.close();
      await limited.close();
    }
  });
});

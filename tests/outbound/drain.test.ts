// D4 (issue 15): a draining replica places no new call. Two gateways on one real redis-server share a campaign;
// the first claims contacts (slots taken, dial jobs queued) and then drains: it dials nothing more, the contacts it
// had claimed are dialled by the other replica, exactly once each, and POST /outbound/call on it answers 503 with
// Retry-After so that clients go to a ready replica.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestRedis, type TestRedis } from '../helpers/redis.ts';
import { callRequests, contactNumbers } from './campaign-checks.ts';
import { type Emulator, type Node, NUMBERS, startEmulator, startNode, until } from './helpers.ts';

let redis: TestRedis;
let emulator: Emulator;
let a: Node;
let b: Node;

beforeAll(async () => {
  redis = await startTestRedis();
  emulator = await startEmulator({ outbound: () => ({ kind: 'answer', ringMs: 20, hangupAfterMs: 400 }) });
  const common = {
    emulator,
    store: 'redis' as const,
    redisUrl: redis.url,
    prefix: 'drain:',
    env: { PLIVO_CPS: '10', DRAIN_TIMEOUT_S: '30' },
  };
  // A's sweep is slow so that only its dial worker sees the drain: the next job it takes must be handed back.
  a = await startNode({ ...common, outbound: { dialer: { sweepMs: 60_000 } } });
  // B's dialer starts later, so that every contact is first claimed by A.
  b = await startNode({ ...common, outbound: { dial: false, dialer: { sweepMs: 300 } } });
}, 20_000);

afterAll(async () => {
  await a?.close();
  await b?.close();
  await emulator?.close();
  await redis?.stop();
});

const placedBy = (node: Node) => callRequests(emulator).filter((r) => r.params.answer_url === `${node.base}/answer`);

describe('a draining replica', () => {
  it('places no new dial; the contacts it had claimed are dialled by the other replica', async () => {
    const numbers = contactNumbers(8, '+1415558');
    const res = await a.api('POST', '/outbound/campaign', {
      campaign_id: 'drain',
      contacts: numbers.map((phone_number) => ({ phone_number })),
      opening_reason: 'x',
      max_concurrent: 3,
      calls_per_second: 1,
    });
    expect(res.status).toBe(201);
    // A has dialled one contact and holds slots (queued dial jobs) for the next ones.
    await until(() => placedBy(a).length >= 1, 10_000, 'first dial by A');
    const claimedByA = (await a.api('GET', '/outbound/campaign/drain')).json.dialer.contacts.filter(
      (c: { status: string }) => c.status === 'dialing',
    ).length;
    expect(claimedByA).toBeGreaterThan(0);
    void a.gateway.drain();
    const dialsByAAtDrain = placedBy(a).length;
    // A's worker takes the next due job, and hands its contact back (pending again, slot freed) instead of dialling.
    const handedBack = await until(
      async () => {
        const contacts = await a.outbound.dialer.contacts('drain');
        return contacts.find((c) => c.status === 'pending' && c.callId !== undefined && c.attempts === 0);
      },
      10_000,
      'a claimed contact handed back',
    );
    b.outbound.dialer.start();

    const view = await until(
      async () => {
        const r = await b.api('GET', '/outbound/campaign/drain');
        return r.json?.dialer?.state === 'completed' ? r.json : undefined;
      },
      30_000,
      'campaign completed by B',
    );
    expect(placedBy(a).length).toBe(dialsByAAtDrain);
    expect(placedBy(b).length).toBe(numbers.length - dialsByAAtDrain);
    const perNumber = new Map<string, number>();
    for (const q of callRequests(emulator))
      perNumber.set(`+${q.params.to}`, (perNumber.get(`+${q.params.to}`) ?? 0) + 1);
    for (const n of numbers) expect(perNumber.get(n)).toBe(1);
    expect(view.dialer.by_status.done).toBe(numbers.length);
    const again = view.dialer.contacts.find((c: { contact_id: string }) => c.contact_id === handedBack.id);
    expect(again.call_ids).toEqual([handedBack.callId]); // the same attempt, dialled once, by B
    expect(placedBy(b).some((r) => r.params.to === handedBack.phoneNumber.slice(1))).toBe(true);

    const single = await a.api('POST', '/outbound/call', { phone_number: NUMBERS.answer });
    expect(single.status).toBe(503);
    expect(single.json.error).toBe('draining');
    const raw = await fetch(`${a.base}/outbound/call`, {
      method: 'POST',
      headers: { authorization: `Bearer test-outbound-key-123`, 'content-type': 'application/json' },
      body: JSON.stringify({ phone_number: NUMBERS.answer }),
    });
    expect(raw.status).toBe(503);
    expect(raw.headers.get('retry-after')).toBe('5');
    expect(placedBy(a).length).toBe(dialsByAAtDrain);
  }, 45_000);
});

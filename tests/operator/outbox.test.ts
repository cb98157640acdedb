// The post-call webhook outbox, in memory and in a real redis-server, and its deliverer against a real HTTP
// receiver: enqueue once per key, leases, backoff, dead letters and their retry, and bad receivers.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebhookDeliverer } from '../../src/webhooks-out/deliverer.ts';
import { createMemoryOutbox, type Outbox, type OutboxJob } from '../../src/webhooks-out/outbox.ts';
import { createRedisOutbox } from '../../src/webhooks-out/outbox-redis.ts';
import { startTestRedis, type TestRedis } from '../helpers/redis.ts';
import { type Receiver, startReceiver, until } from './helpers.ts';

const SECRET = 'outbox-test-secret-0123';
const job = (id: string): OutboxJob => ({
  id,
  event: 'call.ended',
  body: JSON.stringify({ event: 'call.ended', call: { call_id: id } }),
  attempts: 0,
  createdAt: new Date().toISOString(),
});

let redis: TestRedis;
let prefixN = 0;
beforeAll(async () => {
  redis = await startTestRedis();
});
afterAll(async () => {
  await redis?.stop();
});

const kinds: Array<[string, () => Outbox]> = [
  ['memory', () => createMemoryOutbox()],
  ['redis', () => createRedisOutbox({ url: redis.url, prefix: `t${++prefixN}:`, retentionS: 3600 })],
];

describe.each(kinds)('%s outbox', (_name, make) => {
  it('enqueues a key once, leases claimed jobs, reschedules failures and dead-letters the last one', async () => {
    const box = make();
    try {
      expect(await box.enqueue(job('a'), 0)).toBe(true);
      expect(await box.enqueue(job('a'), 0)).toBe(false);
      expect(await box.enqueue(job('b'), 10_000)).toBe(true);
      const claimed = await box.claim(1000, 5000, 10);
      expect(claimed.map((j) => j.id)).toEqual(['a']);
      // Leased: nobody else gets it until the lease runs out.
      expect(await box.claim(2000, 5000, 10)).toEqual([]);
      expect((await box.claim(6001, 5000, 10)).map((j) => j.id)).toEqual(['a']);
      await box.fail({ ...claimed[0]!, attempts: 1, lastError: 'HTTP 500' }, 20_000);
      expect(await box.claim(19_999, 5000, 10).then((j) => j.map((x) => x.id))).toEqual(['b']);
      const again = await box.claim(20_000, 5000, 10);
      expect(again[0]).toMatchObject({ id: 'a', attempts: 1, lastError: 'HTTP 500' });
      await box.fail({ ...again[0]!, attempts: 2 }, undefined);
      expect((await box.deadLetters(10)).map((j) => [j.id, j.attempts])).toEqual([['a', 2]]);
      expect(await box.pending()).toBe(1);
      expect(await box.retryDead('nope', 0)).toBe(false);
      expect(await box.retryDead('a', 30_000)).toBe(true);
      expect(await box.deadLetters(10)).toEqual([]);
      const revived = await box.claim(30_000, 5000, 10);
      expect(revived.map((j) => [j.id, j.attempts])).toEqual([
        ['b', 0],
        ['a', 0],
      ]);
      await box.complete('a');
      await box.complete('b');
      expect(await box.pending()).toBe(0);
      // Completed keys are still remembered: the same call is not sent twice.
      expect(await box.enqueue(job('a'), 0)).toBe(false);
    } finally {
      await box.close();
    }
  });
});

describe('deliverer', () => {
  let receiver: Receiver;
  beforeAll(async () => {
    receiver = await startReceiver(SECRET);
  });
  afterAll(async () => {
    await receiver?.close();
  });

  it('retries a failing receiver with backoff, then dead-letters; a retried dead letter is delivered', async () => {
    const box = createMemoryOutbox();
    let ok = false;
    receiver.respond = () => (ok ? 204 : 500);
    const d = new WebhookDeliverer({
      url: receiver.url,
      secret: SECRET,
      outbox: box,
      maxAttempts: 3,
      backoffMs: 20,
      maxBackoffMs: 50,
      timeoutMs: 2000,
      pollMs: 10,
    });
    d.start();
    try {
      await box.enqueue(job('call.ended:x1'), Date.now());
      await until(async () => (await box.deadLetters(10)).length === 1, 5000, 'dead letter');
      const tries = receiver.deliveries.filter((x) => x.key === 'call.ended:x1');
      expect(tries.map((t) => t.attempt)).toEqual([1, 2, 3]);
      expect(tries.every((t) => t.signed)).toBe(true);
      expect((await box.deadLetters(10))[0]).toMatchObject({ attempts: 3, lastError: 'HTTP 500' });
      ok = true;
      await box.retryDead('call.ended:x1', Date.now());
      await until(() => receiver.accepted.has('call.ended:x1'), 5000, 'delivered after retry');
      expect(await box.pending()).toBe(0);
    } finally {
      await d.close();
    }
  });

  it('treats a refused connection and a timeout as failed attempts, not as lost jobs', async () => {
    const box = createMemoryOutbox();
    const d = new WebhookDeliverer({
      url: 'http://127.0.0.1:1/nothing-listens-here',
      secret: SECRET,
      outbox: box,
      maxAttempts: 2,
      backoffMs: 10,
      maxBackoffMs: 10,
      timeoutMs: 500,
      pollMs: 10,
    });
    d.start();
    try {
      await box.enqueue(job('call.ended:refused'), Date.now());
      await until(async () => (await box.deadLetters(10)).length === 1, 5000, 'dead letter');
      expect((await box.deadLetters(10))[0]!.lastError).toBeTruthy();
    } finally {
      await d.close();
    }
    // A receiver that never answers: the attempt times out.
    receiver.respond = () => 200;
    const slow = await startReceiver(SECRET);
    const box2 = createMemoryOutbox();
    const hang = new WebhookDeliverer({
      url: `${slow.url.replace(/\/hooks.*/, '')}/`,
      secret: SECRET,
      outbox: box2,
      maxAttempts: 1,
      backoffMs: 10,
      maxBackoffMs: 10,
      timeoutMs: 200,
      pollMs: 10,
    });
    slow.respond = () => 0;
    hang.start();
    try {
      await box2.enqueue(job('call.ended:slow'), Date.now());
      await until(async () => (await box2.deadLetters(10)).length === 1, 5000, 'timed out attempt dead-lettered');
    } finally {
      await hang.close();
      await slow.close();
    }
  });
});

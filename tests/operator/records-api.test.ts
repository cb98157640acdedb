// The call records API on the real stack (src/demo/stack.ts, memory store): records of inbound calls by id and in
// a filtered, cursor-paged list, behind the outbound API's bearer token; bad queries get clear 4xx answers.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalStack, startLocalStack } from '../../src/demo/stack.ts';
import { SCENARIOS } from '../e2e/helpers.ts';
import { until } from './helpers.ts';

const KEY = 'records-test-key';
const auth = { authorization: `Bearer ${KEY}` };

describe('GET /calls', () => {
  let stack: LocalStack;
  const ids: string[] = [];
  let finalized = 0;

  beforeAll(async () => {
    stack = await startLocalStack({
      scenario: join(SCENARIOS, 'test-barge-in.json'),
      gemini: { speech: 'synthetic' },
      env: { OUTBOUND_API_KEY: KEY },
      operator: { settleMs: 50, onFinalized: () => finalized++ },
    });
    for (let i = 0; i < 3; i++) {
      const call = await stack.placeCall({ idleMedia: 'silence', from: `+1415555030${i}` });
      await until(() => call.played.length > 10, 10_000, 'greeting');
      await call.hangup();
      ids.push(call.callUuid);
      // Distinct creation times, so the order is certain.
      await new Promise((r) => setTimeout(r, 5));
    }
    await until(() => finalized === 3, 10_000, 'records finalized');
  }, 40_000);

  afterAll(async () => {
    await stack?.close();
  });

  const get = async (path: string, headers: Record<string, string> = auth) => {
    const res = await fetch(`${stack.base}${path}`, { headers });
    return { status: res.status, body: (await res.json().catch(() => ({}))) as Record<string, unknown> };
  };

  it('pages newest first with a cursor and filters by time and direction', async () => {
    const p1 = await get('/calls?limit=2');
    expect(p1.status).toBe(200);
    const rows1 = p1.body.calls as Array<{ call_id: string; direction: string; turns: number; latency: unknown }>;
    expect(rows1.map((c) => c.call_id)).toEqual([ids[2], ids[1]]);
    expect(rows1[0]!.direction).toBe('inbound');
    expect(rows1[0]!.latency).toBeDefined();
    expect(p1.body.next_cursor).toEqual(expect.any(String));
    const p2 = await get(`/calls?limit=2&cursor=${p1.body.next_cursor as string}`);
    expect((p2.body.calls as Array<{ call_id: string }>).map((c) => c.call_id)).toEqual([ids[0]]);
    expect(p2.body.next_cursor).toBeNull();

    const first = await get(`/calls/${ids[0]}`);
    const created = Date.parse((first.body as { created_at: string }).created_at);
    const since = await get(`/calls?from=${new Date(created + 1).toISOString()}`);
    expect((since.body.calls as unknown[]).length).toBe(2);
    const until0 = await get(`/calls?to=${created}`);
    expect((until0.body.calls as Array<{ call_id: string }>).map((c) => c.call_id)).toEqual([ids[0]]);
    expect(((await get('/calls?direction=outbound')).body.calls as unknown[]).length).toBe(0);
    expect(((await get('/calls?campaign=nope')).body.calls as unknown[]).length).toBe(0);
    expect(((await get('/calls?direction=inbound&outcome=none-such')).body.calls as unknown[]).length).toBe(0);
  });

  it('returns a full record by id with transcript, latency summary and cost', async () => {
    const r = await get(`/calls/${ids[1]}`);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ call_id: ids[1], direction: 'inbound' });
    expect((r.body.transcript as unknown[]).length).toBeGreaterThan(0);
    expect((r.body.latency as { greeting_sent_ms: number }).greeting_sent_ms).toBeGreaterThan(0);
    expect(r.body.cost).toMatchObject({ currency: 'USD' });
    expect(r.body.recording_url).toBeUndefined();
  });

  it('answers bad requests clearly and refuses without the bearer token', async () => {
    for (const q of ['limit=0', 'limit=abc', 'limit=201', 'direction=sideways', 'cursor=garbage', 'from=yesterday']) {
      const r = await get(`/calls?${q}`);
      expect(r.status, q).toBe(400);
      expect(r.body.message, q).toEqual(expect.any(String));
    }
    expect((await get('/calls/not-a-call')).status).toBe(404);
    expect((await get('/calls/%ZZ')).status).toBe(404);
    expect((await get(`/calls/${ids[0]}/recording`)).status).toBe(404);
    expect((await get('/calls', {})).status).toBe(401);
    expect((await get('/calls', { authorization: 'Bearer wrong' })).status).toBe(401);
    const post = await fetch(`${stack.base}/calls`, { method: 'POST', headers: auth });
    expect(post.status).toBe(405);
    // No webhook configured: the dead-letter view says so.
    expect((await get('/webhooks/post-call')).status).toBe(404);
    // The gateway still serves calls after all that.
    const after = await get('/calls?limit=1');
    expect(after.status).toBe(200);
  });
});

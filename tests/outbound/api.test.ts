// The outbound API end to end: our gateway on loopback, the Plivo emulator placing the calls and sending the
// callbacks (ring, answer, machine detection, hangup) the way Plivo does.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_KEY, type Emulator, type Node, NUMBERS, startEmulator, startNode, until } from './helpers.ts';

let emulator: Emulator;
let node: Node;

beforeAll(async () => {
  emulator = await startEmulator();
  node = await startNode({ emulator });
});
afterAll(async () => {
  await node?.close();
  await emulator?.close();
});

async function finalStatus(callId: string) {
  return until(
    async () => {
      const r = await node.api('GET', `/outbound/status/${callId}`);
      return ['completed', 'busy', 'no-answer', 'failed', 'canceled'].includes(r.json.status) ? r.json : undefined;
    },
    8000,
    `call ${callId} to end`,
  );
}

describe('POST /outbound/call', () => {
  it('places an answered call with query parameters (the seed API) and records its timeline', async () => {
    const q = new URLSearchParams({
      phone_number: NUMBERS.answer,
      campaign_id: 'demo-campaign',
      opening_reason: 'your recent demo request',
      objective: 'book a meeting',
      var_customer_name: 'Ada',
    });
    const res = await node.api('POST', `/outbound/call?${q}`);
    expect(res.status).toBe(201);
    expect(res.json.status).toBe('queued');
    expect(typeof res.json.plivo_request_uuid).toBe('string');

    const req = emulator.requests.find((r) => r.path.endsWith('/Call/') && r.params.to?.endsWith('14155550111'));
    expect(req?.params.answer_url).toBe(`${node.base}/answer`);
    expect(req?.params.hangup_url).toBe(`${node.base}/hangup`);
    expect(req?.params.ring_url).toBe(`${node.base}/callbacks/ring`);
    expect(req?.params.machine_detection).toBe('true');
    expect(req?.params.machine_detection_url).toBe(`${node.base}/callbacks/machine`);
    expect(req?.params.from).toMatch(/14155550100/);

    const status = await until(async () => {
      // Callbacks may be applied out of order (a ring overtaking the make-call response is applied late).
      const r = await node.api('GET', `/outbound/status/${res.json.call_id}`);
      return r.json.status === 'completed' && r.json.timeline.length === 4 ? r.json : undefined;
    });
    expect(status.timeline.map((t: { status: string }) => t.status)).toEqual([
      'queued',
      'ringing',
      'in-progress',
      'completed',
    ]);
    expect(status.campaign_id).toBe('demo-campaign');
    expect(status.variables).toEqual({ customer_name: 'Ada' });
    expect(status.opening_reason).toBe('your recent demo request');
    expect(status.plivo_call_uuid).toBe(res.json.plivo_request_uuid);
    expect(status.answered_at).toBeTypeOf('string');
    expect(status.ended_at).toBeTypeOf('string');
    expect(status.duration_s).toBeTypeOf('number');
    expect(status.hangup_cause).toBeTypeOf('string');
    expect(status.transcript).toEqual([]);
    expect(status.tool_calls).toEqual([]);
    // The stand-in agent saw the answer with the call's context.
    expect(node.router.answers).toContain(res.json.plivo_request_uuid);
  });

  it.each([
    ['busy', NUMBERS.busy],
    ['no-answer', NUMBERS.noAnswer],
    ['failed', NUMBERS.failed],
  ])('records a %s call', async (expected, number) => {
    const res = await node.api('POST', '/outbound/call', { phone_number: number, opening_reason: 'x' });
    expect(res.status).toBe(201);
    const status = await finalStatus(res.json.call_id);
    expect(status.status).toBe(expected);
    expect(status.answered_at).toBeUndefined();
    expect(status.hangup_cause).toBeTypeOf('string');
    expect(status.timeline.at(-1).status).toBe(expected);
  });

  it('records a machine answer as outcome machine', async () => {
    const res = await node.api('POST', '/outbound/call', {
      phone_number: NUMBERS.machine,
      opening_reason: 'x',
      machine_detection: 'hangup',
    });
    expect(res.status).toBe(201);
    const req = emulator.requests.find((r) => r.params.to?.endsWith('14155550155'));
    expect(req?.params.machine_detection).toBe('hangup');
    const status = await until(async () => {
      const r = await node.api('GET', `/outbound/status/${res.json.call_id}`);
      return r.json.machine === true ? r.json : undefined;
    });
    expect(status.outcome).toBe('machine');
  });

  it('accepts a JSON body with variables and machine_detection=false', async () => {
    const res = await node.api('POST', '/outbound/call', {
      phone_number: '+1 (415) 555-0111',
      variables: { plan: 'pro' },
      machine_detection: false,
    });
    expect(res.status).toBe(201);
    const req = emulator.requests.filter((r) => r.path.endsWith('/Call/')).at(-1);
    expect(req?.params.machine_detection).toBeUndefined();
    const status = await node.api('GET', `/outbound/status/${res.json.call_id}`);
    expect(status.json.to).toBe('+14155550111');
    expect(status.json.variables).toEqual({ plan: 'pro' });
  });

  it('hangs up a live call through Plivo', async () => {
    const slow = await startEmulator({ outbound: () => ({ kind: 'answer', ringMs: 10, hangupAfterMs: 60_000 }) });
    const n2 = await startNode({ emulator: slow });
    try {
      const res = await n2.api('POST', '/outbound/call', { phone_number: NUMBERS.answer });
      await until(
        async () => (await n2.api('GET', `/outbound/status/${res.json.call_id}`)).json.status === 'in-progress',
      );
      const h = await n2.api('POST', `/outbound/hangup/${res.json.call_id}`);
      expect(h.status).toBe(200);
      expect(h.json.hangup_requested).toBe(true);
      const done = await until(async () => {
        const r = await n2.api('GET', `/outbound/status/${res.json.call_id}`);
        return r.json.status === 'completed' ? r.json : undefined;
      });
      expect(done.end_reason).toBeDefined();
      const again = await n2.api('POST', `/outbound/hangup/${res.json.call_id}`);
      expect(again.status).toBe(409);
    } finally {
      await n2.close();
      await slow.close();
    }
  });

  it('answers 502 with the typed error when Plivo refuses, and records the failure', async () => {
    const broken = await startEmulator({ faults: { failFirst: 1, failStatus: 500 } });
    const n2 = await startNode({ emulator: broken });
    try {
      const res = await n2.api('POST', '/outbound/call', { phone_number: NUMBERS.answer });
      expect(res.status).toBe(502);
      expect(res.json.error).toBe('plivo_error');
      expect(res.json.code).toBe('GW_ERR_PLIVO_API');
      expect(res.json.plivo_status).toBe(500);
      const status = await n2.api('GET', `/outbound/status/${res.json.call_id}`);
      expect(status.json.status).toBe('failed');
      expect(status.json.hangup_cause).toMatch(/plivo_error/);
    } finally {
      await n2.close();
      await broken.close();
    }
  });
});

describe('campaign view', () => {
  it('lists the calls of a campaign with counts by status and outcome', async () => {
    const ids: string[] = [];
    for (const n of [NUMBERS.answer, NUMBERS.busy, NUMBERS.noAnswer]) {
      const r = await node.api('POST', '/outbound/call', { phone_number: n, campaign_id: 'view-test' });
      ids.push(r.json.call_id);
    }
    for (const id of ids) await finalStatus(id);
    const res = await node.api('GET', '/outbound/campaign/view-test');
    expect(res.status).toBe(200);
    expect(res.json.counts.total).toBe(3);
    expect(res.json.counts.by_status).toEqual({ completed: 1, busy: 1, 'no-answer': 1 });
    expect(res.json.calls.map((c: { call_id: string }) => c.call_id).sort()).toEqual([...ids].sort());
    expect(res.json.calls[0].transcript).toBeUndefined();
  });
});

describe('bad input', () => {
  const post = (body: unknown, headers?: Record<string, string>) => node.api('POST', '/outbound/call', body, headers);
  const fieldsOf = (json: { fields: Array<{ field: string }> }) => json.fields.map((f) => f.field);

  it.each([
    ['not a number', 'abc'],
    ['too short', '+1415'],
    ['impossible number', '+10005550100'],
    ['letters mixed in', '+1415555O111'],
    ['empty', ''],
  ])('rejects a bad phone number (%s) naming the field', async (_what, phone) => {
    const res = await post({ phone_number: phone });
    expect(res.status).toBe(400);
    expect(res.json.error).toBe('invalid_request');
    expect(fieldsOf(res.json)).toContain('phone_number');
  });

  it('rejects missing and wrongly typed fields, naming each', async () => {
    const missing = await post({});
    expect(missing.status).toBe(400);
    expect(fieldsOf(missing.json)).toEqual(['phone_number']);
    const wrong = await post({
      phone_number: 14155550111,
      variables: { name: 5 },
      campaign_id: 'bad id!',
      machine_detection: 'maybe',
      objective: 7,
    });
    expect(wrong.status).toBe(400);
    expect(fieldsOf(wrong.json).sort()).toEqual(
      ['campaign_id', 'machine_detection', 'objective', 'phone_number', 'variables.name'].sort(),
    );
    const arr = await post({ phone_number: NUMBERS.answer, variables: ['a'] });
    expect(fieldsOf(arr.json)).toEqual(['variables']);
  });

  it('rejects malformed JSON and non-object JSON', async () => {
    const bad = await post('{"phone_number": ', { 'content-type': 'application/json' });
    expect(bad.status).toBe(400);
    expect(bad.json.error).toBe('malformed_json');
    const arr = await post('[1,2]', { 'content-type': 'application/json' });
    expect(arr.status).toBe(400);
    expect(arr.json.error).toBe('malformed_json');
  });

  it('requires the bearer token on every route', async () => {
    for (const [method, path] of [
      ['POST', '/outbound/call'],
      ['GET', '/outbound/status/x'],
      ['POST', '/outbound/hangup/x'],
      ['GET', '/outbound/campaign/x'],
      ['POST', '/outbound/campaign'],
      ['POST', '/outbound/campaign/x/pause'],
    ] as const) {
      const none = await fetch(`${node.base}${path}`, { method });
      expect(none.status).toBe(401);
      expect(none.headers.get('www-authenticate')).toBe('Bearer');
      const wrong = await fetch(`${node.base}${path}`, { method, headers: { authorization: `Bearer ${API_KEY}x` } });
      expect(wrong.status).toBe(401);
      const basic = await fetch(`${node.base}${path}`, { method, headers: { authorization: `Basic ${API_KEY}` } });
      expect(basic.status).toBe(401);
    }
    expect(emulator.requests.some((r) => r.params.to === undefined && r.path.endsWith('/Call/'))).toBe(false);
  });

  it('answers 404 for unknown ids and routes, 405 for a wrong method', async () => {
    expect((await node.api('GET', '/outbound/status/does-not-exist')).status).toBe(404);
    expect((await node.api('GET', '/outbound/status/%E0%A4%A')).status).toBe(404);
    expect((await node.api('POST', '/outbound/hangup/does-not-exist')).status).toBe(404);
    expect((await node.api('GET', '/outbound/campaign/nope')).status).toBe(404);
    expect((await node.api('POST', '/outbound/campaign/nope/pause')).status).toBe(404);
    expect((await node.api('GET', '/outbound/whatever')).status).toBe(404);
    expect((await node.api('GET', '/outbound/call')).status).toBe(405);
  });
});

describe('API disabled', () => {
  it('answers 503 on every route when OUTBOUND_API_KEY is unset', async () => {
    const n2 = await startNode({ emulator, env: { OUTBOUND_API_KEY: '' } });
    try {
      const res = await fetch(`${n2.base}/outbound/call?phone_number=${encodeURIComponent(NUMBERS.answer)}`, {
        method: 'POST',
        headers: { authorization: 'Bearer anything' },
      });
      expect(res.status).toBe(503);
      expect(((await res.json()) as { error: string }).error).toBe('outbound_disabled');
      expect((await fetch(`${n2.base}/outbound/status/x`)).status).toBe(503);
    } finally {
      await n2.close();
    }
  });
});

// D1 (issue 15): a webhook's parameters are read exactly as they were signed. Form bodies are read as form, JSON
// bodies as JSON, the query always; anything that cannot be both verified and parsed is refused with a 4xx before
// the router sees it. The attacker holds a captured URL-only signature (what Plivo sends for a GET callback) and
// tries it with every content type against every route, over real sockets.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEchoAgent, type EchoAgent } from '../../src/demo/echo-agent.ts';
import { signV3 } from '../../src/plivo/signature.ts';
import { mintTransferToken } from '../../src/plivo/stream-token.ts';
import { AUTH_TOKEN, CALLER, type Harness, OUR_NUMBER, startHarness, until } from '../plivo/helpers/harness.ts';

let h: Harness;
let agent: EchoAgent;
beforeAll(async () => {
  agent = createEchoAgent();
  h = await startHarness(agent);
});
afterAll(async () => {
  await h?.close();
});

let nonceSeq = 0;
const nextNonce = () => `${Date.now()}${String(++nonceSeq).padStart(6, '0')}`;

function routes(): string[] {
  const transfer = mintTransferToken('victim', '+14155550111', { secret: h.config.plivo.streamTokenSecret, ttlS: 60 });
  return [
    '/answer',
    '/hangup',
    '/callbacks/stream-status',
    '/callbacks/machine',
    '/callbacks/ring',
    `/transfer-xml/${transfer}`,
  ];
}

async function send(
  path: string,
  init: { method?: string; contentType?: string; body?: string; sig?: string; nonce?: string },
) {
  const headers: Record<string, string> = {};
  if (init.contentType !== undefined) headers['content-type'] = init.contentType;
  if (init.sig !== undefined) headers['x-plivo-signature-v3'] = init.sig;
  if (init.nonce !== undefined) headers['x-plivo-signature-v3-nonce'] = init.nonce;
  const res = await fetch(`${h.base}${path}`, { method: init.method ?? 'POST', headers, body: init.body });
  return { status: res.status, text: await res.text() };
}

describe('D1: body parameters cannot escape the signature', () => {
  it('refuses a captured URL-only signature with a body, for every content type and route; the live call survives', async () => {
    const call = await h.emulator.placeInboundCall({
      answerUrl: `${h.base}/answer`,
      hangupUrl: `${h.base}/hangup`,
      from: CALLER,
      to: OUR_NUMBER,
    });
    const victim = call.callUuid;
    await agent.waitForCall(victim);
    const before = {
      answers: agent.answers.length,
      hangups: agent.hangups.length,
      callbacks: agent.callbacks.length,
    };
    const form = new URLSearchParams({ CallUUID: victim, CallStatus: 'completed' }).toString();
    const json = JSON.stringify({ CallUUID: victim, CallStatus: 'completed' });
    const bodies: Array<[string | undefined, string]> = [
      ['application/json', form], // the defect: checked over the URL alone, parsed as a form
      ['application/json; charset=utf-8', form],
      ['Application/JSON', form],
      ['application/vnd.plivo+json', form],
      ['text/json', form],
      ['application/json', json],
      ['application/x-www-form-urlencoded', form],
      ['application/x-www-form-urlencoded; charset=utf-8', form],
      ['application/x-www-form-urlencoded', json],
      ['text/plain', form],
      ['multipart/form-data; boundary=x', form],
      ['application/xml', form],
      [undefined, form],
    ];
    const results: string[] = [];
    for (const path of routes()) {
      for (const [contentType, body] of bodies) {
        // What the attacker captured: a valid signature over the URL alone (a GET callback, or a POST with no body).
        const nonce = nextNonce();
        const sig = signV3(AUTH_TOKEN, 'GET', `${h.base}${path}`, nonce);
        const r = await send(path, { contentType, body, sig, nonce });
        if (r.status < 400 || r.status >= 500) results.push(`${path} ${contentType} → ${r.status}`);
      }
    }
    expect(results).toEqual([]);
    expect(agent.answers.length).toBe(before.answers);
    expect(agent.hangups.length).toBe(before.hangups);
    // (Plivo's own stream-status callback for the call may arrive meanwhile; none carries the attacker's body.)
    expect(agent.callbacks.slice(before.callbacks).filter((c) => c.params.CallStatus === 'completed')).toEqual([]);
    expect(agent.activeCalls()).toBe(1);
    expect(agent.calls.get(victim)!.ended).toBeUndefined();
    expect(call.status).toBe('in-progress');
    await call.hangup();
  });

  it('reads a JSON body as JSON when it is signed as JSON, a form as a form, and the query always', async () => {
    const path = '/callbacks/machine';
    const url = `${h.base}${path}?tag=q1`;
    const params = { CallUUID: 'json-cb-1', Machine: 'true', Event: 'MachineDetection' };
    let nonce = nextNonce();
    const r1 = await send(`${path}?tag=q1`, {
      contentType: 'application/json',
      body: JSON.stringify({ ...params, Machine: true }),
      nonce,
      sig: signV3(AUTH_TOKEN, 'POST', url, nonce, Object.entries(params)),
    });
    expect(r1.status).toBe(200);
    await until(() => agent.callbacks.some((c) => c.params.CallUUID === 'json-cb-1'), 2000, 'json callback');
    expect(agent.callbacks.find((c) => c.params.CallUUID === 'json-cb-1')!.params).toEqual({ ...params, tag: 'q1' });

    nonce = nextNonce();
    const form = { CallUUID: 'form-cb-1', Machine: 'false' };
    const r2 = await send(`${path}?tag=q2`, {
      contentType: 'application/x-www-form-urlencoded',
      body: new URLSearchParams(form).toString(),
      nonce,
      sig: signV3(AUTH_TOKEN, 'POST', `${h.base}${path}?tag=q2`, nonce, Object.entries(form)),
    });
    expect(r2.status).toBe(200);
    expect(agent.callbacks.find((c) => c.params.CallUUID === 'form-cb-1')!.params).toEqual({ ...form, tag: 'q2' });

    nonce = nextNonce();
    const getUrl = `${h.base}${path}?CallUUID=get-cb-1&Machine=true`;
    const r3 = await send(`${path}?CallUUID=get-cb-1&Machine=true`, {
      method: 'GET',
      nonce,
      sig: signV3(AUTH_TOKEN, 'GET', getUrl, nonce),
    });
    expect(r3.status).toBe(200);
    expect(agent.callbacks.find((c) => c.params.CallUUID === 'get-cb-1')!.params).toEqual({
      CallUUID: 'get-cb-1',
      Machine: 'true',
    });
  });

  it('refuses JSON that cannot be signed as flat parameters, with a clear 4xx', async () => {
    const path = '/callbacks/ring';
    const cases: Array<[string, string]> = [
      ['application/json', '{"CallUUID":{"nested":"x"}}'],
      ['application/json', '["CallUUID","x"]'],
      ['application/json', '{"CallUUID":"x",'],
      ['application/json', 'null'],
    ];
    for (const [contentType, body] of cases) {
      const nonce = nextNonce();
      const r = await send(path, {
        contentType,
        body,
        nonce,
        sig: signV3(AUTH_TOKEN, 'POST', `${h.base}${path}`, nonce, [['CallUUID', 'x']]),
      });
      expect(r.status, body).toBeGreaterThanOrEqual(400);
      expect(r.status, body).toBeLessThan(500);
      expect(r.text.length).toBeGreaterThan(0);
    }
  });
});

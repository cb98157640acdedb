// D2 (issue 15): replay gives nothing. A replayed signed /answer is refused (nonce remembered); a retried one with
// a fresh nonce gets the same stream URL (idempotent per CallUUID); a stream URL serves one stream once and nothing
// after the call ended; its claims are not readable. Run on one replica with memory state, and on two replicas
// sharing a real redis-server (a replay sent to the other replica is caught too). Over real sockets.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEchoAgent, type EchoAgent } from '../../src/demo/echo-agent.ts';
import { signV3 } from '../../src/plivo/signature.ts';
import { startTestRedis, type TestRedis } from '../helpers/redis.ts';
import { AUTH_TOKEN, CALLER, type Harness, OUR_NUMBER, startHarness, until } from '../plivo/helpers/harness.ts';
import { openSocket } from '../plivo/helpers/ws.ts';
import { attackStream } from './attack-stream.ts';

const SECRETS = { name: 'Alice Example', balance: '1234.56', ssn4: '6789' };

let nonceSeq = 0;
const freshNonce = () => `${Date.now()}${String(++nonceSeq).padStart(6, '0')}`;

interface Captured {
  path: string;
  headers: Record<string, string>;
  body: string;
}

/** A webhook as Plivo sends it (form body, V3-signed with a fresh nonce) to `base`; returns it for replaying. */
function signedForm(base: string, path: string, params: Record<string, string>): Captured {
  const nonce = freshNonce();
  return {
    path,
    body: new URLSearchParams(params).toString(),
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      'x-plivo-signature-v3': signV3(AUTH_TOKEN, 'POST', `${base}${path}`, nonce, Object.entries(params)),
      'x-plivo-signature-v3-nonce': nonce,
    },
  };
}

async function deliver(base: string, r: Captured): Promise<{ status: number; text: string }> {
  const res = await fetch(`${base}${r.path}`, { method: 'POST', headers: r.headers, body: r.body });
  return { status: res.status, text: await res.text() };
}

const streamUrlOf = (xml: string) => /<Stream[^>]*>([^<]+)<\/Stream>/.exec(xml)?.[1]?.replace(/&amp;/g, '&');

function answerParams(callId: string): Record<string, string> {
  return {
    CallUUID: callId,
    From: CALLER.slice(1),
    To: OUR_NUMBER.slice(1),
    Direction: 'inbound',
    CallStatus: 'ringing',
  };
}

function suite(
  name: string,
  setup: () => Promise<{ a: Harness; b: Harness; agentA: EchoAgent; agentB: EchoAgent; close(): Promise<void> }>,
) {
  const tag = name.replace(/[^a-z]/g, '');
  describe(name, () => {
    let a: Harness;
    let b: Harness;
    let agentA: EchoAgent;
    let agentB: EchoAgent;
    let close: () => Promise<void>;
    beforeAll(async () => {
      ({ a, b, agentA, agentB, close } = await setup());
    });
    afterAll(async () => {
      await close?.();
    });

    it('refuses a replayed /answer (409), answers a retry with the same stream URL, and keeps claims unreadable', async () => {
      const callId = `replay-${tag}-1`;
      const first = signedForm(a.base, '/answer', answerParams(callId));
      const r1 = await deliver(a.base, first);
      expect(r1.status).toBe(200);
      const url1 = streamUrlOf(r1.text)!;
      expect(url1).toMatch(/\/stream\//);
      const answersBefore = agentA.answers.length + agentB.answers.length;

      // Byte-for-byte replay, on this replica and (Redis) on the other one: refused, no token.
      const replayA = await deliver(a.base, first);
      expect(replayA.status).toBe(409);
      expect(replayA.text).not.toMatch(/stream/i);
      // Each test replica has its own public URL (port), so a request captured for a is only valid at a; the one
      // "captured" for b is replayed at b.
      const forB = signedForm(b.base, '/answer', answerParams(callId));
      expect((await deliver(b.base, forB)).status).toBe(200);
      expect((await deliver(b.base, forB)).status).toBe(409);

      // A retry with a fresh nonce (Plivo re-sending): the same stream URL, the router not run again.
      const retry = await deliver(b.base, signedForm(b.base, '/answer', answerParams(callId)));
      expect(retry.status).toBe(200);
      expect(new URL(streamUrlOf(retry.text)!).pathname).toBe(new URL(url1).pathname);
      expect(agentA.answers.length + agentB.answers.length).toBe(answersBefore);

      // The token in the URL says nothing about the customer.
      const token = new URL(url1).pathname.split('/').pop()!;
      const readable = token
        .split('.')
        .map((p) => Buffer.from(p, 'base64url').toString('latin1'))
        .join(' ');
      for (const v of [...Object.values(SECRETS), callId, CALLER.slice(1)]) expect(readable).not.toContain(v);
    });

    it('serves a stream URL once: a replayed stream gets no frames and never reaches the call', async () => {
      const call = await a.emulator.placeInboundCall({
        answerUrl: `${a.base}/answer`,
        hangupUrl: `${a.base}/hangup`,
        from: CALLER,
        to: OUR_NUMBER,
      });
      const genuine = await agentA.waitForCall(call.callUuid);
      expect(genuine.ctx.variables).toEqual(SECRETS);
      const url = call.streamUrl!;
      // While the call is live, on either replica.
      const onA = await attackStream(url, call.callUuid);
      const onB = await attackStream(
        url.replace(a.base.replace(/^http/, 'ws'), b.base.replace(/^http/, 'ws')),
        call.callUuid,
      );
      // Refused before the open on the replica that has the stream (409); after it, by the replay guard, elsewhere.
      expect([onA.refused, onB.refused]).toEqual([409, b === a ? 409 : 4409]);
      expect(onA.frames + onB.frames).toBe(0);
      if (b !== a) expect(agentB.calls.has(call.callUuid)).toBe(false);
      expect(genuine.ended).toBeUndefined();

      // After the call ended: still nothing.
      await call.hangup();
      await call.completed;
      await until(() => genuine.ended !== undefined, 3000, 'genuine stream ended');
      const after = await attackStream(url, call.callUuid);
      expect([4409, 4410]).toContain(after.refused);
      expect(after.frames).toBe(0);
      // An answer for the ended call (even correctly signed with a fresh nonce) is refused.
      const late = await deliver(b.base, signedForm(b.base, '/answer', answerParams(call.callUuid)));
      expect(late.status).toBe(409);
      expect(agentA.calls.get(call.callUuid)).toBe(genuine);
    });

    it('refuses a stream whose call ended before it connected (4410), on any replica', async () => {
      const callId = `replay-${tag}-2`;
      const r = await deliver(a.base, signedForm(a.base, '/answer', answerParams(callId)));
      const url = streamUrlOf(r.text)!;
      const hung = await deliver(b.base, signedForm(b.base, '/hangup', { CallUUID: callId, CallStatus: 'completed' }));
      expect(hung.status).toBe(200);
      const att = await attackStream(url, callId);
      expect(att.refused).toBe(4410);
      expect(att.frames).toBe(0);
      expect(agentA.calls.has(callId) || agentB.calls.has(callId)).toBe(false);
    });

    it('gives the stream back when a socket closes before start, so Plivo can retry the connect', async () => {
      const callId = `replay-${tag}-3`;
      const r = await deliver(a.base, signedForm(a.base, '/answer', answerParams(callId)));
      const url = streamUrlOf(r.text)!;
      await new Promise<void>((resolve) => {
        const ws = openSocket(url);
        ws.on('open', () => ws.close());
        ws.on('close', () => resolve());
      });
      await new Promise((res) => setTimeout(res, 200));
      const second = await attackStream(url, callId, 300);
      expect(second.refused).toBeUndefined();
      expect(agentA.calls.has(callId)).toBe(true);
    });
  });
}

function agentWithSecrets(): EchoAgent {
  return createEchoAgent({ enrich: (_info, base) => ({ ...base, variables: SECRETS }) });
}

suite('memory', async () => {
  const agentA = agentWithSecrets();
  const a = await startHarness(agentA);
  return { a, b: a, agentA, agentB: agentA, close: () => a.close() };
});

let redis: TestRedis | undefined;
suite('redis, two replicas', async () => {
  redis = await startTestRedis();
  const env = { STATE_STORE: 'redis', REDIS_URL: redis.url };
  const agentA = agentWithSecrets();
  const agentB = agentWithSecrets();
  const a = await startHarness(agentA, { env });
  const b = await startHarness(agentB, { env });
  return {
    a,
    b,
    agentA,
    agentB,
    async close() {
      await a.close();
      await b.close();
      await redis?.stop();
    },
  };
});

describe('a retry of a request we failed', () => {
  it('is served with the same nonce after our 5xx, and refused once it was served', async () => {
    const agent = createEchoAgent();
    let failures = 1;
    const onCallback = agent.onCallback!.bind(agent);
    agent.onCallback = (kind, params) => {
      if (failures-- > 0) throw new Error('store unavailable');
      return onCallback(kind, params);
    };
    const h = await startHarness(agent);
    try {
      const req = signedForm(h.base, '/callbacks/ring', { CallUUID: 'retry-1', CallStatus: 'ringing' });
      expect((await deliver(h.base, req)).status).toBe(500);
      expect((await deliver(h.base, req)).status).toBe(200);
      expect((await deliver(h.base, req)).status).toBe(409);
      expect(agent.callbacks.filter((c) => c.params.CallUUID === 'retry-1')).toHaveLength(1);
    } finally {
      await h.close();
    }
  });
});

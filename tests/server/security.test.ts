// Webhook signatures and stream tokens over real sockets: nothing unsigned reaches the router, no socket opens
// without a valid token for its call.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEchoAgent, type EchoAgent } from '../../src/demo/echo-agent.ts';
import { signV3 } from '../../src/plivo/signature.ts';
import { CLOSE_CODES } from '../../src/plivo/stream-session.ts';
import { mintStreamToken, mintTransferToken } from '../../src/plivo/stream-token.ts';
import { transferXmlUrl } from '../../src/plivo/transfer.ts';
import { AUTH_TOKEN, CALLER, type Harness, OUR_NUMBER, startHarness, until } from '../plivo/helpers/harness.ts';
import { openSocket, type TestSocket } from '../plivo/helpers/ws.ts';

let h: Harness;
let agent: EchoAgent;
beforeAll(async () => {
  agent = createEchoAgent();
  h = await startHarness(agent);
});
afterAll(async () => {
  await h?.close();
});

const secret = () => h.config.plivo.streamTokenSecret;
const wsUrl = (token: string) => `${h.base.replace(/^http/, 'ws')}/stream/${token}`;

/** Opens a raw stream socket: resolves with the upgrade's HTTP status, or the open socket. */
function connect(token: string): Promise<{ status: number; ws?: TestSocket }> {
  return new Promise((resolve) => {
    const ws = openSocket(wsUrl(token));
    ws.on('unexpected-response', (_req, res) => {
      res.resume();
      resolve({ status: res.statusCode ?? 0 });
    });
    ws.on('open', () => resolve({ status: 101, ws }));
    ws.on('error', () => resolve({ status: 0 }));
  });
}

function closed(ws: TestSocket): Promise<{ code: number; reason: string }> {
  return new Promise((r) => ws.on('close', (code, reason) => r({ code, reason: reason.toString() })));
}

async function post(path: string, form: Record<string, string>, headers: Record<string, string> = {}) {
  const res = await fetch(`${h.base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(form).toString(),
  });
  return { status: res.status, body: await res.text() };
}

const ctx = (callId: string) => ({ callId, direction: 'inbound' as const, from: CALLER, to: OUR_NUMBER });

describe('webhook signatures', () => {
  it('refuses an unsigned or badly signed answer webhook with 403, before the router sees it', async () => {
    const before = agent.answers.length;
    const unsigned = await h.emulator.placeInboundCall({
      answerUrl: `${h.base}/answer`,
      from: CALLER,
      to: OUR_NUMBER,
      signature: 'none',
    });
    const forged = await h.emulator.placeInboundCall({
      answerUrl: `${h.base}/answer`,
      from: CALLER,
      to: OUR_NUMBER,
      signature: 'invalid',
    });
    expect(unsigned.answerStatus).toBe(403);
    expect(forged.answerStatus).toBe(403);
    expect(unsigned.streamUrl).toBeUndefined();
    expect(agent.answers.length).toBe(before);
    const metrics = await (await fetch(`${h.base}/metrics`)).text();
    expect(metrics).toMatch(/gateway_errors_total\{kind="signature-missing"\} [1-9]/);
    expect(metrics).toMatch(/gateway_errors_total\{kind="signature-mismatch"\} [1-9]/);
    expect(metrics).toMatch(/gateway_webhook_requests_total\{route="answer",status="403"\} 2/);
  });

  it('checks every Plivo callback, over the PUBLIC url and every parameter', async () => {
    const form = { CallUUID: 'abc-1', CallStatus: 'completed' };
    for (const path of ['/hangup', '/callbacks/stream-status', '/callbacks/machine', '/callbacks/ring']) {
      expect((await post(path, form)).status).toBe(403);
    }
    const nonce = '12345678901234567890';
    const pairs = Object.entries(form);
    const sign = (url: string, p = pairs) => signV3(AUTH_TOKEN, 'POST', url, nonce, p);
    const hdr = (sig: string) => ({ 'x-plivo-signature-v3': sig, 'x-plivo-signature-v3-nonce': nonce });
    expect((await post('/hangup', form, hdr(sign('http://elsewhere.example/hangup')))).status).toBe(403);
    expect((await post('/hangup', { ...form, Extra: '1' }, hdr(sign(`${h.base}/hangup`)))).status).toBe(403);
    expect((await post('/hangup', form, hdr(`bad,${sign(`${h.base}/hangup`)}`))).status).toBe(200);
    await until(() => agent.hangups.some((x) => x.callId === 'abc-1'), 2000, 'hangup delivered');
    const cb = { CallUUID: 'abc-2', Machine: 'true', Event: 'MachineDetection' };
    const r = await post(
      '/callbacks/machine',
      cb,
      hdr(signV3(AUTH_TOKEN, 'POST', `${h.base}/callbacks/machine`, nonce, Object.entries(cb))),
    );
    expect(r.status).toBe(200);
    expect(agent.callbacks).toContainEqual({ kind: 'machine', params: cb });
  });

  it('refuses an oversized webhook body with 413', async () => {
    const r = await post('/answer', { CallUUID: 'x', Junk: 'y'.repeat(70 * 1024) });
    expect(r.status).toBe(413);
  });

  it('answers 400 to a signed webhook with bad parameters', async () => {
    const nonce = '1';
    const form = { CallUUID: '<script>' };
    const sig = signV3(AUTH_TOKEN, 'POST', `${h.base}/answer`, nonce, Object.entries(form));
    const r = await post('/answer', form, { 'x-plivo-signature-v3': sig, 'x-plivo-signature-v3-nonce': nonce });
    expect(r.status).toBe(400);
  });
});

describe('stream token', () => {
  it('refuses an upgrade whose token is missing, altered, foreign, expired or of another kind', async () => {
    const good = mintStreamToken(ctx('tok-call-1'), { secret: secret(), ttlS: 60 });
    const [v, iv] = good.split('.') as [string, string, string];
    const other = mintStreamToken(ctx('tok-call-9'), { secret: secret(), ttlS: 60 });
    const cases: Array<[string, number[]]> = [
      ['', [401, 404]],
      ['garbage', [401]],
      [`${v}.${iv}`, [401]],
      [`${v}.${iv}.${other.split('.')[2]}`, [403]], // another call's sealed claims under this IV
      [`${good.slice(0, -3)}AAA`, [403]],
      [mintStreamToken(ctx('tok-call-1'), { secret: 'not-our-secret', ttlS: 60 }), [403]],
      [mintStreamToken(ctx('tok-call-1'), { secret: secret(), ttlS: 60, nowMs: Date.now() - 3_600_000 }), [403]],
      [mintTransferToken('tok-call-1', '+14155550111', { secret: secret(), ttlS: 60 }), [403]],
    ];
    for (const [token, statuses] of cases) {
      const r = await connect(token);
      expect(statuses, `token ${token.slice(0, 20)}`).toContain(r.status);
    }
    expect(agent.calls.has('tok-call-1')).toBe(false);
    const ok = await connect(good);
    expect(ok.status).toBe(101);
    // A second socket for a call that already has one is a replay.
    expect((await connect(good)).status).toBe(409);
    ok.ws!.close();
  });

  it('closes a stream whose start names a different call than its token (4001)', async () => {
    const { ws } = await connect(mintStreamToken(ctx('victim-call'), { secret: secret(), ttlS: 60 }));
    const end = closed(ws!);
    ws!.send(
      JSON.stringify({
        event: 'start',
        start: {
          callId: 'attacker-call',
          streamId: 's',
          accountId: 'MA',
          tracks: ['inbound'],
          mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000 },
        },
      }),
    );
    expect((await end).code).toBe(CLOSE_CODES.callMismatch);
    expect(agent.calls.has('victim-call')).toBe(false);
    expect(agent.calls.has('attacker-call')).toBe(false);
  });
});

describe('transfer XML', () => {
  it('transfers a live call to the number in a URL only we can mint', async () => {
    const call = await h.emulator.placeInboundCall({
      answerUrl: `${h.base}/answer`,
      hangupUrl: `${h.base}/hangup`,
      from: CALLER,
      to: OUR_NUMBER,
    });
    await agent.waitForCall(call.callUuid);
    const plivo = (await import('../../src/plivo/rest-client.ts')).createPlivoRestClient({
      authId: h.config.plivo.authId,
      authToken: AUTH_TOKEN,
      baseUrl: h.emulator.restBaseUrl,
      timeoutMs: 2000,
      maxRetries: 0,
    });
    await plivo.transferCall(
      call.callUuid,
      transferXmlUrl(call.callUuid, '+14155550111', { publicUrl: h.base, secret: secret() }),
    );
    await until(() => call.transferredTo.length > 0, 3000, 'transfer XML fetched');
    expect(call.transferredTo).toEqual(['+14155550111']);
    expect(call.transferXml).toContain('<Dial callerId="+14155550100"><Number>+14155550111</Number></Dial>');
    // Signed by Plivo but with a token we did not mint: refused.
    const nonce = '9';
    const url = `${h.base}/transfer-xml/v2.AAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA`;
    const res = await fetch(url, {
      headers: { 'x-plivo-signature-v3': signV3(AUTH_TOKEN, 'GET', url, nonce), 'x-plivo-signature-v3-nonce': nonce },
    });
    expect(res.status).toBe(403);
  });
});

describe('PLIVO_VERIFY_SIGNATURES=false', () => {
  it('lets unsigned webhooks through (local development only)', async () => {
    const dev = createEchoAgent();
    const h2 = await startHarness(dev, { env: { PLIVO_VERIFY_SIGNATURES: 'false' } });
    try {
      const call = await h2.emulator.placeInboundCall({
        answerUrl: `${h2.base}/answer`,
        from: CALLER,
        to: OUR_NUMBER,
        signature: 'none',
      });
      expect(call.answerStatus).toBe(200);
      await dev.waitForCall(call.callUuid);
    } finally {
      await h2.close();
    }
  });
});

describe('resume XML (a call moved at a drain deadline)', () => {
  it('opens a second stream for the call with the resumption handle; the call stays up; bad tokens refused', async () => {
    const call = await h.emulator.placeInboundCall({
      answerUrl: `${h.base}/answer`,
      hangupUrl: `${h.base}/hangup`,
      from: CALLER,
      to: OUR_NUMBER,
    });
    const first = await agent.waitForCall(call.callUuid);
    expect(first.ctx.resumeHandle).toBeUndefined();
    const plivo = (await import('../../src/plivo/rest-client.ts')).createPlivoRestClient({
      authId: h.config.plivo.authId,
      authToken: AUTH_TOKEN,
      baseUrl: h.emulator.restBaseUrl,
      timeoutMs: 2000,
      maxRetries: 0,
    });
    const token = mintStreamToken({ ...ctx(call.callUuid), resumeHandle: 'handle-1' }, { secret: secret(), ttlS: 60 });
    await plivo.transferCall(call.callUuid, `${h.base}/resume/${token}`);
    await first.endedAt;
    await until(
      () => {
        const c = agent.calls.get(call.callUuid);
        return c !== first && c?.ctx.resumeHandle === 'handle-1';
      },
      5000,
      'moved stream attached',
    );
    const moved = agent.calls.get(call.callUuid)!;
    expect(moved.start.callId).toBe(call.callUuid);
    expect(call.status).toBe('in-progress');
    // The token serves one stream only; a token without a handle is not a resume token.
    expect((await connect(token)).status).toBe(409);
    const plain = mintStreamToken(ctx(call.callUuid), { secret: secret(), ttlS: 60 });
    const nonce = '11';
    const url = `${h.base}/resume/${plain}`;
    const res = await fetch(url, {
      headers: { 'x-plivo-signature-v3': signV3(AUTH_TOKEN, 'GET', url, nonce), 'x-plivo-signature-v3-nonce': nonce },
    });
    expect(res.status).toBe(403);
    // A valid resume token fetched for another call (a signed transfer of a different CallUUID) is refused too.
    const other = mintStreamToken({ ...ctx('another-call'), resumeHandle: 'h2' }, { secret: secret(), ttlS: 60 });
    const otherUrl = `${h.base}/resume/${other}`;
    const form = { CallUUID: call.callUuid, Event: 'Transfer' };
    const signed = await post(`/resume/${other}`, form, {
      'x-plivo-signature-v3': signV3(AUTH_TOKEN, 'POST', otherUrl, '12', Object.entries(form)),
      'x-plivo-signature-v3-nonce': '12',
    });
    expect(signed.status).toBe(403);
    await call.hangup();
  });
});

// The replay guard during a Redis outage: calls are still answered and streamed (the guard falls back to this
// replica's memory, counted in /metrics), and a replay on the same replica is still refused. Real redis-server,
// stopped mid-test.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEchoAgent, type EchoAgent } from '../../src/demo/echo-agent.ts';
import { signV3 } from '../../src/plivo/signature.ts';
import { startTestRedis, type TestRedis } from '../helpers/redis.ts';
import { AUTH_TOKEN, CALLER, type Harness, OUR_NUMBER, startHarness } from '../plivo/helpers/harness.ts';

let redis: TestRedis;
let h: Harness;
let agent: EchoAgent;
beforeAll(async () => {
  redis = await startTestRedis();
  agent = createEchoAgent();
  h = await startHarness(agent, { env: { STATE_STORE: 'redis', REDIS_URL: redis.url } });
});
afterAll(async () => {
  await h?.close();
  await redis?.stop();
});

describe('replay guard without Redis', () => {
  it('keeps answering and streaming calls, and still refuses a replay on this replica', async () => {
    await redis.stop();
    const call = await h.emulator.placeInboundCall({
      answerUrl: `${h.base}/answer`,
      hangupUrl: `${h.base}/hangup`,
      from: CALLER,
      to: OUR_NUMBER,
    });
    expect(call.answerStatus).toBe(200);
    await agent.waitForCall(call.callUuid);
    const nonce = '424242';
    const params = { CallUUID: 'outage-1', From: '14155550123', To: '14155550100', Direction: 'inbound' };
    const req = {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        'x-plivo-signature-v3': signV3(AUTH_TOKEN, 'POST', `${h.base}/answer`, nonce, Object.entries(params)),
        'x-plivo-signature-v3-nonce': nonce,
      },
      body: new URLSearchParams(params).toString(),
    };
    expect((await fetch(`${h.base}/answer`, req)).status).toBe(200);
    expect((await fetch(`${h.base}/answer`, req)).status).toBe(409);
    const metrics = await (await fetch(`${h.base}/metrics`)).text();
    expect(metrics).toMatch(/gateway_replay_guard_fallbacks_total [1-9]/);
    await call.hangup();
  });
});

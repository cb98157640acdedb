// Load shedding (src/server/overload.ts): while the event loop lags past OVERLOAD_LOOP_DELAY_MS, new calls get a
// busy answer and /readyz fails; the calls already up go on; when the lag is gone, calls are answered again. The lag
// is made the way overload makes it, by keeping this process's loop busy (the gateway runs in it).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEchoAgent, type EchoAgent } from '../../src/demo/echo-agent.ts';
import { OverloadMonitor } from '../../src/server/overload.ts';
import { CALLER, type Harness, OUR_NUMBER, startHarness, until } from '../plivo/helpers/harness.ts';

/** Keeps the loop busy: `blockMs` of synchronous work every `everyMs`, for `forMs`. */
function hog(blockMs: number, everyMs: number, forMs: number): Promise<void> {
  return new Promise((resolve) => {
    const end = Date.now() + forMs;
    const t = setInterval(() => {
      const stop = Date.now() + blockMs;
      while (Date.now() < stop) {
        // busy: what a replica past its CPU does between loop turns
      }
      if (Date.now() > end) {
        clearInterval(t);
        resolve();
      }
    }, everyMs);
  });
}

describe('OverloadMonitor', () => {
  it('turns on over the threshold and off only once a window is under half of it', async () => {
    const m = new OverloadMonitor({ thresholdMs: 40, windowMs: 60_000 });
    try {
      await new Promise((r) => setTimeout(r, 200));
      m.sample();
      expect(m.overloaded).toBe(false);
      await hog(120, 20, 600);
      m.sample();
      expect(m.lagMs).toBeGreaterThan(40);
      expect(m.overloaded).toBe(true);
      // Between half the threshold and the threshold: still on (no flapping at the edge).
      await hog(30, 20, 400);
      m.sample();
      if (m.lagMs >= 20) expect(m.overloaded).toBe(true);
      await new Promise((r) => setTimeout(r, 300));
      m.sample();
      expect(m.overloaded).toBe(false);
    } finally {
      m.close();
    }
  });

  it('is off when the threshold is 0', () => {
    const m = new OverloadMonitor({ thresholdMs: 0 });
    m.sample();
    expect(m.overloaded).toBe(false);
    m.close();
  });
});

describe('a gateway past its CPU', () => {
  let h: Harness;
  let agent: EchoAgent;
  beforeAll(async () => {
    agent = createEchoAgent();
    h = await startHarness(agent, { env: { OVERLOAD_LOOP_DELAY_MS: '60' } });
  });
  afterAll(async () => {
    await h?.close();
  });

  const place = () =>
    h.emulator.placeInboundCall({
      answerUrl: `${h.base}/answer`,
      hangupUrl: `${h.base}/hangup`,
      from: CALLER,
      to: OUR_NUMBER,
    });
  const metric = async (name: string) => {
    const text = await (await fetch(`${h.base}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith(name));
    return line === undefined ? Number.NaN : Number(line.split(' ').at(-1));
  };

  it('refuses new calls (busy) and fails /readyz while it lags, keeps the calls it has, then recovers', async () => {
    const up = await place();
    await agent.waitForCall(up.callUuid);
    expect((await fetch(`${h.base}/readyz`)).status).toBe(200);

    // About 1.5 s of a loop that lags 150 ms at a time: past the threshold for at least one whole window.
    await hog(150, 10, 1500);
    expect(await metric('gateway_overloaded')).toBe(1);
    const readyz = await fetch(`${h.base}/readyz`);
    expect(readyz.status).toBe(503);
    expect(await readyz.json()).toEqual({ ready: false, reason: 'overloaded' });
    const refused = await place();
    await until(() => refused.answerXml !== undefined && refused.answerXml !== '', 5000, 'the answer');
    expect(refused.answerXml).toContain('<Hangup reason="busy"/>');
    expect(refused.streamUrl).toBeUndefined();
    expect(await metric('gateway_errors_total{kind="answer-overloaded"}')).toBeGreaterThanOrEqual(1);
    // The call that was up is untouched.
    expect(up.status).toBe('in-progress');

    // The lag is gone for a whole window: calls are answered again.
    const readyBy = Date.now() + 5000;
    while ((await fetch(`${h.base}/readyz`)).status !== 200) {
      if (Date.now() > readyBy) throw new Error('not ready again within 5 s');
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(await metric('gateway_overloaded')).toBe(0);
    const again = await place();
    await agent.waitForCall(again.callUuid);
    expect(up.status).toBe('in-progress');
    await up.hangup();
    await again.hangup();
  }, 20_000);
});

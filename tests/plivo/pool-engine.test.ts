// The same flows with AUDIO_EXECUTION=pool: converted frames come back from a worker thread after the push.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEchoAgent, type EchoAgent } from '../../src/demo/echo-agent.ts';
import { CALLER, type Harness, OUR_NUMBER, startHarness, toneRatio, until } from './helpers/harness.ts';

let h: Harness;
let agent: EchoAgent;
beforeAll(async () => {
  agent = createEchoAgent();
  h = await startHarness(agent, { execution: 'pool', gateway: { leadMs: 200 } });
});
afterAll(async () => {
  await h?.close();
});

describe('gateway with the pool audio engine', () => {
  it('echoes the caller and confirms a checkpoint only after the burst before it', async () => {
    expect(h.audio.execution).toBe('pool');
    const call = await h.emulator.placeInboundCall({
      answerUrl: `${h.base}/answer`,
      from: CALLER,
      to: OUR_NUMBER,
      idleMedia: 'none',
      audio: { kind: 'tone', hz: 440, ms: 1000 },
    });
    const ac = await agent.waitForCall(call.callUuid);
    await until(() => call.playedUlaw().length >= 160 * 45, 5000, 'echoed audio');
    expect(toneRatio(call.playedPcm8k().subarray(800, 160 * 45), 8000, 440)).toBeGreaterThan(0.8);
    const before = call.played.length;
    call.sendDtmf('3');
    const cp = await call.waitForEvent('checkpoint', undefined, 4000);
    const sentBefore = call.received.filter((e) => e.event === 'playAudio' && e.at <= cp.at).length;
    expect(sentBefore - before).toBeGreaterThanOrEqual(49);
    await until(() => ac.played.includes('dtmf-1'), 4000, 'checkpoint played');
    expect(call.errors).toEqual([]);
    await call.hangup();
  });
});

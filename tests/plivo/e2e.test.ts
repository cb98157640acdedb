// Emulator ↔ gateway over real sockets with the echo agent: signed webhooks, the stream token, audio both ways.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEchoAgent, type EchoAgent } from '../../src/demo/echo-agent.ts';
import { CALLER, type Harness, OUR_NUMBER, startHarness, toneRatio, until } from './helpers/harness.ts';

let h: Harness;
let agent: EchoAgent;

beforeAll(async () => {
  agent = createEchoAgent({
    enrich: (_info, base) => ({
      ...base,
      campaignId: 'spring',
      objective: 'confirm <order> & "ship"',
      variables: { name: 'Ada' },
    }),
  });
  // A generous pacing lead keeps the no-gap check independent of how busy the test machine is.
  h = await startHarness(agent, { gateway: { leadMs: 200 } });
});
afterAll(async () => {
  await h?.close();
});

function place(extra: Record<string, unknown> = {}) {
  return h.emulator.placeInboundCall({
    answerUrl: `${h.base}/answer`,
    hangupUrl: `${h.base}/hangup`,
    from: CALLER,
    to: OUR_NUMBER,
    ...extra,
  });
}

describe('inbound call through the gateway', () => {
  it('answers with bidirectional μ-law <Stream> XML whose token carries the call context', async () => {
    const call = await place({ audio: { kind: 'silence', ms: 100 } });
    expect(call.answerStatus).toBe(200);
    expect(call.answerXml).toContain(
      '<Stream bidirectional="true" keepCallAlive="true" contentType="audio/x-mulaw;rate=8000"',
    );
    expect(call.answerXml).toContain(`statusCallbackUrl="${h.base}/callbacks/stream-status"`);
    expect(call.streamUrl).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\/stream\/v2\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    const ac = await agent.waitForCall(call.callUuid);
    expect(ac.ctx).toMatchObject({
      callId: call.callUuid,
      direction: 'inbound',
      from: CALLER,
      to: OUR_NUMBER,
      campaignId: 'spring',
      objective: 'confirm <order> & "ship"',
      variables: { name: 'Ada' },
    });
    expect(ac.start.format).toEqual({ encoding: 'mulaw', sampleRate: 8000 });
    expect(ac.start.streamId).toBe(call.streamId);
    await call.hangup();
    await until(() => agent.hangups.some((x) => x.callId === call.callUuid), 3000, 'hangup callback');
    expect(await ac.endedAt).toMatch(/stop|socket-closed/);
    expect(call.errors).toEqual([]);
  });

  it('echoes the caller: the caller hears its own 440 Hz tone back, in 160-byte frames', async () => {
    const call = await place({ audio: { kind: 'tone', hz: 440, ms: 1000, amplitude: 0.3 }, idleMedia: 'none' });
    const ac = await agent.waitForCall(call.callUuid);
    await until(() => ac.framesIn >= 50, 4000, 'caller frames');
    await until(() => call.playedUlaw().length >= 150 * 40, 4000, 'echoed audio');
    await new Promise((r) => setTimeout(r, 150));
    const pcm = call.playedPcm8k();
    // Skip the resampler warm-up; the echoed tone must dominate the played audio.
    expect(toneRatio(pcm.subarray(800, 7200), 8000, 440)).toBeGreaterThan(0.8);
    for (const e of call.received.filter((x) => x.event === 'playAudio')) {
      const m = e.msg as { media: { contentType: string; sampleRate: number; payload: string } };
      expect(m.media.contentType).toBe('audio/x-mulaw');
      expect(m.media.sampleRate).toBe(8000);
      expect(Buffer.from(m.media.payload, 'base64').length).toBe(160);
    }
    expect(call.errors).toEqual([]);
    await call.hangup();
  });

  it('plays a burst of agent audio paced without gaps, then confirms the checkpoint', async () => {
    const call = await place({ idleMedia: 'none' });
    const ac = await agent.waitForCall(call.callUuid);
    const t0 = performance.now();
    call.sendDtmf('5');
    const cp = await call.waitForEvent('checkpoint', undefined, 3000);
    expect(cp.msg).toEqual({ event: 'checkpoint', streamId: call.streamId, name: 'dtmf-1' });
    await until(() => ac.played.includes('dtmf-1'), 3000, 'onPlayed');
    const heardAt = performance.now();
    expect(ac.dtmf).toEqual(['5']);
    // Paced: the checkpoint leaves with the last frame, lead (200 ms) before the audio ends, not immediately;
    // it is confirmed once everything before it has played.
    expect(cp.at - t0).toBeGreaterThan(700);
    expect(heardAt - t0).toBeGreaterThan(950);
    expect(ac.leg.pendingPlayoutMs()).toBeLessThan(60);
    const chunks = call.played.filter((c) => c.at >= t0);
    expect(chunks.length).toBe(50);
    for (let i = 1; i < chunks.length; i++) {
      // Each frame starts when the previous one ends: no gap inside the turn.
      expect(chunks[i]!.startAt - chunks[i - 1]!.endAt).toBeLessThan(1);
    }
    const pcm = call.playedPcm8k();
    expect(toneRatio(pcm.subarray(pcm.length - 7000, pcm.length - 200), 8000, 1000)).toBeGreaterThan(0.9);
    expect(call.errors).toEqual([]);
    await call.hangup();
  });

  it('barge-in: clearAudio cuts the agent off within the pacing lead', async () => {
    const call = await place({ idleMedia: 'none' });
    const ac = await agent.waitForCall(call.callUuid);
    call.sendDtmf('1');
    await until(() => call.played.length >= 15, 3000, 'agent speaking');
    call.sendDtmf('*');
    const cleared = await call.waitForEvent('clearAudio', undefined, 3000);
    expect(cleared.msg).toEqual({ event: 'clearAudio', streamId: call.streamId });
    await until(() => ac.cleared === 1, 3000, 'clearedAudio confirmed');
    expect(ac.leg.pendingPlayoutMs()).toBe(0);
    // The tone was 1 s; the caller heard only what was played before the clear, and no checkpoint ack comes.
    const heardMs = call.playedUlaw().length / 8;
    expect(heardMs).toBeLessThan(800);
    await new Promise((r) => setTimeout(r, 300));
    expect(call.playedUlaw().length / 8).toBe(heardMs);
    expect(ac.played).toEqual([]);
    expect(call.errors).toEqual([]);
    await call.hangup();
  });
});

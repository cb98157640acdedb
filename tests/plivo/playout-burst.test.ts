// D5 (issue 15): an agent that bursts far ahead of real time (90 s of audio at once, more than the 60 s queue)
// must not silence the caller. Overflow drops the oldest audio (counted, logged once per call) and playout stays at
// real time: the Plivo side keeps receiving ~50 frames per second. Real gateway, real Plivo emulator, real sockets.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CallRouter, PhoneLeg } from '../../src/contract/call.ts';
import { CALLER, type Harness, OUR_NUMBER, startHarness, until } from './helpers/harness.ts';

/** Pushes `seconds` of a 440 Hz tone at once, in 100 ms chunks, with a checkpoint every 500 ms (like a call's turn). */
function burst(leg: PhoneLeg, seconds: number): void {
  const chunk = new Int16Array(2400);
  let n = 0;
  for (let t = 0; t < seconds * 10; t++) {
    for (let i = 0; i < chunk.length; i++) chunk[i] = Math.round(6000 * Math.sin((2 * Math.PI * 440 * n++) / 24000));
    leg.playAgentAudio(chunk);
    if (t % 5 === 4) {
      leg.flushAgentAudio();
      leg.checkpoint(`cp-${t}`);
    }
  }
  leg.flushAgentAudio();
}

let h: Harness;
const legs = new Map<string, PhoneLeg>();
const played: string[] = [];
const router: CallRouter = {
  onAnswer: (_info, base) => base,
  attachStream(ctx, leg) {
    legs.set(ctx.callId, leg);
    return {
      onCallerAudio() {},
      onDtmf() {},
      onPlayed: (name) => played.push(name),
      onCleared() {},
      onStreamEnd() {},
    };
  },
  onHangup() {},
  activeCalls: () => legs.size,
  async close() {},
};

beforeAll(async () => {
  h = await startHarness(router);
});
afterAll(async () => {
  await h?.close();
});

describe('D5: real-time playout under an agent burst', () => {
  it('keeps ~50 frames/s flowing to Plivo after a 90 s burst, and counts what the 60 s queue dropped', async () => {
    const call = await h.emulator.placeInboundCall({
      answerUrl: `${h.base}/answer`,
      hangupUrl: `${h.base}/hangup`,
      from: CALLER,
      to: OUR_NUMBER,
      idleMedia: 'none',
    });
    await until(() => legs.has(call.callUuid), 5000, 'stream attached');
    const t0 = performance.now();
    burst(legs.get(call.callUuid)!, 90);
    // Past the first checkpoint acknowledgements (every 500 ms of audio), which is where the silence began.
    await new Promise((r) => setTimeout(r, 4200));
    const perSecond = [0, 0, 0];
    for (const c of call.played) {
      const s = Math.floor((c.at - t0) / 1000) - 1;
      if (s >= 0 && s < 3) perSecond[s]!++;
    }
    expect(played.length).toBeGreaterThanOrEqual(3);
    for (const n of perSecond) {
      expect(n, `frames per second at Plivo: ${perSecond.join(', ')}`).toBeGreaterThanOrEqual(40);
      expect(n).toBeLessThanOrEqual(60);
    }
    expect(h.gateway.stats.droppedFrames).toBeGreaterThanOrEqual(1400); // ~30 s of 20 ms frames over the 60 s cap
    const metrics = await (await fetch(`${h.base}/metrics`)).text();
    expect(metrics).toMatch(/gateway_agent_frames_dropped_total \d{4,}/);
    // Queue bounded: what is pending is at most the 60 s cap.
    expect(legs.get(call.callUuid)!.pendingPlayoutMs()).toBeLessThanOrEqual(60_100);
    await call.hangup();
  });
});

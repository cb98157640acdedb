import { afterEach, describe, expect, it } from 'vitest';
import {
  type PlivoEmulator,
  type PlivoEmulatorExtras,
  startPlivoEmulator,
} from '../../../src/emulators/plivo/index.ts';
import { FakeGateway } from './fake-gateway.ts';

let emu: (PlivoEmulator & PlivoEmulatorExtras) | undefined;
let gw: FakeGateway | undefined;

afterEach(async () => {
  await emu?.close();
  gw?.close();
});

describe('many calls at once', () => {
  it('runs 200 concurrent echoed calls on the shared media tick', async () => {
    gw = await new FakeGateway({ echo: true }).listen();
    emu = await startPlivoEmulator({ authId: 'MALOAD', authToken: 'tok' });
    const N = 200;
    const prompt = { kind: 'tone' as const, hz: 500, ms: 300, amplitude: 0.4 };
    const calls = await Promise.all(
      Array.from({ length: N }, (_, i) =>
        emu!.placeInboundCall({
          answerUrl: `${gw!.httpBase}/answer`,
          hangupUrl: `${gw!.httpBase}/hangup`,
          from: '+14155550100',
          to: `+1415555${String(i).padStart(4, '0')}`,
          idleMedia: 'none',
        }),
      ),
    );
    expect(calls.every((c) => c.streamId !== undefined)).toBe(true);
    expect(emu.activeStreams).toBe(N);
    await Promise.all(calls.map((c) => c.sendAudio(prompt)));
    // Every call gets its 15 frames echoed back.
    await Promise.all(
      calls.map((c) =>
        c.waitForEvent('playAudio', () => c.received.filter((e) => e.event === 'playAudio').length >= 14, 10_000),
      ),
    );
    await new Promise((r) => setTimeout(r, 200));
    for (const c of calls) {
      expect(c.playedUlaw().length).toBe(15 * 160);
      expect(c.errors).toEqual([]);
    }
    await Promise.all(calls.map((c) => c.hangup()));
    expect(emu.activeStreams).toBe(0);
    expect(gw.webhooks.filter((w) => w.path === '/hangup')).toHaveLength(N);
  });
});

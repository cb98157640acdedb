// Bad input on one call's stream never hurts another call on the same gateway: call B plays a tone through the
// echo agent the whole time and must come back intact while call A is fed garbage, oversized frames, or stops
// reading.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AgentCall, createEchoAgent, type EchoAgent } from '../../src/demo/echo-agent.ts';
import type { SimulatedCall } from '../../src/emulators/plivo/index.ts';
import { CLOSE_CODES } from '../../src/plivo/stream-session.ts';
import { mintStreamToken } from '../../src/plivo/stream-token.ts';
import { CALLER, type Harness, OUR_NUMBER, startHarness, toneRatio, until } from './helpers/harness.ts';
import { openSocket } from './helpers/ws.ts';

let h: Harness;
let agent: EchoAgent;
beforeAll(async () => {
  agent = createEchoAgent({ dtmfToneHz: undefined });
  h = await startHarness(agent, { env: { MAX_WS_MESSAGE_BYTES: '4096' } });
});
afterAll(async () => {
  await h?.close();
});

async function place(audio?: {
  kind: 'tone';
  hz: number;
  ms: number;
}): Promise<{ call: SimulatedCall; ac: AgentCall }> {
  const call = await h.emulator.placeInboundCall({
    answerUrl: `${h.base}/answer`,
    hangupUrl: `${h.base}/hangup`,
    from: CALLER,
    to: OUR_NUMBER,
    idleMedia: 'none',
    ...(audio ? { audio } : {}),
  });
  return { call, ac: await agent.waitForCall(call.callUuid) };
}

/** B's caller hears its 440 Hz tone echoed back, clean, and the emulator saw no protocol error. */
async function expectIntactEcho(b: { call: SimulatedCall; ac: AgentCall }) {
  await until(() => b.ac.framesIn >= 75, 5000, 'B caller audio');
  await until(() => b.call.playedUlaw().length >= 160 * 70, 5000, 'B echoed audio');
  const pcm = b.call.playedPcm8k();
  expect(toneRatio(pcm.subarray(800, 160 * 70), 8000, 440)).toBeGreaterThan(0.8);
  expect(b.call.errors).toEqual([]);
  expect(b.ac.ended).toBeUndefined();
}

describe('bad input on one stream', () => {
  it('garbage, unknown events, binary frames and wrong types are ignored and counted; both calls carry on', async () => {
    const a = await place();
    const b = await place({ kind: 'tone', hz: 440, ms: 1500 });
    const before = new Map(h.gateway.stats.errors);
    const garbage: Array<[string | Uint8Array, boolean]> = [
      ['{"event":', false],
      ['hello', false],
      ['{"event":"muteStream","streamId":"x"}', false],
      ['{"event":"dtmf","dtmf":{"digit":["1"]}}', false],
      ['{"event":"media","media":{"payload":"!!!!"}}', false],
      ['{"event":"media","media":{"payload":12}}', false],
      ['{"event":"playedStream","name":{"x":1}}', false],
      [new Uint8Array([0xde, 0xad, 0xbe, 0xef]), true],
      ['{"event":"start","start":{"callId":"x"}}', false],
    ];
    for (const [data, binary] of garbage) a.call.sendRaw(data, { binary });
    a.call.sendDtmf('4');
    await until(() => a.ac.dtmf.length === 1, 2000, 'A still delivers DTMF');
    const delta = (k: string) => (h.gateway.stats.errors.get(k as never) ?? 0) - (before.get(k as never) ?? 0);
    expect(delta('malformed-json')).toBe(2);
    expect(delta('unknown-event')).toBe(1);
    expect(delta('binary-frame')).toBe(1);
    expect(delta('bad-media')).toBe(2);
    expect(delta('invalid-field')).toBe(3);
    expect(a.ac.ended).toBeUndefined();
    await a.call.sendAudio({ kind: 'tone', hz: 300, ms: 200 });
    await until(() => a.ac.framesIn >= 10, 2000, 'A audio after garbage');
    await expectIntactEcho(b);
    const metrics = await (await fetch(`${h.base}/metrics`)).text();
    expect(metrics).toMatch(/gateway_stream_errors_total\{kind="binary-frame"\} [1-9]/);
    await a.call.hangup();
    await b.call.hangup();
  });

  it('a message over MAX_WS_MESSAGE_BYTES closes only that stream, with 1009', async () => {
    const a = await place();
    const b = await place({ kind: 'tone', hz: 440, ms: 1500 });
    a.call.sendRaw(`{"event":"media","media":{"payload":"${'A'.repeat(8000)}"}}`);
    const end = await a.call.ended;
    expect(end.code).toBe(CLOSE_CODES.tooBig);
    expect(await a.ac.endedAt).toBe('protocol-error');
    expect(h.gateway.stats.errors.get('message-too-large')).toBeGreaterThanOrEqual(1);
    await expectIntactEcho(b);
    await b.call.hangup();
  });

  it('media before start is dropped and counted; the stream still starts', async () => {
    const before = h.gateway.stats.errors.get('media-before-start') ?? 0;
    const token = mintStreamToken(
      { callId: 'raw-call-1', direction: 'inbound', from: CALLER, to: OUR_NUMBER },
      { secret: h.config.plivo.streamTokenSecret, ttlS: 60 },
    );
    const ws = openSocket(`${h.base.replace(/^http/, 'ws')}/stream/${token}`);
    await new Promise<void>((r) => ws.on('open', () => r()));
    const payload = Buffer.alloc(160, 0xff).toString('base64');
    const mediaMsg = `{"event":"media","sequenceNumber":1,"streamId":"s","media":{"track":"inbound","timestamp":"1","chunk":1,"payload":"${payload}"}}`;
    ws.send(mediaMsg);
    ws.send('{"event":"dtmf","dtmf":{"digit":"1"}}');
    ws.send(
      JSON.stringify({
        event: 'start',
        start: {
          callId: 'raw-call-1',
          streamId: 's',
          accountId: 'MA',
          tracks: ['inbound'],
          mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000 },
        },
      }),
    );
    ws.send(mediaMsg);
    const ac = await agent.waitForCall('raw-call-1');
    await until(() => ac.framesIn === 1, 2000, 'media after start');
    expect(ac.dtmf).toEqual([]);
    expect(h.gateway.stats.errors.get('media-before-start')).toBe(before + 2);
    ws.close();
    expect(await ac.endedAt).toBe('socket-closed');
  });
});

describe('a stalled Plivo socket', () => {
  it('is paused, then closed with 4003 after the stall timeout; the other call keeps flowing', async () => {
    // Unpaced (huge lead) and a tiny limit so a paused reader fills the socket buffers quickly.
    const flood = createEchoAgent({ dtmfToneHz: undefined });
    const h2 = await startHarness(flood, {
      env: { WS_MAX_BACKPRESSURE_BYTES: '4096' },
      gateway: { leadMs: 1e9, limits: { stallTimeoutMs: 300, maxQueuedMs: 2000 } },
    });
    try {
      const a = await h2.emulator.placeInboundCall({
        answerUrl: `${h2.base}/answer`,
        from: CALLER,
        to: OUR_NUMBER,
        idleMedia: 'none',
      });
      const b = await h2.emulator.placeInboundCall({
        answerUrl: `${h2.base}/answer`,
        from: CALLER,
        to: OUR_NUMBER,
        idleMedia: 'none',
        audio: { kind: 'tone', hz: 440, ms: 1500 },
      });
      const aa = await flood.waitForCall(a.callUuid);
      const bb = await flood.waitForCall(b.callUuid);
      a.pauseReading();
      const chunk = new Int16Array(24000 * 5).map((_, i) => Math.round(3000 * Math.sin(i / 7)));
      const pump = () => {
        if (aa.ended) return;
        aa.leg.playAgentAudio(chunk);
        setTimeout(pump, 5);
      };
      pump();
      expect(await aa.endedAt).toBe('backpressure');
      const s = h2.gateway.stats;
      expect(s.backpressure.get('paused')).toBeGreaterThanOrEqual(1);
      expect(s.backpressure.get('closed')).toBe(1);
      expect(s.backpressure.get('drop-oldest')).toBeGreaterThanOrEqual(1);
      await until(() => bb.framesIn >= 75, 5000, 'B caller audio');
      await until(() => b.playedUlaw().length >= 160 * 70, 5000, 'B echoed audio');
      expect(toneRatio(b.playedPcm8k().subarray(800, 160 * 70), 8000, 440)).toBeGreaterThan(0.8);
      expect(bb.ended).toBeUndefined();
      a.resumeReading();
      const end = await a.ended;
      expect(end.code).toBe(CLOSE_CODES.backpressure);
    } finally {
      await h2.close();
    }
  });
});

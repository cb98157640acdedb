// Issue 9 item 5: capacity signals that tell the truth across replicas. Two real gateways on one redis-server sit
// behind a load balancer that sends the answer webhook to A and the stream to B, as round robin will for about half
// of all calls. A answers and opens its warm Gemini session; B takes the stream, opens its own and publishes a stream
// notice through Redis; A closes its warm session at once (not after the 30 s warm TTL). Once the stream is up there
// is exactly one Gemini session, and the active calls of the two replicas sum to 1.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAudioEngine } from '../../src/audio/engine.ts';
import type { AudioEngine } from '../../src/audio/types.ts';
import { loadConfig } from '../../src/config.ts';
import { emulatorEnv } from '../../src/demo/emulator-env.ts';
import { AUTH_ID, AUTH_TOKEN, type Plivo, type Replica, startBalancer, startReplica } from '../../src/demo/replicas.ts';
import { type GeminiLiveEmulator, startGeminiLiveEmulator } from '../../src/emulators/gemini-live/index.ts';
import { startPlivoEmulator } from '../../src/emulators/plivo/index.ts';
import { heardAll, until as untilTrue, utterance } from '../e2e/helpers.ts';
import { startTestRedis, type TestRedis } from '../helpers/redis.ts';

let redis: TestRedis;
let audio: AudioEngine;
let plivo: Plivo;
let gemini: GeminiLiveEmulator;
let a: Replica;
let b: Replica;
let balancer: Awaited<ReturnType<typeof startBalancer>>;
/** Gemini sessions whose connection is still open. */
const open = new Set<number>();

beforeAll(async () => {
  redis = await startTestRedis();
  audio = (await createAudioEngine({ backend: 'auto', execution: 'inline', poolThreads: 1 })).engine;
  plivo = await startPlivoEmulator({ authId: AUTH_ID, authToken: AUTH_TOKEN });
  gemini = await startGeminiLiveEmulator({
    port: 0,
    apiKey: 'emulator-api-key',
    speech: 'synthetic',
    scenario: {
      name: 'two-replicas',
      responseDelayMs: 20,
      turns: [
        { id: 'greeting', trigger: 'opening', text: 'Hello, Acme Shop.' },
        { id: 'answer', trigger: 'caller-speech', callerText: 'Where is my order?', text: 'It ships today.' },
      ],
    },
  });
  gemini.on('session', (s) => {
    const i = gemini.sessions.indexOf(s);
    open.add(i);
    void s.closed.then(() => open.delete(i));
  });
  let routeHttp = '';
  let routeUpgrade = '';
  balancer = await startBalancer({ http: () => routeHttp, upgrade: () => routeUpgrade });
  const shared = { redis, audio, plivo, gemini: () => gemini, prefix: `two-${Date.now()}:` };
  a = await startReplica('a', shared, { publicUrl: balancer.url });
  b = await startReplica('b', shared, { publicUrl: balancer.url });
  routeHttp = a.base;
  routeUpgrade = b.base;
}, 30_000);

afterAll(async () => {
  await balancer?.close();
  await a?.close();
  await b?.close();
  await gemini?.close();
  await plivo?.close();
  await audio?.close();
  await redis?.stop();
});

describe('a call answered on A and streamed on B', () => {
  it('has exactly one Gemini session once the stream starts, and the active calls of A and B sum to 1', async () => {
    const call = await plivo.placeInboundCall({
      answerUrl: `${balancer.url}/answer`,
      hangupUrl: `${balancer.url}/hangup`,
      from: '+14155550123',
      to: loadConfig(emulatorEnv()).plivo.phoneNumber,
      idleMedia: 'silence',
    });
    await untilTrue(() => b.manager.call(call.callUuid)?.phase === 'live', 10_000, 'the stream live on B');
    // A's warm session closes on B's notice, well inside the 30 s warm TTL.
    const noticeBy = Date.now() + 3000;
    await untilTrue(() => a.manager.call(call.callUuid) === undefined, 3000, "A's warm session closed");
    expect(Date.now()).toBeLessThan(noticeBy);
    expect(gemini.sessions).toHaveLength(2);
    await untilTrue(() => open.size === 1, 3000, 'one open Gemini session');
    expect(a.manager.warmSessions()).toBe(0);
    const active = (await a.metric('gateway_active_calls')) + (await b.metric('gateway_active_calls'));
    expect(active).toBe(1);
    expect([a.manager.activeCalls(), b.manager.activeCalls()]).toEqual([0, 1]);
    // Not a failed setup on A: the stream arrived, only elsewhere.
    expect(await a.metric('gateway_call_setup_failures_total', 'reason="no-stream"')).toBe(0);
    expect(a.events.some((x) => x.callId === call.callUuid && x.e.type === 'fatal')).toBe(false);

    // The call works on B: the greeting, then an answer to the caller.
    await untilTrue(() => call.played.length > 10, 8000, 'greeting audio from B');
    await heardAll(call);
    await call.sendAudio(utterance());
    await untilTrue(() => b.said(call.callUuid).includes('ships today'), 10_000, 'the answer on B');
    expect(open.size).toBe(1);
    await call.hangup();
    await call.completed;
    // One record, closed once, written by B (A wrote nothing after the hand-over).
    const record = await b.closedRecord(call.callUuid);
    expect(record.endReason).not.toBe('stream-elsewhere');
    expect(record.transcript.map((t) => t.text).join(' ')).toMatch(/Hello, Acme Shop.*ships today/);
    expect(call.errors).toEqual([]);
  }, 60_000);
});

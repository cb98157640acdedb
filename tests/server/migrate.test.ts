// Issue 13 item 4: calls move instead of being cut at the drain deadline. Two real gateways (uWS edge, CallManager,
// operator, Redis call store and replay guard) share one redis-server, one Plivo emulator and one Gemini Live
// emulator, all over loopback sockets. A call is live on A; A drains; at DRAIN_TIMEOUT_S - DRAIN_MIGRATE_MARGIN_S
// (here at once) A closes its Gemini session and asks Plivo to transfer the call to B's /resume/<token>; the
// emulator runs the returned <Stream>, and B resumes the same Gemini conversation from the handle.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createAudioEngine } from '../../src/audio/engine.ts';
import type { AudioEngine } from '../../src/audio/types.ts';
import { loadPromptAudio } from '../../src/calls/prompt-audio.ts';
import { loadConfig } from '../../src/config.ts';
import { emulatorEnv } from '../../src/demo/emulator-env.ts';
import { AUTH_ID, AUTH_TOKEN, type Plivo, type Replica, startReplica } from '../../src/demo/replicas.ts';
import {
  type EmulatedSession,
  type GeminiLiveEmulator,
  startGeminiLiveEmulator,
} from '../../src/emulators/gemini-live/index.ts';
import { startPlivoEmulator } from '../../src/emulators/plivo/index.ts';
import { signV3 } from '../../src/plivo/signature.ts';
import { mintStreamToken } from '../../src/plivo/stream-token.ts';
import { heardAll, until as untilTrue, utterance } from '../e2e/helpers.ts';
import { startTestRedis, type TestRedis } from '../helpers/redis.ts';
import { upgradeStatus } from '../plivo/helpers/ws.ts';

const LONG_TURN = Array.from({ length: 12 }, () => 'and then the parcel goes on to the next depot,').join(' ');

let redis: TestRedis;
let audio: AudioEngine;
let plivo: Plivo;
let gemini: GeminiLiveEmulator;
const nodes: Replica[] = [];

beforeAll(async () => {
  redis = await startTestRedis();
  audio = (await createAudioEngine({ backend: 'auto', execution: 'inline', poolThreads: 1 })).engine;
  plivo = await startPlivoEmulator({ authId: AUTH_ID, authToken: AUTH_TOKEN });
}, 20_000);

afterEach(async () => {
  for (const n of nodes.splice(0)) await n.close();
  await gemini?.close();
});

afterAll(async () => {
  await plivo?.close();
  await audio?.close();
  await redis?.stop();
});

async function startGemini(text: string, refuseResumption = false): Promise<void> {
  gemini = await startGeminiLiveEmulator({
    port: 0,
    apiKey: 'emulator-api-key',
    speech: 'synthetic',
    faults: { refuseResumption },
    scenario: {
      name: 'migrate',
      responseDelayMs: 20,
      turns: [
        { id: 'greeting', trigger: 'opening', text: 'Hello, Acme Shop.' },
        { id: 'before-move', trigger: 'caller-speech', callerText: 'Where is my order?', text },
        { id: 'after-move', trigger: 'caller-speech', callerText: 'Thanks.', text: 'You are welcome.' },
      ],
    },
  });
}

/**
 * The emulator's nth session, bounded: a call that never opens one fails here in seconds with what the emulated
 * phone saw, instead of hanging until the test's timeout.
 */
async function session(
  index: number,
  what: string,
  call: { status: string; errors: string[] },
): Promise<EmulatedSession> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(new Error(`no ${what} within 15 s (call ${call.status}, errors: ${call.errors.join('; ') || 'none'})`)),
      15_000,
    );
  });
  try {
    return await Promise.race([gemini.nextSession(index), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Replicas A and B on one Redis, and an inbound call answered and streamed on A (which moves calls to B). */
async function callOnA(tag: string) {
  const prefix = `${tag}-${Date.now()}:`;
  const shared = { redis, audio, plivo, gemini: () => gemini, prefix };
  // The margin equals the timeout: calls move as soon as the drain starts.
  const env = { DRAIN_TIMEOUT_S: '20', DRAIN_MIGRATE_MARGIN_S: '20' };
  const b = await startReplica('b', shared, { env });
  const a = await startReplica('a', shared, { env, migrateUrl: () => b.base });
  nodes.push(b, a);
  const call = await plivo.placeInboundCall({
    answerUrl: `${a.base}/answer`,
    hangupUrl: `${a.base}/hangup`,
    from: '+14155550123',
    to: loadConfig(emulatorEnv()).plivo.phoneNumber,
    idleMedia: 'silence',
  });
  return { a, b, call };
}

describe('moving calls at the drain deadline', () => {
  it('a call live on A continues on B: Gemini resumed from the handle, no new opening, no hangup, audio both ways', async () => {
    await startGemini('Let me check that for you.');
    const { a, b, call } = await callOnA('mv1');
    const first = await session(0, "A's Gemini session", call);
    await untilTrue(() => call.played.length > 10, 8000, 'greeting audio');
    await heardAll(call);
    await call.sendAudio(utterance());
    await untilTrue(() => a.said(call.callUuid).includes('Let me check'), 10_000, 'answer on A');
    await heardAll(call, 300);
    // The turn's end brings a fresh resumable handle.
    await untilTrue(() => first.handles.length >= 2, 5000, 'a handle after the turn');
    const playedOnA = call.played.length;
    const reconnectsBefore = await a.metric('gateway_gemini_reconnects_total', 'kind="resume"');

    const drained = a.gateway.drain();
    await untilTrue(() => a.ended.some((c) => c.ctx.callId === call.callUuid), 10_000, 'the call leaves A');
    const moved = await session(1, "B's Gemini session", call);
    await untilTrue(() => moved.setup !== undefined, 5000, 'setup on B');
    expect(moved.resumedFrom).toBe(first.handles.at(-1));
    expect(moved.conversationId).toBe(first.conversationId);
    await untilTrue(() => b.manager.call(call.callUuid)?.phase === 'live', 5000, 'the call live on B');
    expect(b.manager.call(call.callUuid)?.ctx.resumeHandle).toBe(moved.resumedFrom);
    await drained;
    expect(a.manager.activeCalls()).toBe(0);

    // The caller is still connected: B hears them, and the agent's answer from B reaches them.
    expect(call.status).toBe('in-progress');
    await call.sendAudio(utterance());
    await untilTrue(() => b.said(call.callUuid).includes('welcome'), 10_000, 'answer on B');
    await untilTrue(() => call.played.length > playedOnA + 5, 5000, 'agent audio from B');
    expect(moved.audioInMs).toBeGreaterThan(300);
    // No opening turn on B (no client text at all), no hangup seen by the Plivo emulator.
    const texts = moved.received.filter(
      (m) => m.msg.clientContent !== undefined || (m.msg.realtimeInput as { text?: unknown } | undefined)?.text,
    );
    expect(texts).toEqual([]);
    expect(b.events.some((x) => x.e.type === 'opening' && x.e.sent)).toBe(false);
    expect(plivo.requests.some((r) => r.method === 'DELETE')).toBe(false);
    expect(call.hangupParams).toBeUndefined();

    // A's goodbye to Gemini is not a failure: no reconnect, no fatal, no error metric.
    expect(a.events.some((x) => x.e.type === 'fatal' || x.e.type === 'reconnect')).toBe(false);
    expect(a.events.some((x) => x.e.type === 'moved')).toBe(true);
    expect(await a.metric('gateway_gemini_reconnects_total', 'kind="resume"')).toBe(reconnectsBefore);
    expect(await a.metric('gateway_drain_deadline_calls_total', 'outcome="migrated"')).toBe(1);
    expect(await a.metric('gateway_drain_deadline_calls_total', 'outcome="hung_up"')).toBe(0);
    expect((await a.gateway.metrics.metrics()).match(/^gateway_errors_total\{.*$/gm) ?? []).toEqual([]);

    // The resume URL is single-use: replaying its stream is refused while the call is up, and its XML after the end.
    const resumeToken = mintStreamToken(
      { callId: call.callUuid, direction: 'inbound', from: '+14155550123', to: '', resumeHandle: moved.resumedFrom },
      { secret: loadConfig(emulatorEnv()).plivo.streamTokenSecret, ttlS: 60 },
    );
    expect(await upgradeStatus(`${b.base.replace(/^http/, 'ws')}/stream/${resumeToken}`)).toBe(409);

    await call.hangup();
    await call.completed;
    await untilTrue(() => b.ended.some((c) => c.ctx.callId === call.callUuid), 10_000, 'the call ends on B');
    // One record for the call: A's turns then B's, closed once, with the final status.
    const record = await b.closedRecord(call.callUuid);
    const text = record.transcript.map((t) => `${t.role}:${t.text}`).join(' | ');
    expect(text).toMatch(/agent:Hello, Acme Shop.*agent:Let me check.*agent:You are welcome/);
    expect(record.endReason).not.toBe('moved');
    expect(record.reconnects).toBe(0);

    const url = `${b.base}/resume/${resumeToken}`;
    const nonce = '42';
    const late = await fetch(url, {
      headers: { 'x-plivo-signature-v3': signV3(AUTH_TOKEN, 'GET', url, nonce), 'x-plivo-signature-v3-nonce': nonce },
    });
    expect(late.status).toBe(410);
    expect(call.errors).toEqual([]);
  }, 60_000);

  it('a refused handle on B: B starts a fresh session with the conversation so far, and the call goes on', async () => {
    await startGemini('Let me check that for you.', true);
    const { a, b, call } = await callOnA('mv3');
    await untilTrue(() => call.played.length > 10, 8000, 'greeting audio');
    await heardAll(call);
    await call.sendAudio(utterance());
    await untilTrue(() => a.said(call.callUuid).includes('Let me check'), 10_000, 'answer on A');
    await heardAll(call, 300);
    void a.gateway.drain();
    await untilTrue(() => gemini.sessions.length >= 3, 10_000, 'the refused resume, then a fresh session on B');
    const fresh = gemini.sessions[2]!;
    await untilTrue(() => fresh.setup !== undefined, 5000, 'fresh setup');
    expect(gemini.sessions[1]!.resumedFrom).toBeDefined();
    expect(fresh.resumedFrom).toBeUndefined();
    // The fresh session knows the conversation so far (A's turns, taken over from the record).
    await untilTrue(() => JSON.stringify([fresh.setup, fresh.received]).includes('Let me check'), 5000, 'context');
    expect(call.status).toBe('in-progress');
    expect(await a.metric('gateway_drain_deadline_calls_total', 'outcome="migrated"')).toBe(1);
    // The caller speaks on B and the fresh session answers.
    await untilTrue(() => b.manager.call(call.callUuid)?.phase === 'live', 5000, 'the call live on B');
    await call.sendAudio(utterance());
    await untilTrue(() => b.said(call.callUuid).length > 0, 10_000, 'an answer on B');
    await call.hangup();
    await call.completed;
  }, 60_000);

  it('no resumable point at the deadline: the caller hears the technical-difficulty prompt, then the call is hung up', async () => {
    // The model is mid-way through a long turn for longer than the call may wait: no resumable handle.
    await startGemini(LONG_TURN);
    const { a, call } = await callOnA('mv2');
    await untilTrue(() => call.played.length > 10, 8000, 'greeting audio');
    await heardAll(call);
    await call.sendAudio(utterance());
    await untilTrue(() => a.said(call.callUuid).includes('parcel'), 10_000, 'the long answer starts');
    const drainedAt = performance.now();
    void a.gateway.drain();
    await call.completed;
    // The apology was played before the hang-up: the last audio the caller got is the prompt's length.
    const prompt = loadPromptAudio();
    const after = call.played.filter((p) => p.at >= drainedAt);
    const promptMs = (prompt.length / 24_000) * 1000;
    const heardMs = after.reduce((ms, p) => ms + (p.endAt - p.startAt), 0);
    expect(heardMs).toBeGreaterThan(promptMs * 0.8);
    expect(plivo.requests.some((r) => r.method === 'DELETE' && r.path.includes(call.callUuid))).toBe(true);
    // No transfer was asked for.
    expect(plivo.requests.some((r) => r.method === 'POST' && r.path.endsWith(`/Call/${call.callUuid}/`))).toBe(false);
    expect(gemini.sessions).toHaveLength(1);
    const record = await a.closedRecord(call.callUuid);
    expect(record.endReason).toBe('moved-no-handle');
    expect(record.outcome).toBe('failed');
    expect(await a.metric('gateway_drain_deadline_calls_total', 'outcome="hung_up"')).toBe(1);
    expect(await a.metric('gateway_drain_deadline_calls_total', 'outcome="migrated"')).toBe(0);
  }, 60_000);
});

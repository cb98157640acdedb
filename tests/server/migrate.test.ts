// Issue 13 item 4: calls move instead of being cut at the drain deadline. Two real gateways (uWS edge, CallManager,
// operator, Redis call store and replay guard) share one redis-server, one Plivo emulator and one Gemini Live
// emulator, all over loopback sockets. A call is live on A; A drains; at DRAIN_TIMEOUT_S - DRAIN_MIGRATE_MARGIN_S
// (here at once) A closes its Gemini session and asks Plivo to transfer the call to B's /resume/<token>; the
// emulator runs the returned <Stream>, and B resumes the same Gemini conversation from the handle.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createAudioEngine } from '../../src/audio/engine.ts';
import type { AudioEngine } from '../../src/audio/types.ts';
import type { Call } from '../../src/calls/call.ts';
import { CallManager } from '../../src/calls/call-manager.ts';
import type { CallEvent } from '../../src/calls/events.ts';
import { loadPromptAudio } from '../../src/calls/prompt-audio.ts';
import { loadConfig } from '../../src/config.ts';
import { emulatorEnv } from '../../src/demo/emulator-env.ts';
import {
  type EmulatedSession,
  type GeminiLiveEmulator,
  startGeminiLiveEmulator,
} from '../../src/emulators/gemini-live/index.ts';
import { startPlivoEmulator } from '../../src/emulators/plivo/index.ts';
import { createLiveSession } from '../../src/gemini/live-session.ts';
import { createOperator, type Operator } from '../../src/operator/index.ts';
import { createPlivoRestClient } from '../../src/plivo/rest-client.ts';
import { signV3 } from '../../src/plivo/signature.ts';
import { mintStreamToken } from '../../src/plivo/stream-token.ts';
import { type Gateway, startGateway } from '../../src/server/gateway.ts';
import { createRedisCallStore } from '../../src/store/redis.ts';
import type { CallStore } from '../../src/store/types.ts';
import { heardAll, until as untilTrue, utterance } from '../e2e/helpers.ts';
import { startTestRedis, type TestRedis } from '../helpers/redis.ts';
import { until } from '../outbound/helpers.ts';
import { openSocket } from '../plivo/helpers/ws.ts';

const AUTH_ID = 'MAEMULATOR0000000000';
const AUTH_TOKEN = 'emulator-auth-token';
const LONG_TURN = Array.from({ length: 12 }, () => 'and then the parcel goes on to the next depot,').join(' ');

type Plivo = Awaited<ReturnType<typeof startPlivoEmulator>>;

interface Node {
  name: string;
  gateway: Gateway;
  manager: CallManager;
  operator: Operator;
  store: CallStore;
  base: string;
  events: Array<{ callId: string; e: CallEvent }>;
  ended: Call[];
  metric(name: string, labels?: string): Promise<number>;
  close(): Promise<void>;
}

let redis: TestRedis;
let audio: AudioEngine;
let plivo: Plivo;
let gemini: GeminiLiveEmulator;
const nodes: Node[] = [];

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

/** One replica: what src/app.ts composes (CallManager behind the operator), on the shared Redis. */
async function startNode(name: string, prefix: string, o: { migrateUrl?: () => string } = {}): Promise<Node> {
  const env = (publicUrl: string) =>
    emulatorEnv({
      SERVER_HOST: '127.0.0.1',
      SERVER_PORT: '0',
      PUBLIC_URL: publicUrl,
      PLIVO_AUTH_ID: AUTH_ID,
      PLIVO_AUTH_TOKEN: AUTH_TOKEN,
      PLIVO_API_BASE_URL: plivo.restBaseUrl,
      STATE_STORE: 'redis',
      REDIS_URL: redis.url,
      // The margin equals the timeout: calls move as soon as the drain starts.
      DRAIN_TIMEOUT_S: '20',
      DRAIN_MIGRATE_MARGIN_S: '20',
    });
  const plivoApi = createPlivoRestClient({
    authId: AUTH_ID,
    authToken: AUTH_TOKEN,
    baseUrl: plivo.restBaseUrl,
    timeoutMs: 3000,
    maxRetries: 1,
    baseBackoffMs: 5,
  });
  const store = createRedisCallStore({ url: redis.url, ttlS: 600, prefix });
  const preConfig = loadConfig(env('http://127.0.0.1:8000'));
  const operator = createOperator({ config: preConfig, store, settleMs: 200 });
  const events: Node['events'] = [];
  const ended: Call[] = [];
  let manager: CallManager | undefined;
  const live = () => manager!;
  const router = operator.wrapRouter({
    onAnswer: (info, base) => live().onAnswer(info, base),
    attachStream: (ctx, leg, start) => live().attachStream(ctx, leg, start),
    onHangup: (info) => live().onHangup(info),
    onCallback: (kind, params) => live().onCallback(kind, params),
    migrateCalls: (urlFor) => live().migrateCalls(urlFor),
    activeCalls: () => manager?.activeCalls() ?? 0,
    close: async () => manager?.close(),
  });
  const gateway = await startGateway({
    config: preConfig,
    router,
    audio,
    plivoApi,
    publicUrl: (port) => `http://127.0.0.1:${port}`,
    defaultMetrics: false,
    routes: [operator.routes],
    migrateUrl: o.migrateUrl,
  });
  manager = new CallManager({
    config: loadConfig(env(gateway.publicUrl)),
    store,
    plivoApi,
    createSession: (cfg, opts) =>
      createLiveSession(cfg, opts, { baseUrl: gemini.baseUrl, backoffBaseMs: 20, closeWaitMs: 200 }),
    timing: { migrateWaitMs: 1500 },
    onEvent: (callId, e) => events.push({ callId, e }),
    onCallEnded: (call) => {
      operator.callEnded(call.recordId, call.ctx.callId, call.moved);
      ended.push(call);
    },
  });
  const node: Node = {
    name,
    gateway,
    manager,
    operator,
    store,
    base: gateway.publicUrl,
    events,
    ended,
    async metric(metric, labels = '') {
      const text = await gateway.metrics.metrics();
      const line = text.split('\n').find((l) => l.startsWith(`${metric}${labels ? `{${labels}}` : ''} `));
      return line === undefined ? 0 : Number(line.split(' ').at(-1));
    },
    async close() {
      await gateway.close();
      await manager?.close();
      await operator.close();
      await store.close();
    },
  };
  nodes.push(node);
  return node;
}

function upgradeStatus(url: string): Promise<number> {
  return new Promise((resolve) => {
    const ws = openSocket(url);
    ws.on('unexpected-response', (_req, res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    ws.on('open', () => {
      ws.close();
      resolve(101);
    });
    ws.on('error', () => resolve(0));
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

const said = (n: Node, callId: string) =>
  n.events
    .filter((x) => x.callId === callId && x.e.type === 'agent-text')
    .map((x) => (x.e as { text: string }).text)
    .join('');

/** Replicas A and B on one Redis, and an inbound call answered and streamed on A (which moves calls to B). */
async function callOnA(tag: string) {
  const prefix = `${tag}-${Date.now()}:`;
  const b = await startNode('b', prefix);
  const a = await startNode('a', prefix, { migrateUrl: () => b.base });
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
    await untilTrue(() => said(a, call.callUuid).includes('Let me check'), 10_000, 'answer on A');
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
    await untilTrue(() => said(b, call.callUuid).includes('welcome'), 10_000, 'answer on B');
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
    const record = await until(
      async () => {
        const r = await b.store.get(call.callUuid);
        return r?.status === 'completed' && r.endReason !== undefined ? r : undefined;
      },
      10_000,
      'the record closed',
    );
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
    await untilTrue(() => said(a, call.callUuid).includes('Let me check'), 10_000, 'answer on A');
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
    await untilTrue(() => said(b, call.callUuid).length > 0, 10_000, 'an answer on B');
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
    await untilTrue(() => said(a, call.callUuid).includes('parcel'), 10_000, 'the long answer starts');
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
    const record = await until(
      async () => {
        const r = await a.store.get(call.callUuid);
        return r?.status === 'completed' && r.endReason !== undefined ? r : undefined;
      },
      10_000,
      'the record closed',
    );
    expect(record.endReason).toBe('moved-no-handle');
    expect(record.outcome).toBe('failed');
    expect(await a.metric('gateway_drain_deadline_calls_total', 'outcome="hung_up"')).toBe(1);
    expect(await a.metric('gateway_drain_deadline_calls_total', 'outcome="migrated"')).toBe(0);
  }, 60_000);
});

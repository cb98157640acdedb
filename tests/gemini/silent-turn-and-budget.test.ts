// Silent-turn detection and the first-connect budget, against a scripted server (helpers/fake-live-server.ts) that
// sends exactly the frames each case needs, through the real SDK.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { emulatorEnv } from '../../src/demo/emulator-env.ts';
import { createLiveSession } from '../../src/gemini/live-session.ts';
import type { LiveSession } from '../../src/gemini/types.ts';
import { rootLogger } from '../../src/log.ts';
import { silentTurnCounters } from '../../src/probes/counters.ts';
import { type FakeConnection, type FakeLiveServer, startFakeLiveServer, waitFor } from './helpers/fake-live-server.ts';
import { type Recorder, recorder } from './helpers/recorder.ts';

const REPROMPT = '(Say that again, out loud.)';
let server: FakeLiveServer;
let sessions: LiveSession[] = [];

beforeEach(async () => {
  server = await startFakeLiveServer();
  sessions = [];
});

afterEach(async () => {
  await Promise.all(sessions.map((s) => s.close()));
  await server.close();
});

function open(rec: Recorder, extra: { budgetMs?: number; connectTimeoutMs?: number; events?: Recorder } = {}) {
  const config = {
    ...loadConfig(emulatorEnv()).gemini,
    ...(extra.connectTimeoutMs === undefined ? {} : { connectTimeoutMs: extra.connectTimeoutMs }),
  };
  const silent: string[] = [];
  const s = createLiveSession(
    config,
    {
      callId: 'call-silent',
      systemPrompt: 'You are a phone agent.',
      tools: [],
      events: { ...rec.handlers, onSilentTurn: (i) => silent.push(i.action) },
      logger: rootLogger(),
      transcriptForContext: () => '',
      repromptText: REPROMPT,
      silentTurnPeak: 200,
      firstConnectBudgetMs: extra.budgetMs,
    },
    { baseUrl: server.baseUrl, backoffBaseMs: 10, backoffMaxMs: 40, closeWaitMs: 200 },
  );
  sessions.push(s);
  return { s, silent };
}

const pcm = (n: number, level: number) => {
  const a = new Int16Array(n);
  for (let i = 0; i < n; i++) a[i] = i % 2 === 0 ? level : -level;
  return Buffer.from(a.buffer).toString('base64');
};
const audio = (level: number) => ({
  serverContent: {
    modelTurn: { parts: [{ inlineData: { mimeType: 'audio/pcm;rate=24000', data: pcm(480, level) } }] },
  },
});
const done = { serverContent: { turnComplete: true } };
const texts = (c: FakeConnection) =>
  c.messages.flatMap((m) =>
    m.clientContent !== undefined
      ? [(m.clientContent as { turns: { parts: { text: string }[] }[] }).turns[0]!.parts[0]!.text]
      : [],
  );

describe('silent agent turns', () => {
  it('re-prompts once on a turn with no audio, and an audible turn resets the count', async () => {
    const rec = recorder();
    const { s, silent } = open(rec);
    await s.ready();
    const c = server.connections[0]!;
    const before = silentTurnCounters.reprompted;
    c.send({ serverContent: { outputTranscription: { text: 'Hello' } } });
    c.send(done);
    await waitFor(() => texts(c).length === 1, 2000, 're-prompt');
    expect(texts(c)).toEqual([REPROMPT]);
    expect(silent).toEqual(['reprompt']);
    expect(silentTurnCounters.reprompted).toBe(before + 1);
    c.send(audio(3000));
    c.send(done);
    // A later silent turn is a new first one: re-prompted again, not given up.
    c.send(audio(50));
    c.send(done);
    await waitFor(() => texts(c).length === 2, 2000, 'second re-prompt');
    expect(silent).toEqual(['reprompt', 'reprompt']);
    expect(rec.of('fatal')).toHaveLength(0);
  });

  it('gives up (onFatal) on a second silent turn in a row; near-zero audio counts as silent', async () => {
    const rec = recorder();
    const { s, silent } = open(rec);
    await s.ready();
    const c = server.connections[0]!;
    c.send(audio(2));
    c.send(done);
    await waitFor(() => texts(c).length === 1, 2000, 're-prompt');
    c.send(audio(2));
    c.send(done);
    await waitFor(() => rec.of('fatal').length === 1, 2000, 'fatal');
    expect(silent).toEqual(['reprompt', 'give-up']);
    expect(rec.of('fatal')[0]!.error.message).toMatch(/silence twice/);
  });

  it('does not judge turns with a tool call or cut by the caller', async () => {
    const rec = recorder();
    const { s, silent } = open(rec);
    await s.ready();
    const c = server.connections[0]!;
    c.send({ toolCall: { functionCalls: [{ id: 'fc1', name: 'lookup', args: {} }] } });
    c.send(done);
    c.send(audio(3000));
    c.send({ serverContent: { interrupted: true } });
    c.send(done);
    c.send(audio(3000));
    c.send(done);
    await waitFor(() => rec.of('turnComplete').length === 3, 2000, 'turns');
    await new Promise((r) => setTimeout(r, 50));
    expect(silent).toEqual([]);
    expect(texts(c)).toEqual([]);
  });
});

describe('first-connect budget', () => {
  it('spends the budget across attempts instead of the full timeout per attempt', async () => {
    server.onSetup = () => 'never';
    const rec = recorder();
    const started = Date.now();
    // 10 s per attempt as configured; a 4 s budget gives each of the 3 attempts at least 2 s, never past 4 s.
    const { s } = open(rec, { budgetMs: 4000, connectTimeoutMs: 10_000 });
    await expect(s.ready()).rejects.toThrow(/no setupComplete within \d+ ms/);
    const took = Date.now() - started;
    expect(took).toBeLessThan(5000);
    expect(took).toBeGreaterThanOrEqual(3900);
    expect(server.connections).toHaveLength(2);
    expect(rec.of('fatal')).toHaveLength(1);
  });

  it('a text turn given before the session is ready goes out right after setupComplete', async () => {
    const rec = recorder();
    const { s } = open(rec);
    s.sendText('(Greet the caller.)');
    await s.ready();
    const c = server.connections[0]!;
    await waitFor(() => c.messages.length > 0, 2000, 'opening');
    expect(c.messages[0]).toEqual({
      clientContent: { turns: [{ role: 'user', parts: [{ text: '(Greet the caller.)' }] }], turnComplete: true },
    });
  });
});

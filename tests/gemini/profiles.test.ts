// Model profiles (src/gemini/profiles.ts) against the strict Gemini Live emulator serving each generation, through
// the real SDK: per profile, the opening turn goes the way that model accepts and gets the greeting; a fresh
// reconnect hands over the conversation the way that model accepts; and what the model rejects is really rejected
// (so the profile is what keeps the session alive, not a kind emulator).
import { afterEach, describe, expect, it } from 'vitest';
import { type Config, loadConfig } from '../../src/config.ts';
import { emulatorEnv } from '../../src/demo/emulator-env.ts';
import {
  type EmulatedSession,
  type GeminiLiveEmulator,
  type GeminiLiveEmulatorOptions,
  type Scenario,
  startGeminiLiveEmulator,
} from '../../src/emulators/gemini-live/index.ts';
import { createGenAIClient } from '../../src/gemini/client.ts';
import { createLiveSession } from '../../src/gemini/live-session.ts';
import { CONSERVATIVE_PROFILE, MODEL_PROFILES, profileForModel } from '../../src/gemini/profiles.ts';
import { buildLiveConnectConfig } from '../../src/gemini/setup.ts';
import type { LiveSession } from '../../src/gemini/types.ts';
import { rootLogger } from '../../src/log.ts';
import { waitFor } from './helpers/fake-live-server.ts';
import { type Recorder, recorder } from './helpers/recorder.ts';

const API_KEY = 'emulator-api-key';
const OPENING = '(The caller has just been connected. Greet them now.)';
const TRANSCRIPT = 'Caller: where is my order?\nAgent: let me check that for you.';

const scenario: Scenario = {
  name: 'profiles-test',
  speech: 'synthetic',
  responseDelayMs: 10,
  turns: [
    { id: 'greeting', trigger: 'opening', text: 'Hello, how can I help?' },
    { id: 'more', trigger: 'caller-speech', callerText: 'Thanks.', text: 'You are welcome.' },
  ],
};

interface Case {
  model: string;
  emulator: Partial<GeminiLiveEmulatorOptions>;
  profile: string;
  opening: 'clientContent' | 'realtimeInput.text';
  context: 'clientContent' | 'systemInstruction';
  /** Messages this generation closes with 1007 (sent raw through the SDK, never by the gateway). */
  rejects: Array<'clientContent' | 'mediaChunks'>;
}

const CASES: Case[] = [
  {
    model: 'gemini-3.8-live',
    emulator: { model: 'gemini-3.8-live' },
    profile: 'gemini-3.8-live',
    opening: 'clientContent',
    context: 'clientContent',
    rejects: ['mediaChunks'],
  },
  {
    model: 'gemini-3.1-flash-live-preview',
    emulator: { model: 'gemini-3.1-flash-live-preview' },
    profile: 'gemini-3.1-flash-live',
    opening: 'realtimeInput.text',
    context: 'systemInstruction',
    rejects: ['clientContent', 'mediaChunks'],
  },
  {
    model: 'gemini-2.5-flash-native-audio-preview-12-2025',
    emulator: { model: 'gemini-2.5-flash-native-audio-preview-12-2025' },
    profile: 'gemini-2.5-flash-native-audio',
    opening: 'clientContent',
    context: 'clientContent',
    rejects: [],
  },
  {
    // Not in the table: the gateway takes the conservative profile; the emulator serves it with its strictest one.
    model: 'gemini-9-live-experimental',
    emulator: { models: 'any' },
    profile: 'conservative',
    opening: 'realtimeInput.text',
    context: 'systemInstruction',
    rejects: ['clientContent', 'mediaChunks'],
  },
];

let emu: GeminiLiveEmulator | undefined;
let sessions: LiveSession[] = [];
const rawCloses: Array<() => void> = [];

afterEach(async () => {
  for (const c of rawCloses.splice(0)) c();
  await Promise.all(sessions.map((s) => s.close()));
  sessions = [];
  await emu?.close();
  emu = undefined;
});

async function start(c: Case, extra: Partial<GeminiLiveEmulatorOptions> = {}): Promise<GeminiLiveEmulator> {
  emu = await startGeminiLiveEmulator({
    apiKey: API_KEY,
    scenario,
    speech: 'synthetic',
    timing: { realtime: false },
    ...c.emulator,
    ...extra,
  });
  return emu;
}

function gemini(model: string): Config['gemini'] {
  return { ...loadConfig(emulatorEnv({ GEMINI_API_KEY: API_KEY, GEMINI_MODEL: model })).gemini };
}

function open(c: Case, rec: Recorder): LiveSession {
  const s = createLiveSession(
    gemini(c.model),
    {
      callId: 'call-profile',
      systemPrompt: 'You are a helpful phone agent.',
      tools: [],
      events: rec.handlers,
      logger: rootLogger(),
      transcriptForContext: () => TRANSCRIPT,
      repromptText: '(Say that again, out loud.)',
    },
    { baseUrl: emu!.baseUrl, backoffBaseMs: 10, backoffMaxMs: 40, closeWaitMs: 200, stableConnectionMs: 0 },
  );
  sessions.push(s);
  return s;
}

function received(s: EmulatedSession): Record<string, unknown>[] {
  return s.received.map((r) => r.msg).filter((m) => m.setup === undefined);
}

function textOf(msg: Record<string, unknown>): string | undefined {
  const cc = msg.clientContent as { turns?: { parts?: { text?: string }[] }[] } | undefined;
  if (cc !== undefined)
    return cc.turns
      ?.flatMap((t) => t.parts ?? [])
      .map((p) => p.text ?? '')
      .join('');
  return (msg.realtimeInput as { text?: string } | undefined)?.text;
}

async function greeted(rec: Recorder): Promise<void> {
  await waitFor(() => rec.of('audio').length > 0 && rec.of('turnComplete').length > 0, 5000, 'greeting');
}

describe('the profile table', () => {
  it('maps model ids to profiles; an unknown id gets the conservative one', () => {
    for (const c of CASES) expect(profileForModel(c.model).profile.name).toBe(c.profile);
    expect(profileForModel('models/gemini-3.8-live').known).toBe(true);
    expect(profileForModel('gemini-9-live-experimental')).toEqual({ profile: CONSERVATIVE_PROFILE, known: false });
  });

  it('the setup we build never carries a field any profile rejects', () => {
    const setup = JSON.stringify(
      buildLiveConnectConfig(gemini('gemini-3.8-live'), {
        systemPrompt: 'x',
        tools: [{ name: 't', description: 'd', parameters: { type: 'object', properties: {} } }],
      }),
    );
    for (const field of ['mediaChunks', 'enableAffectiveDialog', 'proactivity', 'behavior', 'historyConfig']) {
      expect(setup).not.toContain(field);
    }
    expect(MODEL_PROFILES.length).toBeGreaterThanOrEqual(3);
  });
});

describe.each(CASES)('$model (profile $profile)', (c) => {
  it(`sends the opening turn as ${c.opening} and gets the greeting`, async () => {
    await start(c);
    const rec = recorder();
    const s = open(c, rec);
    s.sendText(OPENING); // before ready: kept and sent on connect
    await greeted(rec);
    const session = emu!.sessions[0]!;
    const msgs = received(session);
    const first = msgs.find((m) => textOf(m) !== undefined)!;
    expect(textOf(first)).toBe(OPENING);
    if (c.opening === 'clientContent') {
      expect(first.clientContent).toMatchObject({ turnComplete: true });
    } else {
      expect(first.realtimeInput).toEqual({ text: OPENING });
      expect(msgs.some((m) => m.clientContent !== undefined)).toBe(false);
    }
    expect(session.turns[0]).toBe('greeting');
    expect(rec.of('fatal')).toHaveLength(0);
    expect(s.state).toBe('ready');
  });

  it(`hands the conversation to a fresh session through ${c.context} and stays up`, async () => {
    await start(c, { faults: { refuseResumption: true } });
    const rec = recorder();
    const s = open(c, rec);
    s.sendText(OPENING);
    await greeted(rec);
    emu!.sessions[0]!.drop();
    await waitFor(() => rec.of('reconnect').length > 0, 5000, 'fresh reconnect');
    expect(rec.of('reconnect')[0]).toMatchObject({ kind: 'fresh' });
    const fresh = emu!.sessions.at(-1)!;
    await waitFor(() => fresh.setup !== undefined, 2000, 'fresh setup');
    const instruction = JSON.stringify(fresh.setup);
    if (c.context === 'clientContent') {
      await waitFor(() => received(fresh).some((m) => m.clientContent !== undefined), 2000, 'context turn');
      const ctx = received(fresh).find((m) => m.clientContent !== undefined)!;
      expect(ctx.clientContent).toMatchObject({ turnComplete: false });
      expect(textOf(ctx)).toContain('let me check that for you');
      expect(instruction).not.toContain('let me check that for you');
    } else {
      expect(instruction).toContain('Conversation so far');
      expect(instruction).toContain('let me check that for you');
    }
    // Nothing the model refuses was sent: the fresh connection is still open a moment later.
    await new Promise((r) => setTimeout(r, 200));
    expect(s.state).toBe('ready');
    expect(rec.of('fatal')).toHaveLength(0);
    expect(received(fresh).some((m) => textOf(m)?.includes('Greet them now'))).toBe(false);
  });

  it(`the model closes 1007 on what its profile avoids (${c.rejects.join(', ') || 'nothing of ours'})`, async () => {
    await start(c);
    const client = createGenAIClient(gemini(c.model), { baseUrl: emu!.baseUrl });
    const probes: Array<'clientContent' | 'mediaChunks'> = ['clientContent', 'mediaChunks'];
    for (const probe of probes) {
      let closed: number | undefined;
      const session = await client.live.connect({
        model: c.model,
        config: { responseModalities: ['AUDIO' as never] },
        callbacks: {
          onmessage: () => {},
          onclose: (e: { code: number }) => {
            closed = e.code;
          },
        },
      });
      rawCloses.push(() => session.close());
      // The opening first (accepted everywhere), so a clientContent after it is mid-session, not initial history.
      session.sendRealtimeInput({ text: OPENING });
      await new Promise((r) => setTimeout(r, 150));
      if (probe === 'clientContent') {
        session.sendClientContent({ turns: [{ role: 'user', parts: [{ text: 'More.' }] }], turnComplete: true });
      } else {
        session.sendRealtimeInput({
          media: { data: Buffer.alloc(640).toString('base64'), mimeType: 'audio/pcm;rate=16000' },
        });
      }
      await new Promise((r) => setTimeout(r, 300));
      if (c.rejects.includes(probe)) expect(closed, probe).toBe(1007);
      else expect(closed, probe).toBeUndefined();
    }
  });
});

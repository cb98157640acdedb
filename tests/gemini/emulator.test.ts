// The session against the Gemini Live emulator (src/emulators/gemini-live), through the real SDK.
import { afterEach, describe, expect, it } from 'vitest';
import { type Config, loadConfig } from '../../src/config.ts';
import { emulatorEnv } from '../../src/demo/emulator-env.ts';
import {
  type GeminiLiveEmulator,
  type GeminiLiveEmulatorOptions,
  type Scenario,
  startGeminiLiveEmulator,
} from '../../src/emulators/gemini-live/index.ts';
import { createLiveSession, type LiveSessionTuning } from '../../src/gemini/live-session.ts';
import type { LiveSession, ToolDeclaration } from '../../src/gemini/types.ts';
import { rootLogger } from '../../src/log.ts';
import { waitFor } from './helpers/fake-live-server.ts';
import { type Recorder, recorder } from './helpers/recorder.ts';

const API_KEY = 'emulator-api-key';
/** The gateway starts the conversation: the emulator, like the real models, never speaks first. */
const OPENING = 'Hello, I am calling for help.';

const tools: ToolDeclaration[] = [
  {
    name: 'check_order_status',
    description: 'Look up an order',
    parameters: { type: 'object', properties: { order_id: { type: 'string' } }, required: ['order_id'] },
  },
];

const scenario: Scenario = {
  name: 'gemini-session-test',
  speech: 'synthetic',
  responseDelayMs: 20,
  turns: [
    { id: 'greeting', trigger: 'opening', text: 'Hello, how can I help?' },
    {
      id: 'lookup',
      trigger: 'caller-speech',
      callerText: 'Where is my order?',
      text: 'Let me check.',
      toolCalls: [{ name: 'check_order_status', args: { order_id: 'A42' } }],
    },
    { id: 'result', trigger: 'tool-response', text: 'It is {{check_order_status.status}}.' },
    { id: 'more', trigger: 'caller-speech', callerText: 'Thanks.', text: 'You are welcome.' },
  ],
};

let emu: GeminiLiveEmulator | undefined;
let sessions: LiveSession[] = [];

afterEach(async () => {
  await Promise.all(sessions.map((s) => s.close()));
  sessions = [];
  await emu?.close();
  emu = undefined;
});

async function start(opts: Partial<GeminiLiveEmulatorOptions> = {}): Promise<GeminiLiveEmulator> {
  emu = await startGeminiLiveEmulator({
    apiKey: API_KEY,
    scenario,
    speech: 'synthetic',
    timing: { realtime: false },
    vad: { minSpeechMs: 60, endSilenceMs: 200 },
    ...opts,
  });
  return emu;
}

function gemini(overrides: Partial<Config['gemini']> = {}): Config['gemini'] {
  return { ...loadConfig(emulatorEnv({ GEMINI_API_KEY: API_KEY })).gemini, ...overrides };
}

function open(rec: Recorder, transcript = () => '', tuning: LiveSessionTuning = {}): LiveSession {
  const s = createLiveSession(
    gemini(),
    {
      callId: 'call-emu',
      systemPrompt: 'You are a helpful phone agent.',
      tools,
      events: rec.handlers,
      logger: rootLogger(),
      transcriptForContext: transcript,
    },
    { baseUrl: emu!.baseUrl, backoffBaseMs: 10, backoffMaxMs: 40, closeWaitMs: 500, ...tuning },
  );
  sessions.push(s);
  return s;
}

/** A caller utterance: a voiced-like burst, then silence long enough to end the turn. */
function speak(s: LiveSession, speechMs = 300, silenceMs = 400): void {
  const rate = 16_000;
  const n = (rate * speechMs) / 1000;
  const total = n + (rate * silenceMs) / 1000;
  const frame = new Int16Array(320);
  for (let off = 0; off < total; off += 320) {
    for (let i = 0; i < 320; i++) {
      const k = off + i;
      const t = k / rate;
      frame[i] =
        k < n ? Math.round(8000 * (Math.sin(2 * Math.PI * 220 * t) + 0.5 * Math.sin(2 * Math.PI * 660 * t))) : 0;
    }
    s.sendAudio(frame);
  }
}

const outputText = (rec: Recorder) =>
  rec
    .of('output')
    .map((e) => e.text)
    .join('');

describe('against the Gemini Live emulator', () => {
  it('the agent stays silent until the gateway sends the opening turn, or the caller speaks', async () => {
    await start();
    const rec = recorder();
    const s = open(rec);
    await s.ready();
    await new Promise((r) => setTimeout(r, 300));
    expect(rec.of('audio')).toHaveLength(0);
    speak(s);
    await waitFor(() => rec.of('turnComplete').length === 1, 5000, 'greeting after caller speech');
    expect(outputText(rec)).toContain('Hello, how can I help?');
    expect(emu!.sessions[0]!.turns).toEqual(['greeting']);
  });

  it('sends the opening the way each model generation takes it', async () => {
    for (const model of ['gemini-3.8-live', 'gemini-3.1-flash-live-preview']) {
      await start();
      const rec = recorder();
      const s = createLiveSession(
        gemini({ model }),
        {
          callId: 'call-emu',
          systemPrompt: 'You are a helpful phone agent.',
          tools,
          events: rec.handlers,
          logger: rootLogger(),
          transcriptForContext: () => '',
        },
        { baseUrl: emu!.baseUrl },
      );
      sessions.push(s);
      await s.ready();
      s.sendText(OPENING);
      await waitFor(() => rec.of('turnComplete').length === 1, 5000, `greeting on ${model}`);
      expect({ model, text: outputText(rec) }).toEqual({ model, text: 'Hello, how can I help?' });
      expect(rec.of('fatal')).toHaveLength(0);
      await s.close();
      sessions = [];
      await emu!.close();
    }
  });

  it('runs a conversation: greeting, caller speech, tool call and response, transcripts, usage', async () => {
    await start();
    const rec = recorder();
    const s = open(rec);
    await s.ready();
    s.sendText(OPENING);
    await waitFor(() => rec.of('turnComplete').length === 1, 5000, 'greeting');
    expect(rec.of('audio').length).toBeGreaterThan(0);
    expect(outputText(rec)).toContain('Hello, how can I help?');

    const setup = emu!.sessions[0]!.setup as Record<string, unknown>;
    expect(setup.model).toBe('models/gemini-2.5-flash-native-audio-preview-12-2025');
    expect(setup.sessionResumption).toEqual({});
    expect(setup.inputAudioTranscription).toEqual({});
    expect(setup.outputAudioTranscription).toEqual({});

    speak(s);
    await waitFor(() => rec.of('toolCall').length === 1, 5000, 'tool call');
    expect(
      rec
        .of('input')
        .map((e) => e.text)
        .join(''),
    ).toContain('Where is my order?');
    const call = rec.of('toolCall')[0]!.calls[0]!;
    expect(call).toMatchObject({ name: 'check_order_status', args: { order_id: 'A42' } });
    s.sendToolResponses([{ id: call.id, name: call.name, response: { status: 'shipped' } }]);
    await waitFor(() => outputText(rec).includes('It is shipped.'), 5000, 'tool result turn');
    await waitFor(() => rec.of('usage').length > 0, 5000, 'usage');
    expect(emu!.sessions[0]!.toolResponses).toEqual([
      { id: call.id, name: 'check_order_status', response: { status: 'shipped' } },
    ]);
    // 700 ms sent in 40 ms chunks: the last 20 ms wait for the next frame.
    expect(emu!.sessions[0]!.audioInMs).toBe(680);
    expect(rec.of('fatal')).toHaveLength(0);
  });

  it('also reads server JSON sent in text frames', async () => {
    await start({ serverFrames: 'text' });
    const rec = recorder();
    const s = open(rec);
    await s.ready();
    s.sendText(OPENING);
    await waitFor(() => rec.of('turnComplete').length === 1, 5000, 'greeting');
    expect(outputText(rec)).toContain('Hello, how can I help?');
  });

  it('forwards a barge-in as interrupted', async () => {
    await start({ timing: { realtime: true } });
    const rec = recorder();
    const s = open(rec);
    await s.ready();
    s.sendText(OPENING);
    await waitFor(() => rec.of('audio').length > 0, 5000, 'greeting audio');
    emu!.sessions[0]!.interrupt();
    await waitFor(() => rec.of('interrupted').length === 1, 5000, 'interrupted');
  });

  it('on goAway, resumes the same conversation with the latest handle and keeps the caller audio', async () => {
    await start();
    const rec = recorder();
    const s = open(rec);
    await s.ready();
    s.sendText(OPENING);
    await waitFor(() => rec.of('turnComplete').length === 1, 5000, 'greeting');
    const s0 = emu!.sessions[0]!;
    await waitFor(() => s0.handles.length > 0, 5000, 'a handle');
    s0.goAway(5000);
    await waitFor(() => rec.of('reconnect').length === 1, 5000, 'reconnect');
    expect(rec.of('reconnect')[0]).toEqual({ type: 'reconnect', kind: 'resume', reason: 'goaway', attempt: 1 });
    const s1 = emu!.sessions[1]!;
    expect(s1.resumedFrom).toBe(s0.handles.at(-1));
    expect(s1.conversationId).toBe(s0.conversationId);
    // The emulator refuses (1011) a resume while the old socket is open: this one went through, so it was closed.
    expect((await s0.closed).code).toBe(1000);
    speak(s);
    await waitFor(() => rec.of('toolCall').length === 1, 5000, 'tool call on the resumed connection');
    expect(s1.audioInMs).toBeGreaterThanOrEqual(600);
    expect(s.stats()).toMatchObject({ reconnects: 1, resumed: 1, fresh: 0 });
  });

  it('after an abrupt drop, resumes and the conversation goes on', async () => {
    await start();
    const rec = recorder();
    const s = open(rec);
    await s.ready();
    s.sendText(OPENING);
    await waitFor(() => rec.of('turnComplete').length === 1, 5000, 'greeting');
    await waitFor(() => emu!.sessions[0]!.handles.length > 0, 5000, 'a handle');
    emu!.sessions[0]!.drop();
    await waitFor(() => rec.of('reconnect').length === 1, 5000, 'reconnect');
    expect(rec.of('reconnect')[0]).toMatchObject({ kind: 'resume', reason: 'closed:1006' });
    expect(emu!.sessions[1]!.resumedFrom).toBe(emu!.sessions[0]!.handles.at(-1));
  });

  it('when resumption is refused, starts fresh and re-seeds the transcript', async () => {
    await start({ faults: { refuseResumption: true } });
    const rec = recorder();
    const s = open(rec, () => 'Agent: Hello, how can I help?\nCaller: Where is my order?');
    await s.ready();
    s.sendText(OPENING);
    await waitFor(() => rec.of('turnComplete').length === 1, 5000, 'greeting');
    await waitFor(() => emu!.sessions[0]!.handles.length > 0, 5000, 'a handle');
    emu!.sessions[0]!.drop(1011);
    await waitFor(() => rec.of('reconnect').length === 1, 5000, 'reconnect');
    expect(rec.of('reconnect')[0]).toMatchObject({ kind: 'fresh', reason: 'closed:1011', attempt: 2 });
    expect((await emu!.sessions[1]!.closed).code).toBe(1007);
    const fresh = emu!.sessions[2]!;
    expect(fresh.resumedFrom).toBeUndefined();
    await waitFor(() => fresh.received.some((r) => 'clientContent' in r.msg), 5000, 'context');
    const ctx = fresh.received.find((r) => 'clientContent' in r.msg)!.msg.clientContent as {
      turns: { parts: { text: string }[] }[];
      turnComplete: boolean;
    };
    expect(ctx.turnComplete).toBe(false);
    expect(ctx.turns[0]!.parts[0]!.text).toContain('Caller: Where is my order?');
    expect(s.state).toBe('ready');
  });

  it('with holdAudioDuringToolCalls, keeps a service that aborts on audio during a tool call happy', async () => {
    await start({ faults: { abortOnAudioDuringToolCall: true } });
    const rec = recorder();
    const s = open(rec, () => '', { holdAudioDuringToolCalls: true });
    await s.ready();
    s.sendText(OPENING);
    await waitFor(() => rec.of('turnComplete').length === 1, 5000, 'greeting');
    speak(s);
    await waitFor(() => rec.of('toolCall').length === 1, 5000, 'tool call');
    speak(s, 0, 200); // the line keeps carrying audio while the tool runs
    const call = rec.of('toolCall')[0]!.calls[0]!;
    s.sendToolResponses([{ id: call.id, name: call.name, response: { status: 'shipped' } }]);
    await waitFor(() => outputText(rec).includes('It is shipped.'), 5000, 'tool result turn');
    expect(emu!.sessions).toHaveLength(1);
    expect(rec.of('reconnect')).toHaveLength(0);
  });

  it('without it, such an abort costs a reconnect and the pending call is reported cancelled', async () => {
    await start({ faults: { abortOnAudioDuringToolCall: true } });
    const rec = recorder();
    const s = open(rec);
    await s.ready();
    s.sendText(OPENING);
    await waitFor(() => rec.of('turnComplete').length === 1, 5000, 'greeting');
    speak(s);
    await waitFor(() => rec.of('toolCall').length === 1, 5000, 'tool call');
    speak(s, 0, 200);
    await waitFor(() => rec.of('reconnect').length === 1, 5000, 'reconnect');
    expect((await emu!.sessions[0]!.closed).code).toBe(1008);
    expect(rec.of('toolCancel')[0]?.ids).toEqual([rec.of('toolCall')[0]!.calls[0]!.id]);
    expect(rec.of('reconnect')[0]).toMatchObject({ kind: 'resume', reason: 'closed:1008' });
  });

  it('when the service is gone, gives up after bounded attempts with onFatal', async () => {
    await start();
    const rec = recorder();
    const s = open(rec, () => 'x', { maxFreshAttempts: 2 });
    await s.ready();
    await waitFor(() => emu!.sessions[0]!.handles.length > 0, 5000, 'a handle');
    await emu!.close();
    await waitFor(() => rec.of('fatal').length === 1, 5000, 'fatal');
    expect(s.state).toBe('closed');
    expect(rec.of('reconnect')).toHaveLength(0);
  });

  it('rejects ready() and reports fatal when the API key is wrong (no retry loop)', async () => {
    await start({ apiKey: 'another-key' });
    const rec = recorder();
    const s = open(rec);
    await expect(s.ready()).rejects.toThrow(/1007|1008/);
    expect(emu!.sessions).toHaveLength(1);
    expect(rec.of('fatal')).toHaveLength(1);
  });
});

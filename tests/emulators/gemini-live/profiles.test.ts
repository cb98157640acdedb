// Model profiles and the opening: the emulator never speaks first, each generation takes its opening and its
// reconnect context the way the real one does, and rejects what the real one rejects.
import { afterEach, describe, expect, it } from 'vitest';
import {
  type GeminiLiveEmulator,
  type GeminiLiveEmulatorOptions,
  startGeminiLiveEmulator,
} from '../../../src/emulators/gemini-live/index.ts';
import { callerUtterance, delay, phoneConfig, SdkClient } from './helpers.ts';
import { liveUrl, rawConnect, SETUP } from './raw-ws.ts';

const INVALID = { code: 1007, reason: 'Request contains an invalid argument.' };
const NOT_SUPPORTED = { code: 1008, reason: 'Operation is not implemented, or supported, or enabled.' };
const V25 = 'gemini-2.5-flash-native-audio-preview-12-2025';
const V31 = 'gemini-3.1-flash-live-preview';
const V38 = 'gemini-3.8-live';

let emu: GeminiLiveEmulator | undefined;
const clients: SdkClient[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.session.close();
  await emu?.close();
  emu = undefined;
});

const start = async (extra: Partial<GeminiLiveEmulatorOptions> = {}) => {
  emu = await startGeminiLiveEmulator({
    scenario: 'scenarios/test-tools.json',
    timing: { realtime: false },
    speech: 'synthetic',
    ...extra,
  });
  return emu;
};

async function connect(model: string, extra: Parameters<typeof phoneConfig>[0] = {}): Promise<SdkClient> {
  const c = await SdkClient.connect(emu!.baseUrl, phoneConfig(extra), { model });
  clients.push(c);
  return c;
}

async function refused(model: string, extra: Parameters<typeof phoneConfig>[0] = {}): Promise<string> {
  const err = await SdkClient.connect(emu!.baseUrl, phoneConfig(extra), { model }).catch((e: Error) => e);
  return String(err);
}

function b64(pcm: Int16Array): string {
  return Buffer.from(pcm.buffer, pcm.byteOffset, pcm.byteLength).toString('base64');
}

describe('the opening', () => {
  it('never speaks before the client: silence until a clientContent turn, then the opening', async () => {
    await start();
    const c = await connect(V25);
    await delay(400);
    expect(c.messages.some((m) => m.serverContent?.modelTurn)).toBe(false);
    expect(emu!.sessions[0]!.turns).toEqual([]);
    c.opening();
    const end = await c.waitTurnComplete();
    expect(c.outputText(0, end)).toBe('Hi there.');
    expect(emu!.sessions[0]!.turns).toEqual(['greeting']);
  });

  it('caller speech starts the opening too (outbound: the callee says "Hello?")', async () => {
    await start({ scenario: 'scenarios/outbound-reminder.json' });
    const c = await connect(V25);
    c.speak(400, 800);
    const end = await c.waitTurnComplete();
    expect(c.inputText(0, end)).toBe('Hello?');
    expect(c.outputText(0, end)).toMatch(/^Hi, this is Ava from Acme Shop calling about your order ORD-1001\./);
    expect(c.outputText(0, end)).not.toMatch(/thank you for calling/i);
    // The rest of the outbound script: the callee agrees, the agent looks the order up.
    c.speak(400, 800);
    const call = await c.waitFor((m) => m.toolCall !== undefined, end);
    expect(call.toolCall!.functionCalls![0]).toMatchObject({ name: 'check_order_status' });
  });

  it('a text turn that is not complete (history) does not start it', async () => {
    await start();
    const c = await connect(V25);
    c.session.sendClientContent({ turns: [{ role: 'user', parts: [{ text: 'Some history.' }] }], turnComplete: false });
    await delay(300);
    expect(c.messages.some((m) => m.serverContent?.modelTurn)).toBe(false);
    c.opening('Hello?', 'realtime-text');
    await c.waitTurnComplete();
    expect(emu!.sessions[0]!.turns).toEqual(['greeting']);
  });
});

describe('gemini-2.5-flash-native-audio', () => {
  it('takes clientContent all session and the legacy mediaChunks; the -latest alias is served', async () => {
    await start();
    const c = await connect('gemini-2.5-flash-native-audio-latest');
    c.opening();
    const g = await c.waitTurnComplete();
    // Reconnect-style context mid-session is fine on 2.5.
    c.session.sendClientContent({ turns: [{ role: 'user', parts: [{ text: 'Context.' }] }], turnComplete: false });
    // `media` is the SDK's name for the deprecated mediaChunks.
    c.session.sendRealtimeInput({ media: { data: b64(callerUtterance(400, 800)), mimeType: 'audio/pcm;rate=16000' } });
    await c.waitFor((m) => m.toolCall !== undefined, g);
    expect(emu!.sessions[0]!.received.some((r) => 'mediaChunks' in ((r.msg.realtimeInput ?? {}) as object))).toBe(true);
  });
});

describe('gemini-3.8-live', () => {
  it('opening and mid-session context by clientContent; mediaChunks → 1007', async () => {
    await start();
    const c = await connect(V38);
    c.opening();
    const g = await c.waitTurnComplete();
    c.session.sendClientContent({ turns: [{ role: 'user', parts: [{ text: 'Context.' }] }], turnComplete: false });
    c.speak();
    const call = await c.waitFor((m) => m.toolCall !== undefined, g);
    expect(call.toolCall!.functionCalls).toHaveLength(2);
    c.session.sendRealtimeInput({ media: { data: b64(callerUtterance(100, 0)), mimeType: 'audio/pcm;rate=16000' } });
    expect(await c.closed).toEqual(INVALID);
  });

  it('the extended-thinking variant is served; removed features are refused at setup', async () => {
    await start();
    const ok = await connect('gemini-3.8-live-extended-thinking');
    expect(ok.messages[0]?.setupComplete).toBeDefined();
    expect(await refused(V38, { enableAffectiveDialog: true })).toMatch(/code 1007\): Request contains an invalid/);
    expect(await refused(V38, { proactivity: { proactiveAudio: false } })).toMatch(/code 1007\)/);
  });

  it('tools are NON_BLOCKING by default: caller audio during a call does not abort; BLOCKING ones do', async () => {
    await start({ faults: { abortOnAudioDuringToolCall: true } });
    const c = await connect(V38);
    c.opening();
    const g = await c.waitTurnComplete();
    c.speak();
    await c.waitFor((m) => m.toolCall !== undefined, g);
    c.speak(20, 0);
    expect(await Promise.race([c.closed, delay(200).then(() => 'open')])).toBe('open');

    const blocking = structuredClone(phoneConfig().tools) as unknown as Array<{
      functionDeclarations: Array<Record<string, unknown>>;
    }>;
    for (const d of blocking[0]!.functionDeclarations) d.behavior = 'BLOCKING';
    const b = await connect(V38, { tools: blocking as never });
    b.opening();
    const g2 = await b.waitTurnComplete();
    b.speak();
    await b.waitFor((m) => m.toolCall !== undefined, g2);
    b.speak(20, 0);
    expect(await b.closed).toEqual({ code: 1008, reason: 'The operation was aborted.' });
  });
});

describe('gemini-3.1-flash-live-preview', () => {
  it('opening by realtimeInput.text; clientContent → 1007 without historyConfig (which the JS SDK cannot send)', async () => {
    await start();
    const c = await connect(V31);
    c.opening('Hello, I am calling for help.', 'realtime-text');
    const g = await c.waitTurnComplete();
    expect(c.outputText(0, g)).toBe('Hi there.');
    // Multi-part events on 3.x: transcript bundled with the audio.
    expect(c.messages.some((m) => m.serverContent?.modelTurn && m.serverContent.outputTranscription)).toBe(true);
    c.opening('More context.', 'client-content');
    expect(await c.closed).toEqual(INVALID);

    const early = await connect(V31);
    early.opening();
    expect(await early.closed).toEqual(INVALID);
  });

  it('reconnect context by realtimeInput.text continues the script', async () => {
    await start({ scenario: 'scenarios/test-resume-refused.json' });
    const c = await connect(V31);
    c.opening(
      'The call was reconnected. Conversation so far:\nAgent: Welcome to Acme Shop, how can I help?\n' +
        'Caller: I want to cancel my order.',
      'realtime-text',
    );
    const end = await c.waitTurnComplete();
    expect(c.outputText(0, end)).toBe('I can help you cancel your order. Which order is it?');
  });

  it('initial history by clientContent with historyConfig, right after setup only; no NON_BLOCKING tools', async () => {
    await start();
    const conn = rawConnect(liveUrl(emu!.baseUrl));
    await conn.opened;
    conn.ws.send(
      JSON.stringify({
        setup: {
          model: `models/${V31}`,
          generationConfig: { responseModalities: ['AUDIO'] },
          historyConfig: { initialHistoryInClientContent: true },
          outputAudioTranscription: {},
        },
      }),
    );
    await conn.next((m) => 'setupComplete' in m);
    const history = {
      clientContent: {
        turns: [
          { role: 'user', parts: [{ text: 'Hi.' }] },
          { role: 'model', parts: [{ text: 'Hello.' }] },
        ],
        turnComplete: true,
      },
    };
    conn.ws.send(JSON.stringify(history));
    await delay(200);
    // History never starts a generation.
    expect(conn.frames.some((f) => 'serverContent' in f.json)).toBe(false);
    conn.ws.send(JSON.stringify({ realtimeInput: { text: 'Hello, I am calling for help.' } }));
    await conn.next((m) => (m.serverContent as { turnComplete?: boolean } | undefined)?.turnComplete === true);
    conn.ws.send(JSON.stringify(history));
    expect(await conn.closed).toEqual(INVALID);

    const nonBlocking = structuredClone(phoneConfig().tools) as unknown as Array<{
      functionDeclarations: Array<Record<string, unknown>>;
    }>;
    nonBlocking[0]!.functionDeclarations[0]!.behavior = 'NON_BLOCKING';
    expect(await refused(V31, { tools: nonBlocking as never })).toMatch(/code 1007\)/);
    expect(await refused(V31, { proactivity: { proactiveAudio: true } })).toMatch(/code 1007\)/);
    expect(await refused(V31, { enableAffectiveDialog: true })).toMatch(/code 1007\)/);
  });
});

describe('models and setup fields', () => {
  it('an unknown model → 1008 "Operation is not implemented…"; --model serves one model only', async () => {
    await start();
    expect(await refused('gemini-9-ultra')).toContain(`code 1008): ${NOT_SUPPORTED.reason}`);
    await emu!.close();
    await start({ model: V38 });
    expect(await refused(V25)).toContain('code 1008)');
    const c = await connect(V38);
    expect(emu!.sessions.at(-1)!.setup?.model).toBe(`models/${V38}`);
    c.opening();
    await c.waitTurnComplete();
  });

  it("models: 'any' gives an unknown id the strictest profile (3.1's)", async () => {
    await start({ models: 'any' });
    const c = await connect('gemini-next-live');
    c.opening();
    expect(await c.closed).toEqual(INVALID);
  });

  it('unknown setup or generationConfig fields, and a voice in the wrong case → 1007', async () => {
    await start();
    expect(
      await refused(V25, { speechConfig: { voiceConfig: { prebuiltVoiceConfig: { voiceName: 'kore' } } } }),
    ).toMatch(/code 1007\): Request contains an invalid argument\./);
    for (const setup of [
      { model: `models/${V25}`, notAField: {} },
      { model: `models/${V25}`, generationConfig: { responseSchema: {} } },
      { model: `models/${V25}`, historyConfig: { initialHistoryInClientContent: 'yes' } },
    ]) {
      const conn = rawConnect(liveUrl(emu!.baseUrl));
      await conn.opened;
      conn.ws.send(JSON.stringify({ setup }));
      expect({ setup, closed: await conn.closed }).toEqual({ setup, closed: INVALID });
    }
    // Every documented voice works, in its own case.
    const ok = await connect(V25, {
      speechConfig: { voiceConfig: { prebuiltVoiceConfig: { voiceName: 'Zubenelgenubi' } } },
    });
    expect(ok.messages[0]?.setupComplete).toBeDefined();
  });

  it('unknown fields in realtimeInput, clientContent or toolResponse scheduling → 1007', async () => {
    await start();
    const cases: unknown[] = [
      { realtimeInput: { audoi: {} } },
      { clientContent: { turns: [], extra: true } },
      { clientContent: { turns: [{ role: 'system', parts: [{ text: 'x' }] }] } },
    ];
    for (const msg of cases) {
      const conn = rawConnect(liveUrl(emu!.baseUrl));
      await conn.opened;
      conn.ws.send(JSON.stringify(SETUP));
      await conn.next((m) => 'setupComplete' in m);
      conn.ws.send(JSON.stringify(msg));
      expect({ msg, closed: await conn.closed }).toEqual({ msg, closed: INVALID });
    }
    const c = await connect(V25);
    c.opening();
    const g = await c.waitTurnComplete();
    c.speak();
    const call = await c.waitFor((m) => m.toolCall !== undefined, g);
    const id = call.toolCall!.functionCalls![0]!.id!;
    c.session.sendToolResponse({
      functionResponses: [{ id, name: 'check_order_status', response: {}, scheduling: 'LATER' as never }],
    });
    expect(await c.closed).toEqual(INVALID);
  });
});

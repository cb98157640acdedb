// Bad client input gets the real service's close codes, and only the offending connection suffers.
import { afterEach, describe, expect, it } from 'vitest';
import { type GeminiLiveEmulator, startGeminiLiveEmulator } from '../../../src/emulators/gemini-live/index.ts';
import { API_KEY, delay, phoneConfig, SdkClient } from './helpers.ts';
import { liveUrl, rawConnect, SETUP } from './raw-ws.ts';

let emu: GeminiLiveEmulator | undefined;
const clients: SdkClient[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.session.close();
  await emu?.close();
  emu = undefined;
});

const start = (extra: Partial<Parameters<typeof startGeminiLiveEmulator>[0]> = {}) =>
  startGeminiLiveEmulator({ scenario: 'scenarios/test-tools.json', timing: { realtime: false }, ...extra });

async function closeOf(
  frames: Array<string | Buffer>,
  setup: unknown = SETUP,
): Promise<{ code: number; reason: string }> {
  const c = rawConnect(liveUrl(emu!.baseUrl));
  await c.opened;
  if (setup !== null) {
    c.ws.send(JSON.stringify(setup));
    await c.next((m) => 'setupComplete' in m);
  }
  for (const f of frames) c.ws.send(f);
  return c.closed;
}

describe('bad input', () => {
  it('server JSON arrives in binary frames; routes with the double slash, v1, v1beta and v1alpha', async () => {
    emu = await start();
    for (const v of ['v1', 'v1beta', 'v1alpha']) {
      const c = rawConnect(liveUrl(emu.baseUrl, 'key=x', v));
      await c.opened;
      c.ws.send(JSON.stringify(SETUP));
      await c.next((m) => 'setupComplete' in m);
      expect(c.frames[0]).toEqual({ json: { setupComplete: {} }, binary: true });
      c.ws.close();
    }
    // Text frames on request, to exercise the client's other path; the SDK accepts both.
    await emu.close();
    emu = await start({ serverFrames: 'text' });
    const c = rawConnect(liveUrl(emu.baseUrl));
    await c.opened;
    c.ws.send(JSON.stringify(SETUP));
    await c.next((m) => 'setupComplete' in m);
    expect(c.frames[0]!.binary).toBe(false);
    c.ws.close();
    const s = await SdkClient.connect(emu.baseUrl);
    clients.push(s);
    s.opening();
    await s.waitTurnComplete();
  });

  it('an unknown path is a 404, not a WebSocket', async () => {
    emu = await start();
    const c = rawConnect(`${emu.baseUrl.replace('http:', 'ws:')}/ws/somethingElse?key=k`);
    const status = await new Promise<number>((r) => c.ws.on('unexpected-response', (_q, res) => r(res.statusCode)));
    expect(status).toBe(404);
    const res = await fetch(`${emu.baseUrl}/v1beta/models`);
    expect(res.status).toBe(404);
  });

  it('malformed JSON → 1007', async () => {
    emu = await start();
    expect(await closeOf(['{"realtimeInput": {'])).toEqual({
      code: 1007,
      reason: 'Request contains an invalid argument.',
    });
    expect((await emu.sessions[0]!.closed).code).toBe(1007);
    // Malformed before setup, too.
    expect((await closeOf(['not json'], null)).code).toBe(1007);
  });

  it('structurally invalid messages → 1007', async () => {
    emu = await start();
    const cases: unknown[] = [
      ['an', 'array'],
      { realtimeInput: {}, toolResponse: {} },
      { unknownField: {} },
      { setup: SETUP.setup },
      { realtimeInput: { audio: { data: 'AAAA', mimeType: 'text/plain' } } },
      { realtimeInput: { audio: { data: '!!!not base64!!!', mimeType: 'audio/pcm;rate=16000' } } },
      { realtimeInput: { audio: { data: 'AA==', mimeType: 'audio/pcm;rate=16000' } } },
      { realtimeInput: { audio: { data: 'AAAA', mimeType: 'audio/pcm;rate=1' } } },
      { realtimeInput: { text: 42 } },
      { realtimeInput: { activityStart: {} } },
      { clientContent: { turns: 'not an array' } },
      { toolResponse: { functionResponses: [{ name: 'x', response: {} }] } },
      { toolResponse: { functionResponses: 'x' } },
    ];
    for (const msg of cases) {
      const closed = await closeOf([JSON.stringify(msg)]);
      expect({ msg, code: closed.code }).toEqual({ msg, code: 1007 });
    }
  });

  it('the first message must be setup; setup must be valid', async () => {
    emu = await start();
    expect((await closeOf([JSON.stringify({ realtimeInput: { text: 'hi' } })], null)).code).toBe(1007);
    const badSetups = [
      { setup: {} },
      { setup: { ...SETUP.setup, generationConfig: 'nope' } },
      { setup: { ...SETUP.setup, generationConfig: { responseModalities: ['TEXT'] } } },
      {
        setup: {
          ...SETUP.setup,
          generationConfig: { speechConfig: { voiceConfig: { prebuiltVoiceConfig: { voiceName: 'kore' } } } },
        },
      },
      { setup: { ...SETUP.setup, tools: [{ functionDeclarations: [{ name: 'bad name!' }] }] } },
      { setup: { ...SETUP.setup, realtimeInputConfig: { automaticActivityDetection: { silenceDurationMs: -5 } } } },
    ];
    for (const s of badSetups) expect((await closeOf([JSON.stringify(s)], null)).code).toBe(1007);
    const unknownModel = await closeOf([JSON.stringify({ setup: { model: 'models/gemini-9-ultra' } })], null);
    expect(unknownModel).toEqual({ code: 1008, reason: 'Operation is not implemented, or supported, or enabled.' });
  });

  it('a toolResponse with an unknown id → 1007 through the SDK, and the other session is unaffected', async () => {
    emu = await start();
    const victim = await SdkClient.connect(emu.baseUrl);
    const other = await SdkClient.connect(emu.baseUrl);
    clients.push(victim, other);
    victim.opening();
    await victim.waitTurnComplete();
    other.opening();
    const g = await other.waitTurnComplete();
    victim.session.sendToolResponse({ functionResponses: [{ id: 'function-call-0', name: 'x', response: {} }] });
    expect(await victim.closed).toEqual({ code: 1007, reason: 'Request contains an invalid argument.' });
    // A malformed frame on a third, raw connection does not disturb it either.
    expect((await closeOf(['garbage'])).code).toBe(1007);
    other.speak();
    const call = await other.waitFor((m) => m.toolCall !== undefined, g);
    expect(call.toolCall!.functionCalls).toHaveLength(2);
    expect(emu.sessions.map((s) => s.index)).toEqual([0, 1, 2]);
  });

  it('reject-key mode: a wrong or missing key → 1008 "unregistered callers"', async () => {
    emu = await start({ apiKey: API_KEY });
    const err = await SdkClient.connect(emu.baseUrl, phoneConfig(), { apiKey: 'wrong' }).catch((e: Error) => e);
    expect(String(err)).toMatch(/code 1008\): Method doesn't allow unregistered callers/);
    const missing = rawConnect(liveUrl(emu.baseUrl, ''));
    const closed = await missing.closed;
    expect(closed.code).toBe(1008);
    expect(closed.reason).toMatch(/^Method doesn't allow unregistered callers/);
    // Ephemeral-token style (?access_token=) is checked the same way.
    const token = rawConnect(
      liveUrl(emu.baseUrl, `access_token=${API_KEY}`, 'v1alpha').replace('Content?', 'ContentConstrained?'),
    );
    await token.opened;
    token.ws.send(JSON.stringify(SETUP));
    await token.next((m) => 'setupComplete' in m);
    token.ws.close();
    // The right key still works.
    const ok = await SdkClient.connect(emu.baseUrl);
    clients.push(ok);
    expect(ok.messages[0]?.setupComplete).toBeDefined();
  });

  it('manual activity signals are rejected with automatic VAD; audioStreamEnd closes the caller turn', async () => {
    emu = await start({ vad: { endSilenceMs: 5000 } });
    const c = await SdkClient.connect(emu.baseUrl);
    clients.push(c);
    c.opening();
    const g = await c.waitTurnComplete();
    // Speech with too little trailing silence for the 5 s end-of-turn rule...
    c.speak(400, 100);
    await delay(100);
    expect(c.messages.slice(g).some((m) => m.toolCall)).toBe(false);
    // ...until the client says the stream ended.
    c.session.sendRealtimeInput({ audioStreamEnd: true });
    await c.waitFor((m) => m.toolCall !== undefined, g);
  });

  it('manual activity detection: activityStart/activityEnd drive the caller turn', async () => {
    emu = await start();
    const c = await SdkClient.connect(
      emu.baseUrl,
      phoneConfig({ realtimeInputConfig: { automaticActivityDetection: { disabled: true } } }),
    );
    clients.push(c);
    c.opening();
    const g = await c.waitTurnComplete();
    c.session.sendRealtimeInput({ activityStart: {} });
    c.speak(200, 0);
    c.session.sendRealtimeInput({ activityEnd: {} });
    await c.waitFor((m) => m.toolCall !== undefined, g);
    c.session.sendRealtimeInput({ audioStreamEnd: true });
    expect((await c.closed).code).toBe(1007);
  });

  it('abortOnAudioDuringToolCall: caller audio while a call is unanswered → 1008', async () => {
    emu = await start({ faults: { abortOnAudioDuringToolCall: true } });
    const c = await SdkClient.connect(emu.baseUrl);
    clients.push(c);
    c.opening();
    const g = await c.waitTurnComplete();
    c.speak();
    await c.waitFor((m) => m.toolCall !== undefined, g);
    c.speak(20, 0);
    expect(await c.closed).toEqual({ code: 1008, reason: 'The operation was aborted.' });
  });
});

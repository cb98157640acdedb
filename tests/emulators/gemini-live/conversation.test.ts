// The emulator driven by the real @google/genai SDK: setup, audio out, caller speech, tool calls, usage.
import { afterEach, describe, expect, it } from 'vitest';
import { type GeminiLiveEmulator, startGeminiLiveEmulator } from '../../../src/emulators/gemini-live/index.ts';
import { API_KEY, MODEL, SdkClient } from './helpers.ts';

interface SetupShape {
  model: string;
  generationConfig: {
    responseModalities: string[];
    speechConfig: { voiceConfig: { prebuiltVoiceConfig: { voiceName: string } } };
  };
  systemInstruction: { parts: Array<{ text: string }> };
  tools: Array<{ functionDeclarations: Array<{ name: string }> }>;
  inputAudioTranscription: object;
  outputAudioTranscription: object;
  sessionResumption: object;
  contextWindowCompression: { slidingWindow: { targetTokens: string } };
}

const fast = { realtime: false, chunkMs: 40 } as const;
let emu: GeminiLiveEmulator | undefined;
const clients: SdkClient[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.session.close();
  await emu?.close();
  emu = undefined;
});

async function connect(
  baseUrl: string,
  ...rest: Parameters<typeof SdkClient.connect> extends [string, ...infer R] ? R : never
) {
  const c = await SdkClient.connect(baseUrl, ...rest);
  clients.push(c);
  return c;
}

describe('gemini live emulator with the real SDK', () => {
  it('records the setup, greets with 24 kHz audio and transcripts, then answers caller speech', async () => {
    emu = await startGeminiLiveEmulator({
      apiKey: API_KEY,
      scenario: 'scenarios/test-tools.json',
      timing: fast,
      speech: 'synthetic',
    });
    const c = await connect(emu.baseUrl);
    expect(c.messages[0]?.setupComplete).toBeDefined();
    const s = emu.sessions[0]!;
    const setup = s.setup as unknown as SetupShape;
    expect(setup.model).toBe(`models/${MODEL}`);
    expect(setup.generationConfig.responseModalities).toEqual(['AUDIO']);
    expect(setup.generationConfig.speechConfig.voiceConfig.prebuiltVoiceConfig.voiceName).toBe('Kore');
    expect(setup.systemInstruction.parts[0]!.text).toBe('You are a helpful phone agent.');
    expect(setup.tools[0]!.functionDeclarations.map((d) => d.name)).toEqual([
      'check_order_status',
      'send_sms',
      'end_call',
    ]);
    expect(setup.inputAudioTranscription).toEqual({});
    expect(setup.outputAudioTranscription).toEqual({});
    expect(setup.sessionResumption).toEqual({});
    expect(setup.contextWindowCompression.slidingWindow.targetTokens).toBe('12800');

    // Greeting.
    c.opening();
    const end1 = await c.waitTurnComplete();
    const greeting = c.messages.slice(0, end1);
    const audio = greeting.flatMap((m) => m.serverContent?.modelTurn?.parts ?? []);
    expect(audio.length).toBeGreaterThan(1);
    for (const p of audio) expect(p.inlineData?.mimeType).toBe('audio/pcm;rate=24000');
    const bytes = c.audioBytes(0, end1);
    expect(bytes % 2).toBe(0);
    // Roughly what "Hi there." takes to say, and well over one chunk.
    expect(bytes / 2 / 24_000).toBeGreaterThan(0.3);
    expect(c.outputText(0, end1)).toBe('Hi there.');
    const gc = greeting.findIndex((m) => m.serverContent?.generationComplete);
    expect(gc).toBeGreaterThan(0);
    const tc = greeting[end1 - 1]!;
    expect(tc.usageMetadata?.totalTokenCount).toBeGreaterThan(0);
    // Decoded samples are real audio, not silence.
    const pcm = Buffer.from(audio[2]!.inlineData!.data!, 'base64');
    let peak = 0;
    for (let i = 0; i < pcm.length; i += 2) peak = Math.max(peak, Math.abs(pcm.readInt16LE(i)));
    expect(peak).toBeGreaterThan(1000);
    expect(s.turns).toEqual(['greeting']);

    // Caller speaks: inputTranscription, then the tool-calling turn with two parallel calls.
    c.speak();
    const call = await c.waitFor((m) => m.toolCall !== undefined, end1);
    // The transcript streams in pieces while the caller speaks; the last one is marked finished and comes before
    // the answer.
    const at0 = c.messages.indexOf(call);
    expect(c.inputText(end1, at0)).toBe('Check my orders please.');
    const pieces = c.messages.slice(end1, at0).filter((m) => m.serverContent?.inputTranscription);
    expect(pieces.length).toBeGreaterThan(1);
    expect(pieces.at(-1)!.serverContent!.inputTranscription!.finished).toBe(true);
    expect(pieces[0]!.serverContent!.inputTranscription!.finished).toBeUndefined();
    const calls = call.toolCall!.functionCalls!;
    expect(calls.map((f) => f.name)).toEqual(['check_order_status', 'check_order_status']);
    expect(calls[0]!.args).toEqual({ order_id: 'ORD-1001' });
    expect(new Set(calls.map((f) => f.id)).size).toBe(2);
    expect(s.audioInMs).toBeCloseTo(1200, -1);
    const at = c.messages.indexOf(call);
    // A pending call makes the session non-resumable.
    await c.waitFor((m) => m.sessionResumptionUpdate?.resumable === false, at);

    // No turnComplete while the calls are unanswered; one answer is not enough.
    c.session.sendToolResponse({
      functionResponses: [
        { id: calls[0]!.id!, name: 'check_order_status', response: { output: { status: 'shipped' } } },
      ],
    });
    await new Promise((r) => setTimeout(r, 100));
    expect(c.messages.slice(at).some((m) => m.serverContent?.turnComplete)).toBe(false);
    c.session.sendToolResponse({
      functionResponses: [
        { id: calls[1]!.id!, name: 'check_order_status', response: { output: { status: 'processing' } } },
      ],
    });
    const end2 = await c.waitTurnComplete(at);
    expect(c.outputText(at, end2)).toBe('The last one is processing.');
    expect(s.toolResponses.map((r) => r.id)).toEqual(calls.map((f) => f.id));
    expect(s.turns).toEqual(['greeting', 'lookup', 'result']);
    const handle =
      c.messages.slice(end2).find((m) => m.sessionResumptionUpdate) ??
      (await c.waitFor((m) => m.sessionResumptionUpdate?.resumable === true, end2));
    expect(handle.sessionResumptionUpdate?.newHandle).toBeTruthy();

    // Goodbye and end_call; answering end_call closes the model turn.
    c.speak();
    const bye = await c.waitFor((m) => m.toolCall !== undefined, end2);
    const byeCall = bye.toolCall!.functionCalls![0]!;
    expect(byeCall.name).toBe('end_call');
    expect(byeCall.args).toEqual({ reason: 'resolved' });
    c.session.sendToolResponse({
      functionResponses: [{ id: byeCall.id!, name: 'end_call', response: { ending: true } }],
    });
    await c.waitTurnComplete(c.messages.indexOf(bye));
    // The scenario has ended: more caller speech gets no answer.
    const n = c.messages.length;
    c.speak();
    await new Promise((r) => setTimeout(r, 150));
    expect(c.messages.slice(n).some((m) => m.serverContent?.modelTurn)).toBe(false);
    expect(s.received.some((r) => 'toolResponse' in r.msg)).toBe(true);
    // Audio payloads are summarised, not stored.
    const a = s.received.find((r) => 'realtimeInput' in r.msg)!.msg as { realtimeInput: { audio: { bytes: number } } };
    expect(a.realtimeInput.audio.bytes).toBe(640);
  });

  it('text input drives turns; gemini-3 models get transcripts bundled with audio; contextUpdate is accepted', async () => {
    emu = await startGeminiLiveEmulator({ scenario: 'scenarios/test-tools.json', timing: fast, speech: 'synthetic' });
    const c = await connect(emu.baseUrl, undefined, { model: 'gemini-3.8-live' });
    c.opening();
    const g = await c.waitTurnComplete();
    const bundled = c.messages
      .slice(0, g)
      .filter((m) => m.serverContent?.modelTurn && m.serverContent.outputTranscription);
    expect(bundled.length).toBeGreaterThan(0);
    c.session.sendContextUpdate({ systemInstruction: 'Be brief.' });
    c.session.sendRealtimeInput({ text: 'Check my orders please.' });
    const call = await c.waitFor((m) => m.toolCall !== undefined, g);
    expect(call.toolCall!.functionCalls).toHaveLength(2);
    // Typed words are not transcribed back.
    expect(c.messages.slice(g).some((m) => m.serverContent?.inputTranscription)).toBe(false);
    expect(emu.sessions[0]!.received.some((r) => 'contextUpdate' in r.msg)).toBe(true);
    expect((emu.sessions[0]!.setup as { model: string }).model).toBe('models/gemini-3.8-live');
  });

  it('a connection that never sends setup is closed with 1011 after setupTimeoutMs', async () => {
    emu = await startGeminiLiveEmulator({ scenario: 'scenarios/test-tools.json', setupTimeoutMs: 100 });
    const { rawConnect, liveUrl } = await import('./raw-ws.ts');
    const c = rawConnect(liveUrl(emu.baseUrl));
    expect(await c.closed).toEqual({ code: 1011, reason: 'Deadline expired before operation could complete.' });
  });
});

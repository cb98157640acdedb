// Barge-in: caller speech during an agent turn stops that turn's audio with `interrupted`, and cancels pending
// tool calls with `toolCallCancellation`.
import { afterEach, describe, expect, it } from 'vitest';
import { type GeminiLiveEmulator, startGeminiLiveEmulator } from '../../../src/emulators/gemini-live/index.ts';
import { syntheticSpeech } from '../../../src/emulators/gemini-live/speech.ts';
import { delay, SdkClient } from './helpers.ts';

const GREETING =
  'Hello and welcome to Acme Shop. Before we begin, let me tell you about our holiday offers, our loyalty ' +
  'programme, our new store opening hours and the many ways you can reach us online, by phone or in person.';

let emu: GeminiLiveEmulator | undefined;
let client: SdkClient | undefined;

afterEach(async () => {
  client?.session.close();
  client = undefined;
  await emu?.close();
  emu = undefined;
});

describe('interruptions', () => {
  it('barge-in during the greeting: interrupted, no more audio of that turn, then the next turn', async () => {
    emu = await startGeminiLiveEmulator({
      scenario: 'scenarios/test-barge-in.json',
      // Real-time pacing (sped up) so the long greeting is still being sent when the caller speaks.
      timing: { realtime: true, speedup: 3, chunkMs: 40, leadMs: 200 },
      speech: 'synthetic',
    });
    const c = await SdkClient.connect(emu.baseUrl);
    client = c;
    c.opening();
    await c.waitFor((m) => m.serverContent?.modelTurn !== undefined);
    await delay(200);
    c.speak(300, 700);
    const intr = await c.waitFor((m) => m.serverContent?.interrupted === true);
    const i = c.messages.indexOf(intr);
    // interrupted → turnComplete, with no generationComplete for the interrupted turn.
    const end = await c.waitTurnComplete(i);
    expect(c.messages.slice(0, end).some((m) => m.serverContent?.generationComplete)).toBe(false);
    expect(c.audioBytes(i, end)).toBe(0);
    // Only part of the (long) greeting went out.
    const full = syntheticSpeech(GREETING).length * 2;
    expect(c.audioBytes(0, i)).toBeGreaterThan(0);
    expect(c.audioBytes(0, i)).toBeLessThan(full);
    expect(c.outputText(0, i)).not.toBe(GREETING);
    // The caller's turn ends: transcript, then the answer (not the rest of the greeting).
    await c.waitFor((m) => m.serverContent?.inputTranscription?.finished === true, end);
    expect(c.inputText()).toBe('Sorry, I just want to check my order.');
    const end2 = await c.waitTurnComplete(end);
    expect(c.outputText(end, end2)).toBe('Of course. What is your order number?');
    expect(c.messages.slice(end, end2).some((m) => m.serverContent?.generationComplete)).toBe(true);
    expect(emu.sessions[0]!.turns).toEqual(['long-greeting', 'answer']);
  });

  it('the interrupt() control and a NO_INTERRUPTION setup', async () => {
    emu = await startGeminiLiveEmulator({
      scenario: 'scenarios/test-barge-in.json',
      timing: { realtime: true, speedup: 2 },
      speech: 'synthetic',
    });
    const c = await SdkClient.connect(emu.baseUrl, {
      responseModalities: ['AUDIO'] as never,
      realtimeInputConfig: { activityHandling: 'NO_INTERRUPTION' as never },
      inputAudioTranscription: {},
    });
    client = c;
    c.opening();
    await c.waitFor((m) => m.serverContent?.modelTurn !== undefined);
    // Caller speech does not interrupt with NO_INTERRUPTION...
    c.speak(300, 100);
    await delay(300);
    expect(c.messages.some((m) => m.serverContent?.interrupted)).toBe(false);
    // ...but the test control does.
    emu.sessions[0]!.interrupt();
    await c.waitFor((m) => m.serverContent?.interrupted === true);
  });

  it('caller speech while tool calls are pending cancels them; a late response to a cancelled id is ignored', async () => {
    emu = await startGeminiLiveEmulator({
      scenario: 'scenarios/test-tools.json',
      timing: { realtime: false },
      speech: 'synthetic',
    });
    const c = await SdkClient.connect(emu.baseUrl);
    client = c;
    c.opening();
    const g = await c.waitTurnComplete();
    c.speak();
    const call = await c.waitFor((m) => m.toolCall !== undefined, g);
    const ids = call.toolCall!.functionCalls!.map((f) => f.id!);
    const at = c.messages.indexOf(call);
    c.speak(300, 800);
    const cancel = await c.waitFor((m) => m.toolCallCancellation !== undefined, at);
    expect(cancel.toolCallCancellation!.ids).toEqual(ids);
    const ci = c.messages.indexOf(cancel);
    expect(c.messages.slice(at, ci).some((m) => m.serverContent?.interrupted)).toBe(true);
    await c.waitTurnComplete(ci);
    // The answer that crossed the cancellation on the wire is dropped quietly.
    c.session.sendToolResponse({ functionResponses: [{ id: ids[0]!, name: 'check_order_status', response: {} }] });
    // The cancelled calls' follow-up is skipped; the caller's words start the next scripted turn (goodbye).
    const bye = await c.waitFor((m) => m.toolCall !== undefined, ci);
    expect(bye.toolCall!.functionCalls![0]!.name).toBe('end_call');
    expect(emu.sessions[0]!.turns).toEqual(['greeting', 'lookup', 'bye']);
    await delay(50);
    expect(c.messages.some((m) => m.goAway)).toBe(false);
    const closed = await Promise.race([c.closed, delay(100).then(() => 'open')]);
    expect(closed).toBe('open');
  });
});

// The shipped demo scenario end to end with the real SDK, and real-time pacing of the agent's audio.
import { afterEach, describe, expect, it } from 'vitest';
import { type GeminiLiveEmulator, startGeminiLiveEmulator } from '../../../src/emulators/gemini-live/index.ts';
import { SdkClient } from './helpers.ts';

let emu: GeminiLiveEmulator | undefined;
let client: SdkClient | undefined;

afterEach(async () => {
  client?.session.close();
  client = undefined;
  await emu?.close();
  emu = undefined;
});

describe('scenarios/demo-order-status.json', () => {
  it('greeting → check_order_status → result → send_sms → confirmation → bye → end_call', async () => {
    // Speech mode from the scenario ("auto"): espeak-ng when installed, synthetic otherwise.
    emu = await startGeminiLiveEmulator({ scenario: 'scenarios/demo-order-status.json', timing: { realtime: false } });
    const c = await SdkClient.connect(emu.baseUrl);
    client = c;
    c.opening();
    const g = await c.waitTurnComplete();
    expect(c.outputText(0, g)).toMatch(/^Hello, thank you for calling Acme Shop\./);
    expect(c.audioBytes(0, g) / 2 / 24_000).toBeGreaterThan(2);

    c.speak(600, 800);
    const lookup = await c.waitFor((m) => m.toolCall !== undefined, g);
    const call1 = lookup.toolCall!.functionCalls![0]!;
    expect(call1).toMatchObject({ name: 'check_order_status', args: { order_id: 'ORD-1001' } });
    expect(c.inputText()).toBe("Hi, I'd like to know where my order is. The number is O R D 1001.");
    c.session.sendToolResponse({
      functionResponses: [
        {
          id: call1.id!,
          name: call1.name!,
          response: { found: true, order: { status: 'shipped', carrier: 'UPS', estimatedDelivery: 'November 27' } },
        },
      ],
    });
    const i1 = c.messages.indexOf(lookup);
    const sms = await c.waitFor((m) => m.toolCall !== undefined, i1 + 1);
    const call2 = sms.toolCall!.functionCalls![0]!;
    expect(call2.name).toBe('send_sms');
    expect(String(call2.args?.message)).toContain('ORD-1001');
    const i2 = c.messages.indexOf(sms);
    expect(c.outputText(i1, i2)).toContain('is shipped with UPS, and it should arrive on November 27.');
    // Still one model turn: no turnComplete between the tool calls.
    expect(c.messages.slice(i1, i2).some((m) => m.serverContent?.turnComplete)).toBe(false);
    c.session.sendToolResponse({
      functionResponses: [
        { id: call2.id!, name: 'send_sms', response: { output: { sent: true, to: 'number ending in 0100' } } },
      ],
    });
    const t2 = await c.waitTurnComplete(i2);
    expect(c.outputText(i2, t2)).toBe(
      'Done, the text is on its way to your number ending in 0100. Is there anything else I can help you with?',
    );

    c.speak(500, 800);
    const end = await c.waitFor((m) => m.toolCall !== undefined, t2);
    const call3 = end.toolCall!.functionCalls![0]!;
    expect(call3).toMatchObject({ name: 'end_call', args: { reason: 'resolved' } });
    const i3 = c.messages.indexOf(end);
    expect(c.outputText(t2, i3)).toBe("You're welcome. Have a great day, goodbye!");
    c.session.sendToolResponse({
      functionResponses: [{ id: call3.id!, name: 'end_call', response: { ending: true } }],
    });
    await c.waitTurnComplete(i3);
    expect(emu.sessions[0]!.turns).toEqual(['greeting', 'lookup', 'order-result', 'sms-confirm', 'goodbye']);
    expect(emu.sessions[0]!.toolResponses.map((r) => r.name)).toEqual(['check_order_status', 'send_sms', 'end_call']);
  });

  it('real-time pacing: chunks of chunkMs, never ahead of real time by more than the lead', async () => {
    emu = await startGeminiLiveEmulator({
      scenario: {
        name: 'pacing',
        responseDelayMs: 0,
        turns: [{ trigger: 'opening', text: 'beep', audio: { kind: 'tone', freqHz: 440, ms: 2000 } }],
      },
      timing: { realtime: true, speedup: 4, chunkMs: 20, leadMs: 100 },
    });
    const t0 = Date.now();
    const c = await SdkClient.connect(emu.baseUrl);
    client = c;
    c.opening();
    const end = await c.waitTurnComplete();
    const parts = c.messages.slice(0, end).flatMap((m) => m.serverContent?.modelTurn?.parts ?? []);
    expect(parts).toHaveLength(100);
    expect(Buffer.from(parts[0]!.inlineData!.data!, 'base64').length).toBe(960);
    // 2 s of audio at 4× with a 100 ms lead cannot arrive in less than (2000 - 100) / 4 ms.
    expect(Date.now() - t0).toBeGreaterThanOrEqual(470);
  });
});

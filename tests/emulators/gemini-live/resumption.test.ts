// goAway, session resumption with the handle, refused/unknown/expired handles and the fresh-session fallback.
import { afterEach, describe, expect, it } from 'vitest';
import { type GeminiLiveEmulator, startGeminiLiveEmulator } from '../../../src/emulators/gemini-live/index.ts';
import { delay, phoneConfig, SdkClient } from './helpers.ts';

let emu: GeminiLiveEmulator | undefined;
const clients: SdkClient[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.session.close();
  await emu?.close();
  emu = undefined;
});

async function connect(baseUrl: string, handle?: string): Promise<SdkClient> {
  const c = await SdkClient.connect(baseUrl, phoneConfig(handle ? { sessionResumption: { handle } } : {}));
  clients.push(c);
  return c;
}

describe('goAway and resumption', () => {
  it('goAway, then resuming with the last handle continues the scenario where it was', async () => {
    emu = await startGeminiLiveEmulator({
      scenario: 'scenarios/test-go-away-resume.json',
      timing: { realtime: false },
    });
    const a = await connect(emu.baseUrl);
    a.opening();
    const goAway = await a.waitFor((m) => m.goAway !== undefined);
    expect(goAway.goAway!.timeLeft).toBe('5s');
    // goAway comes after the greeting turn, with a resumable handle before it.
    const gi = a.messages.indexOf(goAway);
    expect(a.messages.slice(0, gi).some((m) => m.serverContent?.turnComplete)).toBe(true);
    const handle = a.lastHandle();
    expect(handle).toBeTruthy();

    // Resuming while the old socket is still open is rejected (1011).
    await expect(connect(emu.baseUrl, handle)).rejects.toThrow(/code 1011/);

    a.session.close();
    await a.closed;
    const b = await connect(emu.baseUrl, handle);
    const [s0, , s2] = emu.sessions;
    expect(s2!.resumedFrom).toBe(handle);
    expect(s2!.conversationId).toBe(s0!.conversationId);
    expect((s2!.setup as { sessionResumption: { handle: string } }).sessionResumption.handle).toBe(handle);
    // No second greeting: the conversation waits for the caller, then runs the next turn.
    await delay(100);
    expect(b.messages.some((m) => m.serverContent?.modelTurn)).toBe(false);
    b.speak();
    const call = await b.waitFor((m) => m.toolCall !== undefined);
    expect(b.inputText()).toBe('Where is my order?');
    const id = call.toolCall!.functionCalls![0]!.id!;
    b.session.sendToolResponse({
      functionResponses: [{ id, name: 'check_order_status', response: { status: 'shipped' } }],
    });
    const end = await b.waitTurnComplete(b.messages.indexOf(call));
    expect(b.outputText(0, end)).toContain('It is shipped.');
    expect(s2!.turns).toEqual(['after-resume', 'result']);
    // The scripted goAway is not repeated on the resumed connection.
    expect(b.messages.some((m) => m.goAway)).toBe(false);
  });

  it('goAway() test control with a sub-second timeLeft', async () => {
    emu = await startGeminiLiveEmulator({ scenario: 'scenarios/test-tools.json', timing: { realtime: false } });
    const a = await connect(emu.baseUrl);
    emu.sessions[0]!.goAway(250);
    const g = await a.waitFor((m) => m.goAway !== undefined);
    expect(g.goAway!.timeLeft).toBe('0.250s');
    // Without a reconnect, the service closes the connection once timeLeft has run out.
    expect(await a.closed).toEqual({ code: 1011, reason: 'Deadline expired before operation could complete.' });
    expect((await emu.sessions[0]!.closed).code).toBe(1011);
  });

  it('refused resumption (1007) → a fresh session re-seeded with clientContent continues the conversation', async () => {
    emu = await startGeminiLiveEmulator({
      scenario: 'scenarios/test-resume-refused.json',
      timing: { realtime: false },
      faults: { refuseResumption: true },
    });
    const a = await connect(emu.baseUrl);
    await a.waitFor((m) => m.goAway !== undefined);
    const handle = a.lastHandle()!;
    expect(handle).toBeTruthy();
    a.session.close();
    await a.closed;
    const err = await connect(emu.baseUrl, handle).catch((e: Error) => e);
    expect(String(err)).toMatch(/code 1007\): Request contains an invalid argument\./);
    expect((await emu.sessions[1]!.closed).code).toBe(1007);

    const b = await connect(emu.baseUrl);
    b.session.sendClientContent({
      turns: [
        {
          role: 'user',
          parts: [
            {
              text:
                'The call was reconnected. Conversation so far:\nAgent: Welcome to Acme Shop, how can I help?\n' +
                'Caller: I want to cancel my order.\nContinue where you left off.',
            },
          ],
        },
      ],
      turnComplete: true,
    });
    const end = await b.waitTurnComplete();
    expect(b.outputText(0, end)).toBe('I can help you cancel your order. Which order is it?');
    expect(emu.sessions[2]!.turns).toEqual(['question']);
    expect(emu.sessions[2]!.conversationId).not.toBe(emu.sessions[0]!.conversationId);
    expect(emu.sessions[2]!.received.some((r) => 'clientContent' in r.msg)).toBe(true);
    // The lifetime goAway was for the first connection only.
    b.speak();
    const end2 = await b.waitTurnComplete(end);
    expect(b.outputText(end, end2)).toBe('Order ORD-1002 is now cancelled.');
    expect(b.messages.some((m) => m.goAway)).toBe(false);
  });

  it('context without turnComplete moves the script on silently: no second greeting, the caller speaks next', async () => {
    emu = await startGeminiLiveEmulator({
      scenario: {
        name: 'seek',
        speech: 'synthetic',
        turns: [
          { trigger: 'opening', text: 'Welcome to Acme Shop, how can I help?' },
          { trigger: 'caller-speech', text: 'I can help you cancel your order. Which order is it?' },
        ],
      },
      timing: { realtime: false },
    });
    const b = await connect(emu.baseUrl);
    b.session.sendClientContent({
      turns: [{ role: 'user', parts: [{ text: 'Agent: Welcome to Acme Shop, how can I help?' }] }],
      turnComplete: false,
    });
    await delay(400);
    expect(b.messages.some((m) => m.serverContent?.modelTurn)).toBe(false);
    b.speak();
    const end = await b.waitTurnComplete();
    expect(b.outputText(0, end)).toBe('I can help you cancel your order. Which order is it?');
  });

  it('unknown and expired handles are refused with 1007', async () => {
    emu = await startGeminiLiveEmulator({
      scenario: 'scenarios/test-tools.json',
      timing: { realtime: false },
      resumption: { handleTtlMs: 100 },
    });
    await expect(connect(emu.baseUrl, 'no-such-handle')).rejects.toThrow(/code 1007/);
    const a = await connect(emu.baseUrl);
    a.opening();
    await a.waitTurnComplete();
    const handle = a.lastHandle()!;
    a.session.close();
    await a.closed;
    await delay(150);
    await expect(connect(emu.baseUrl, handle)).rejects.toThrow(/code 1007/);
  });

  it('a resume may not change the model', async () => {
    emu = await startGeminiLiveEmulator({ scenario: 'scenarios/test-tools.json', timing: { realtime: false } });
    const a = await connect(emu.baseUrl);
    a.opening();
    await a.waitTurnComplete();
    const handle = a.lastHandle()!;
    a.session.close();
    await a.closed;
    const err = await SdkClient.connect(emu.baseUrl, phoneConfig({ sessionResumption: { handle } }), {
      model: 'gemini-3.8-live',
    }).catch((e: Error) => e);
    expect(String(err)).toMatch(/code 1007/);
  });

  it('periodic sessionResumptionUpdate while idle', async () => {
    emu = await startGeminiLiveEmulator({
      scenario: 'scenarios/test-tools.json',
      timing: { realtime: false },
      resumption: { updateEveryMs: 50 },
    });
    const a = await connect(emu.baseUrl);
    a.opening();
    await a.waitTurnComplete();
    const handleMsgs = () => a.messages.filter((m) => m.sessionResumptionUpdate?.newHandle);
    await a.waitFor(() => handleMsgs().length >= 4);
    const handles = handleMsgs().map((m) => m.sessionResumptionUpdate!.newHandle);
    expect(new Set(handles).size).toBe(handles.length);
    expect(emu.sessions[0]!.handles.slice(0, handles.length)).toEqual(handles);
  });
});

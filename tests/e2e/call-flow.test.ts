// Plivo emulator ↔ gateway (uWS edge + CallManager) ↔ Gemini Live emulator, with the real @google/genai SDK.
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type LocalStack, startLocalStack } from '../../src/demo/stack.ts';
import { heardAll, SCENARIOS, until, utterance, wallTime } from './helpers.ts';

let stack: LocalStack | undefined;
afterEach(async () => {
  await stack?.close();
  stack = undefined;
});

describe('a call through the whole stack', () => {
  it('sets the session up with prompt, tools, voice and transcription; audio both ways; tools; hang-up after playedStream', async () => {
    stack = await startLocalStack({
      scenario: join(SCENARIOS, 'test-tools.json'),
      gemini: { speech: 'synthetic' },
    });
    const call = await stack.placeCall({ idleMedia: 'silence' });
    const session = await stack.gemini.nextSession(0);
    await until(() => session.setup !== undefined, 5000, 'setup');
    const setup = JSON.stringify(session.setup);
    expect(setup).toContain('the customer service line of an online store');
    for (const tool of ['check_order_status', 'send_sms', 'schedule_callback', 'end_call']) {
      expect(setup).toContain(`"name":"${tool}"`);
    }
    // No TRANSFER_NUMBER in this stack: the model is not offered a transfer that could only fail.
    expect(setup).not.toContain('"name":"transfer_call"');
    expect(setup).toContain('"voiceName":"Kore"');
    expect(setup).toContain('"inputAudioTranscription":{}');
    expect(setup).toContain('"outputAudioTranscription":{}');

    // Greeting heard by the caller, then the caller speaks: the agent calls two tools in parallel.
    await until(() => call.played.length > 10, 5000, 'greeting audio');
    await heardAll(call);
    await call.sendAudio(utterance());
    await until(() => session.toolResponses.length === 2, 10_000, 'tool responses');
    expect(session.audioInMs).toBeGreaterThan(500);
    expect(session.toolResponses.map((r) => r.id).sort()).toEqual(session.toolCalls.map((c) => c.id).sort());
    const responses = session.toolResponses.map((r) => r.response as { order?: { orderId: string } });
    expect(responses.map((r) => r.order?.orderId).sort()).toEqual(['ORD-1001', 'ORD-1002']);

    await heardAll(call, 300);
    await call.sendAudio(utterance());
    const ended = await stack.callEnded(call.callUuid, 15_000);
    expect(ended.endReason).toBe('resolved');

    // The hang-up came only after Plivo reported the goodbye's checkpoint as played.
    const goodbye = call.received.find(
      (e) => e.event === 'checkpoint' && String((e.msg as { name: string }).name).startsWith('goodbye-'),
    );
    expect(goodbye).toBeDefined();
    const audioBefore = call.played.filter((p) => p.at <= goodbye!.at);
    const goodbyeHeardAt = wallTime(Math.max(...audioBefore.map((p) => p.endAt)));
    const hangups = stack.plivo.requests.filter((r) => r.method === 'DELETE' && r.path.includes('/Call/'));
    expect(hangups).toHaveLength(1);
    expect(hangups[0]!.at).toBeGreaterThanOrEqual(goodbyeHeardAt - 25);
    await call.completed;
    expect(call.errors).toEqual([]);

    const record = await stack.store.get(call.callUuid);
    expect(record?.toolCalls.map((t) => `${t.name}:${t.outcome}`)).toEqual([
      'check_order_status:ok',
      'check_order_status:ok',
      'end_call:ok',
    ]);
    expect(record?.transcript.some((t) => t.role === 'caller' && t.text.includes('Check my orders'))).toBe(true);
    expect(record?.transcript.some((t) => t.role === 'agent' && t.text.includes('Hi there'))).toBe(true);
    expect(record?.status).toBe('completed');
    expect(record?.endReason).toBe('resolved');
  });
});

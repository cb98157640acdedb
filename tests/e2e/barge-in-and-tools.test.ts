// Barge-in and the tools' real effects on the Plivo emulator, through the whole stack.
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { CallEvent } from '../../src/calls/events.ts';
import { type LocalStack, startLocalStack } from '../../src/demo/stack.ts';
import type { Scenario } from '../../src/emulators/gemini-live/index.ts';
import type { CallbackRequest } from '../../src/store/types.ts';
import { heardAll, SCENARIOS, until, utterance } from './helpers.ts';

let stack: LocalStack | undefined;
afterEach(async () => {
  await stack?.close();
  stack = undefined;
});

describe('barge-in', () => {
  it('sends clearAudio as soon as Gemini says interrupted and records what the caller heard', async () => {
    const events: CallEvent[] = [];
    stack = await startLocalStack({
      scenario: join(SCENARIOS, 'test-barge-in.json'),
      gemini: { speech: 'synthetic' },
      manager: { onEvent: (_id, e) => events.push(e) },
    });
    const call = await stack.placeCall({ idleMedia: 'silence' });
    await until(() => call.played.length > 40, 5000, 'greeting playing');
    await call.sendAudio(utterance(400));
    const cleared = await call.waitForEvent('clearAudio', undefined, 5000);
    expect(cleared.msg).toMatchObject({ event: 'clearAudio', streamId: call.streamId });
    const interrupted = events.find((e) => e.type === 'interrupted');
    expect(interrupted).toBeDefined();
    // The agent answers the caller after the barge-in.
    await until(() => events.filter((e) => e.type === 'agent-turn-end').length >= 1, 10_000, 'answer');
    await heardAll(call);
    await call.hangup();
    await stack.callEnded(call.callUuid);
    const record = await stack.store.get(call.callUuid);
    const greeting = record!.transcript.find((t) => t.role === 'agent')!;
    expect(greeting.text).toContain('Hello and welcome');
    expect(greeting.interrupted).toBe(true);
    expect(greeting.heardMs).toBeGreaterThan(300);
    // The whole greeting would last well over 5 s; the caller heard only its start.
    expect(greeting.heardMs).toBeLessThan(6000);
    const later = record!.transcript.filter((t) => t.role === 'agent').slice(1);
    expect(later.some((t) => t.text.includes('What is your order number'))).toBe(true);
    expect(call.errors).toEqual([]);
  });
});

describe('tools with real effects', () => {
  it('send_sms texts the caller, schedule_callback is stored and handed to the dialer hook, transfer_call moves the call', async () => {
    const callbackAt = new Date(Date.now() + 86_400_000).toISOString();
    const scenario: Scenario = {
      name: 'tools-effects',
      speech: 'synthetic',
      voice: 'en-us',
      responseDelayMs: 10,
      turns: [
        { id: 'greeting', trigger: 'opening', text: 'Hi.', toolCalls: [], interruptible: true, end: false },
        {
          id: 'actions',
          trigger: 'caller-speech',
          text: 'Sure.',
          toolCalls: [
            { name: 'send_sms', args: { message: 'Your tracking number is 1Z999.' } },
            { name: 'schedule_callback', args: { callback_time: callbackAt, reason: 'refund question' } },
          ],
          interruptible: true,
          end: false,
        },
        { id: 'done', trigger: 'tool-response', text: 'Done.', toolCalls: [], interruptible: true, end: false },
        {
          id: 'transfer',
          trigger: 'caller-speech',
          text: 'Transferring you now.',
          toolCalls: [{ name: 'transfer_call', args: { reason: 'wants a person' } }],
          interruptible: true,
          end: true,
        },
      ],
    };
    const hooked: CallbackRequest[] = [];
    stack = await startLocalStack({
      scenario,
      gemini: { speech: 'synthetic' },
      env: { TRANSFER_NUMBER: '+14155550199' },
      manager: { onCallbackScheduled: (_record, request) => void hooked.push(request) },
    });
    const call = await stack.placeCall({ idleMedia: 'silence' });
    const session = await stack.gemini.nextSession(0);
    await until(() => call.played.length > 5, 5000, 'greeting');
    await heardAll(call);
    await call.sendAudio(utterance());
    await until(() => session.toolResponses.length === 2, 10_000, 'tool responses');

    expect(stack.plivo.messages).toHaveLength(1);
    expect(stack.plivo.messages[0]).toMatchObject({ dst: '14155550123', text: 'Your tracking number is 1Z999.' });
    expect(stack.plivo.messages[0]!.src.replace('+', '')).toBe('14155550100');
    expect(hooked).toHaveLength(1);
    expect(hooked[0]).toMatchObject({ phoneNumber: '+14155550123', reason: 'refund question' });
    expect(new Date(hooked[0]!.at).getTime()).toBe(new Date(callbackAt).getTime());
    const stored = await stack.store.get(call.callUuid);
    expect(stored?.callbacks).toHaveLength(1);

    await heardAll(call);
    await call.sendAudio(utterance());
    await until(() => call.transferredTo.length > 0, 10_000, 'transfer');
    expect(call.transferredTo).toEqual(['+14155550199']);
    expect(call.transferXml).toContain('<Dial');
    const ended = await stack.callEnded(call.callUuid, 10_000);
    expect(ended.outcome).toBe('transferred');
    const record = await stack.store.get(call.callUuid);
    expect(record?.endReason).toBe('transferred');
    expect(record?.toolCalls.map((t) => `${t.name}:${t.outcome}`)).toEqual([
      'send_sms:ok',
      'schedule_callback:ok',
      'transfer_call:ok',
    ]);
  });
});

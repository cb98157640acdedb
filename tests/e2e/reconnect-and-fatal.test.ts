// The call survives Gemini connection changes (goAway → resume; refused resume → fresh session), and when Gemini
// is gone for good the caller hears the technical-difficulty prompt before the line is hung up.
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { CallEvent } from '../../src/calls/events.ts';
import { loadPromptAudio } from '../../src/calls/prompt-audio.ts';
import { type LocalStack, startLocalStack } from '../../src/demo/stack.ts';
import { heardAll, SCENARIOS, until, utterance, wallTime } from './helpers.ts';

let stack: LocalStack | undefined;
afterEach(async () => {
  await stack?.close();
  stack = undefined;
});

describe('Gemini connection changes', () => {
  it('resumes after goAway with the phone call kept up, and the conversation goes on', async () => {
    const events: CallEvent[] = [];
    stack = await startLocalStack({
      scenario: join(SCENARIOS, 'test-go-away-resume.json'),
      gemini: { speech: 'synthetic' },
      manager: { onEvent: (_id, e) => events.push(e) },
    });
    const call = await stack.placeCall({ idleMedia: 'silence' });
    await until(() => events.some((e) => e.type === 'reconnect'), 10_000, 'reconnect');
    expect(events.find((e) => e.type === 'reconnect')).toMatchObject({ kind: 'resume' });
    const resumed = await stack.gemini.nextSession(1);
    expect(resumed.resumedFrom).toBeDefined();
    await heardAll(call);
    await call.sendAudio(utterance());
    await until(() => resumed.toolResponses.length === 1, 10_000, 'tool response on the resumed connection');
    expect(call.status).toBe('in-progress');
    const agentSaid = () => events.map((e) => (e.type === 'agent-text' ? e.text : '')).join('');
    await until(() => agentSaid().includes('It is'), 10_000, 'the answer built from the tool result');
    await call.hangup();
    await stack.callEnded(call.callUuid);
    const record = await stack.store.get(call.callUuid);
    expect(record?.reconnects).toBeGreaterThanOrEqual(1);
    expect(record?.toolCalls[0]?.outcome).toBe('ok');
    expect(call.errors).toEqual([]);
  });

  it('falls back to a fresh session when resumption is refused, keeping the call up', async () => {
    const events: CallEvent[] = [];
    stack = await startLocalStack({
      scenario: join(SCENARIOS, 'test-resume-refused.json'),
      gemini: { speech: 'synthetic', faults: { refuseResumption: true } },
      manager: { onEvent: (_id, e) => events.push(e) },
    });
    const call = await stack.placeCall({ idleMedia: 'silence' });
    await until(() => events.some((e) => e.type === 'reconnect'), 10_000, 'reconnect');
    expect(events.find((e) => e.type === 'reconnect')).toMatchObject({ kind: 'fresh' });
    await heardAll(call, 200);
    const turnsBefore = events.filter((e) => e.type === 'agent-turn-end').length;
    await call.sendAudio(utterance());
    await until(
      () => events.filter((e) => e.type === 'agent-turn-end').length > turnsBefore,
      10_000,
      'answer after the fresh reconnect',
    );
    expect(call.status).toBe('in-progress');
    await call.hangup();
    await stack.callEnded(call.callUuid);
    const record = await stack.store.get(call.callUuid);
    expect(record?.reconnects).toBeGreaterThanOrEqual(1);
    expect(record?.endReason).not.toBe('gemini-unavailable');
  });

  it('plays the technical-difficulty prompt when Gemini cannot be reached, then hangs up after it was heard', async () => {
    stack = await startLocalStack({
      scenario: join(SCENARIOS, 'test-tools.json'),
      gemini: { speech: 'synthetic', faults: { refuseConnections: 1000 } },
      session: { maxFreshAttempts: 2, backoffBaseMs: 5, backoffMaxMs: 20 },
    });
    const call = await stack.placeCall({ idleMedia: 'silence' });
    const ended = await stack.callEnded(call.callUuid, 20_000);
    expect(ended.endReason).toBe('gemini-unavailable');
    const promptMs = (loadPromptAudio().length / 24_000) * 1000;
    const heardMs = (call.playedPcm8k().length / 8000) * 1000;
    expect(heardMs).toBeGreaterThan(promptMs - 100);
    const fatal = call.received.find(
      (e) => e.event === 'checkpoint' && String((e.msg as { name: string }).name).startsWith('fatal-'),
    );
    expect(fatal).toBeDefined();
    const lastAudioEnd = wallTime(Math.max(...call.played.map((p) => p.endAt)));
    const hangup = stack.plivo.requests.find((r) => r.method === 'DELETE' && r.path.includes('/Call/'));
    expect(hangup).toBeDefined();
    expect(hangup!.at).toBeGreaterThanOrEqual(lastAudioEnd - 25);
    const record = await stack.store.get(call.callUuid);
    expect(record?.endReason).toBe('gemini-unavailable');
  });
});

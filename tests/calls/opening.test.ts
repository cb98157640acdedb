// When the agent speaks first, and what happens on an answering machine: the call logic with in-test fakes of the
// session and the phone leg (the wire paths are covered in tests/server/main-e2e.test.ts and tests/e2e/).
import { afterEach, describe, expect, it } from 'vitest';
import { CallManager } from '../../src/calls/call-manager.ts';
import { loadConfig } from '../../src/config.ts';
import type { AnswerInfo, CallContext } from '../../src/contract/call.ts';
import { emulatorEnv } from '../../src/demo/emulator-env.ts';
import { createMemoryCallStore } from '../../src/store/memory.ts';
import type { CallStore } from '../../src/store/types.ts';
import { FakeLeg, ms, sessionFactory, startInfo, until } from './helpers/fakes.ts';
import { recordingPlivoApi } from './helpers/plivo-fake.ts';

let store: CallStore;
let manager: CallManager | undefined;

afterEach(async () => {
  await manager?.close();
  await store?.close();
  manager = undefined;
});

function setup(env: Record<string, string> = {}) {
  const config = loadConfig(
    emulatorEnv({
      DRAIN_TIMEOUT_S: '0',
      OUTBOUND_OPENING_SILENCE_MS: '5000',
      OUTBOUND_OPENING_PAUSE_MS: '300',
      ...env,
    }),
  );
  store = createMemoryCallStore();
  const factory = sessionFactory();
  const plivo = recordingPlivoApi();
  manager = new CallManager({
    config,
    store,
    createSession: factory.create,
    plivoApi: plivo.api,
    timing: { recordFlushMs: 20, goodbyeSettleMs: 30, hangupGraceMs: 60 },
  });
  const answer = async (callId: string, direction: 'inbound' | 'outbound') => {
    const from = direction === 'inbound' ? '+14155550123' : config.plivo.phoneNumber;
    const to = direction === 'inbound' ? config.plivo.phoneNumber : '+14155550123';
    const info: AnswerInfo = { callId, direction, from, to, callStatus: 'in-progress', machine: undefined, raw: {} };
    const base: CallContext = { callId, direction, from, to, openingReason: 'the spring offer' };
    const ctx = await manager!.onAnswer(info, base);
    const leg = new FakeLeg(callId);
    const handler = manager!.attachStream(ctx, leg, startInfo(callId));
    return { session: factory.sessions.at(-1)!, leg, handler };
  };
  return { config, factory, plivo, answer, manager };
}

/** `n` 20 ms frames of caller audio at a constant level (16 kHz). */
function frames(handler: { onCallerAudio(pcm: Int16Array): void }, n: number, level: number): void {
  const frame = new Int16Array(320);
  for (let i = 0; i < frame.length; i++) frame[i] = i % 2 === 0 ? level : -level;
  for (let i = 0; i < n; i++) handler.onCallerAudio(frame);
}

describe('opening turn', () => {
  it('inbound: sent at once, from prompts/opening-inbound.md', async () => {
    const { answer } = setup();
    const { session } = await answer('in-1', 'inbound');
    expect(session.texts).toHaveLength(1);
    expect(session.texts[0]).toContain('Greet them now');
    expect(session.texts[0]).not.toContain('<!--');
  });

  it('outbound: waits while the callee says "Hello?", sends once they pause', async () => {
    const { answer } = setup();
    const { session, handler } = await answer('out-1', 'outbound');
    frames(handler, 5, 0); // line noise before they speak
    frames(handler, 20, 3000); // "Hello?" (400 ms)
    expect(session.texts).toEqual([]);
    frames(handler, 10, 20); // 200 ms pause: not yet
    expect(session.texts).toEqual([]);
    frames(handler, 5, 20); // 300 ms pause
    expect(session.texts).toHaveLength(1);
    expect(session.texts[0]).toContain('Begin with your outbound greeting now');
    expect(session.texts[0]).toContain('the spring offer');
    frames(handler, 50, 3000);
    frames(handler, 50, 0);
    expect(session.texts).toHaveLength(1);
  });

  it('outbound: a click shorter than speech does not count as "Hello?"', async () => {
    const { answer } = setup();
    const { session, handler } = await answer('out-2', 'outbound');
    frames(handler, 2, 3000);
    frames(handler, 50, 0);
    expect(session.texts).toEqual([]);
  });

  it('outbound: sends after OUTBOUND_OPENING_SILENCE_MS when the callee says nothing', async () => {
    const { answer } = setup({ OUTBOUND_OPENING_SILENCE_MS: '100' });
    const { session } = await answer('out-3', 'outbound');
    expect(session.texts).toEqual([]);
    await until(() => session.texts.length === 1, 2000);
    expect(session.texts[0]).toContain('Begin with your outbound greeting now');
  });

  it('outbound: no second greeting when the model already answered the callee by itself', async () => {
    const { answer } = setup({ OUTBOUND_OPENING_SILENCE_MS: '100' });
    const { session } = await answer('out-4', 'outbound');
    session.events.onAudio(ms(100));
    await new Promise((r) => setTimeout(r, 200));
    expect(session.texts).toEqual([]);
  });
});

describe('answering machine', () => {
  it('VOICEMAIL=hangup: hangs up at once, sends nothing to the model', async () => {
    const { answer, plivo } = setup();
    const { session } = await answer('vm-1', 'outbound');
    await manager!.onCallback('machine', { CallUUID: 'vm-1', Machine: 'true' });
    await until(() => plivo.log.some((l) => l.op === 'hangupCall'));
    expect(session.texts).toEqual([]);
    await until(() => manager!.activeCalls() === 0);
    const record = await store.get('vm-1');
    expect(record?.outcome).toBe('voicemail');
  });

  it('a human (Machine=false) changes nothing', async () => {
    const { answer, plivo } = setup({ OUTBOUND_OPENING_SILENCE_MS: '100' });
    const { session } = await answer('vm-2', 'outbound');
    await manager!.onCallback('machine', { CallUUID: 'vm-2', Machine: 'false' });
    await until(() => session.texts.length === 1, 2000);
    expect(plivo.log.some((l) => l.op === 'hangupCall')).toBe(false);
  });

  it('VOICEMAIL=message: the model says prompts/voicemail.md, the call ends once it was heard', async () => {
    const { answer, plivo } = setup({ VOICEMAIL: 'message' });
    const { session, leg, handler } = await answer('vm-3', 'outbound');
    await manager!.onCallback('machine', { CallUUID: 'vm-3', Machine: 'true' });
    expect(session.texts).toHaveLength(1);
    expect(session.texts[0]).toContain('answering machine');
    expect(session.texts[0]).toContain('We will try you again later');
    // Not before the message has even started.
    await new Promise((r) => setTimeout(r, 100));
    expect(plivo.log.some((l) => l.op === 'hangupCall')).toBe(false);
    session.events.onOutputTranscript('Hello, this is Ava');
    session.events.onAudio(ms(500));
    session.events.onTurnComplete();
    const name = leg.checkpoints().find((n) => n.startsWith('goodbye-'));
    expect(name).toBeDefined();
    expect(plivo.log.some((l) => l.op === 'hangupCall')).toBe(false);
    handler.onPlayed(name!);
    await until(() => plivo.log.some((l) => l.op === 'hangupCall'));
  });
});

import { afterEach, describe, expect, it } from 'vitest';
import { CallManager } from '../../src/calls/call-manager.ts';
import { loadConfig } from '../../src/config.ts';
import type { AnswerInfo, CallContext, HangupInfo } from '../../src/contract/call.ts';
import { emulatorEnv } from '../../src/demo/emulator-env.ts';
import { callSetupFailures } from '../../src/probes/counters.ts';
import { createMemoryCallStore } from '../../src/store/memory.ts';
import type { CallStore } from '../../src/store/types.ts';
import { FakeLeg, ms, sessionFactory, startInfo, until } from './helpers/fakes.ts';
import { recordingPlivoApi } from './helpers/plivo-fake.ts';

const config = loadConfig(emulatorEnv({ TRANSFER_NUMBER: '+14155550199', DRAIN_TIMEOUT_S: '0' }));

function answer(callId: string, direction: 'inbound' | 'outbound' = 'inbound'): [AnswerInfo, CallContext] {
  const from = direction === 'inbound' ? '+14155550123' : config.plivo.phoneNumber;
  const to = direction === 'inbound' ? config.plivo.phoneNumber : '+14155550123';
  return [
    { callId, direction, from, to, callStatus: 'in-progress', machine: undefined, raw: {} },
    { callId, direction, from, to },
  ];
}

function hangupInfo(callId: string): HangupInfo {
  return {
    callId,
    status: 'completed',
    hangupCause: 'NORMAL_CLEARING',
    hangupSource: 'Caller',
    durationS: 12,
    billDurationS: 60,
    answerTime: undefined,
    endTime: undefined,
    machine: undefined,
    raw: {},
  };
}

let store: CallStore;
let manager: CallManager | undefined;

function setup(timing = {}, factoryOptions: { connecting?: boolean } = {}) {
  store = createMemoryCallStore();
  const factory = sessionFactory(factoryOptions);
  const plivo = recordingPlivoApi();
  const ended: string[] = [];
  manager = new CallManager({
    config,
    store,
    createSession: factory.create,
    plivoApi: plivo.api,
    timing: { recordFlushMs: 20, goodbyeSettleMs: 30, hangupGraceMs: 60, ...timing },
    onCallEnded: (c) => ended.push(c.ctx.callId),
  });
  return { factory, plivo, ended, manager };
}

afterEach(async () => {
  await manager?.close();
  await store?.close();
});

describe('CallManager', () => {
  it('opens the Gemini session at answer with the inbound prompt and every tool', async () => {
    const { factory, manager } = setup();
    const [info, base] = answer('call-1');
    const ctx = await manager.onAnswer(info, base);
    expect(ctx).toEqual(base);
    expect(factory.sessions).toHaveLength(1);
    const opts = factory.sessions[0]!.opts;
    expect(opts.callId).toBe('call-1');
    expect(opts.systemPrompt).toContain('customer service');
    expect(opts.tools.map((t) => t.name).sort()).toEqual(
      ['check_order_status', 'end_call', 'schedule_callback', 'send_sms', 'transfer_call'].sort(),
    );
    const record = await store.get('call-1');
    expect(record?.status).toBe('in-progress');
    expect(record?.direction).toBe('inbound');
    // A warm session is not an active call until its stream attaches (it may attach on another replica).
    expect(manager.activeCalls()).toBe(0);
    expect(manager.warmSessions()).toBe(1);
  });

  it('enriches an outbound call from its stored record and templates the prompt', async () => {
    const { factory, manager } = setup();
    const now = new Date().toISOString();
    await store.create({
      id: 'out-7',
      plivoCallUuid: 'req-7',
      direction: 'outbound',
      from: config.plivo.phoneNumber,
      to: '+14155550123',
      campaignId: 'camp-1',
      openingReason: 'your demo request for TechFlow Teams',
      objective: 'book a meeting with sales',
      variables: { customer_name: 'Dana {{objective}}' },
      status: 'ringing',
      timeline: [{ status: 'ringing', at: now }],
      createdAt: now,
      transcript: [],
      toolCalls: [],
      callbacks: [],
      reconnects: 0,
    });
    const [info, base] = answer('req-7', 'outbound');
    const ctx = await manager.onAnswer(info, base);
    expect(ctx.outboundId).toBe('out-7');
    expect(ctx.campaignId).toBe('camp-1');
    const prompt = factory.sessions[0]!.opts.systemPrompt;
    expect(prompt).toContain('your demo request for TechFlow Teams');
    expect(prompt).toContain('book a meeting with sales');
    expect(prompt).toContain('customer name: Dana objective');
    expect(prompt).not.toContain('{{');
    const record = await store.get('out-7');
    expect(record?.status).toBe('in-progress');
    expect(record?.timeline.map((t) => t.status)).toEqual(['ringing', 'in-progress']);
  });

  it('plays audio spoken before the stream started once it attaches, then checkpoints the turn', async () => {
    const { factory, manager } = setup();
    const [info, base] = answer('call-2');
    const ctx = await manager.onAnswer(info, base);
    const s = factory.sessions[0]!;
    s.events.onAudio(ms(100));
    s.events.onOutputTranscript('Hello, thanks for calling.');
    s.events.onTurnComplete();
    const leg = new FakeLeg('call-2');
    const handler = manager.attachStream(ctx, leg, startInfo('call-2'));
    expect(leg.ops.map((o) => o.op)).toEqual(['play', 'flush', 'checkpoint']);
    handler.onCallerAudio(new Int16Array(320));
    handler.onCallerAudio(new Int16Array(320));
    expect(s.audioFrames).toBe(2);
  });

  it('checkpoints long turns periodically and at the end', async () => {
    const { factory, manager } = setup();
    const [info, base] = answer('call-3');
    const ctx = await manager.onAnswer(info, base);
    const leg = new FakeLeg('call-3');
    manager.attachStream(ctx, leg, startInfo('call-3'));
    const s = factory.sessions[0]!;
    for (let i = 0; i < 60; i++) s.events.onAudio(ms(20)); // 1.2 s
    s.events.onTurnComplete();
    expect(leg.checkpoints()).toEqual(['a1-500', 'a1-1000', 'a1-1200']);
  });

  it('clears the leg at once on barge-in and records what the caller heard', async () => {
    const { factory, manager } = setup();
    const [info, base] = answer('call-4');
    const ctx = await manager.onAnswer(info, base);
    const leg = new FakeLeg('call-4');
    const handler = manager.attachStream(ctx, leg, startInfo('call-4'));
    const s = factory.sessions[0]!;
    s.events.onInputTranscript('Where is my order?');
    s.events.onOutputTranscript('Let me tell you all about');
    for (let i = 0; i < 50; i++) s.events.onAudio(ms(20)); // 1 s sent
    handler.onPlayed('a1-500');
    leg.pendingMs = 300; // 700 ms played
    s.events.onInterrupted();
    expect(leg.ops.at(-1)).toEqual({ op: 'clear' });
    const call = manager.call('call-4')!;
    const agent = call.transcript.turns.find((t) => t.role === 'agent')!;
    expect(agent.interrupted).toBe(true);
    expect(agent.heardMs).toBe(700);
    // The next turn starts fresh.
    s.events.onAudio(ms(20));
    s.events.onTurnComplete();
    expect(leg.checkpoints().at(-1)).toBe('a2-20');
    await manager.onHangup(hangupInfo('call-4'));
    const record = await store.get('call-4');
    expect(record?.transcript.map((t) => [t.role, t.interrupted ?? false])).toEqual([
      ['caller', false],
      ['agent', true],
      ['agent', false],
    ]);
    expect(record?.status).toBe('completed');
    expect(record?.durationS).toBe(12);
  });

  it('runs tools off the audio path and answers each call by id; bad args get an error object', async () => {
    const { factory, manager } = setup();
    const [info, base] = answer('call-5');
    const ctx = await manager.onAnswer(info, base);
    manager.attachStream(ctx, new FakeLeg('call-5'), startInfo('call-5'));
    const s = factory.sessions[0]!;
    s.events.onToolCall([
      { id: 't1', name: 'check_order_status', args: { order_id: 'ord 1001' } },
      { id: 't2', name: 'check_order_status', args: { order_id: 42 } },
      { id: 't3', name: 'no_such_tool', args: {} },
    ]);
    await until(() => s.toolResponses.length === 3);
    const byId = Object.fromEntries(s.toolResponses.map((r) => [r.id, r]));
    expect(byId.t1?.response).toMatchObject({ found: true, order: { orderId: 'ORD-1001', status: 'shipped' } });
    expect(byId.t2?.response.error).toMatch(/Invalid arguments/);
    expect(byId.t3?.response.error).toMatch(/Unknown tool/);
    await manager.onHangup(hangupInfo('call-5'));
    const record = await store.get('call-5');
    expect(record?.toolCalls.map((t) => [t.id, t.outcome])).toEqual([
      ['t1', 'ok'],
      ['t2', 'error'],
      ['t3', 'error'],
    ]);
  });

  it('aborts a running tool on toolCallCancellation and does not answer it', async () => {
    const { factory } = setup();
    let sawAbort = false;
    manager = new CallManager({
      config,
      store,
      createSession: factory.create,
      timing: { recordFlushMs: 20 },
      tools: [
        {
          name: 'slow',
          description: 'slow',
          parameters: { type: 'object', properties: {} },
          args: (await import('zod')).z.object({}),
          handler: (_a, ctx) =>
            new Promise((resolve) => {
              ctx.signal.addEventListener('abort', () => {
                sawAbort = true;
                resolve({ late: true });
              });
            }),
        },
      ],
    });
    const [info, base] = answer('call-6');
    await manager.onAnswer(info, base);
    const s = factory.sessions[0]!;
    s.events.onToolCall([{ id: 'x1', name: 'slow', args: {} }]);
    s.events.onToolCallCancellation(['x1']);
    await until(() => manager!.call('call-6')!.toolCalls[0]!.outcome === 'cancelled');
    expect(sawAbort).toBe(true);
    expect(s.toolResponses).toHaveLength(0);
  });

  it('end_call hangs up only after Plivo confirms the goodbye was played', async () => {
    const { factory, plivo, manager } = setup({ hangupGraceMs: 5000 });
    const [info, base] = answer('call-7');
    const ctx = await manager.onAnswer(info, base);
    const leg = new FakeLeg('call-7');
    const handler = manager.attachStream(ctx, leg, startInfo('call-7'));
    const s = factory.sessions[0]!;
    s.events.onToolCall([{ id: 'e1', name: 'end_call', args: { reason: 'resolved' } }]);
    await until(() => s.toolResponses.length === 1);
    s.events.onAudio(ms(400)); // goodbye
    s.events.onTurnComplete();
    const goodbye = leg.checkpoints().find((n) => n.startsWith('goodbye-'));
    expect(goodbye).toBeDefined();
    await new Promise((r) => setTimeout(r, 50));
    expect(plivo.log.filter((l) => l.op === 'hangupCall')).toHaveLength(0);
    handler.onPlayed(goodbye!);
    await until(() => plivo.log.some((l) => l.op === 'hangupCall'));
    expect(plivo.log.find((l) => l.op === 'hangupCall')?.args).toEqual(['call-7']);
    await until(() => manager.activeCalls() === 0);
    const record = await store.get('call-7');
    expect(record?.endReason).toBe('resolved');
  });

  it('end_call falls back to a timed hang-up when playedStream never comes', async () => {
    const { factory, plivo, manager } = setup({ hangupGraceMs: 40 });
    const [info, base] = answer('call-8');
    const ctx = await manager.onAnswer(info, base);
    manager.attachStream(ctx, new FakeLeg('call-8'), startInfo('call-8'));
    factory.sessions[0]!.events.onToolCall([{ id: 'e1', name: 'end_call', args: {} }]);
    await until(() => plivo.log.some((l) => l.op === 'hangupCall'));
  });

  it('on a fatal session error plays the technical-difficulty prompt, then hangs up after it is heard', async () => {
    const { factory, plivo, manager } = setup({ hangupGraceMs: 5000 });
    const [info, base] = answer('call-9');
    const ctx = await manager.onAnswer(info, base);
    const leg = new FakeLeg('call-9');
    const handler = manager.attachStream(ctx, leg, startInfo('call-9'));
    factory.sessions[0]!.events.onFatal(new Error('every reconnect failed'));
    const play = leg.ops.find((o) => o.op === 'play');
    expect(play && play.op === 'play' && play.samples).toBeGreaterThan(24_000); // seconds of prompt audio
    const name = leg.checkpoints().find((n) => n.startsWith('fatal-'))!;
    expect(plivo.log).toHaveLength(0);
    handler.onPlayed(name);
    await until(() => plivo.log.some((l) => l.op === 'hangupCall'));
    await until(() => manager.activeCalls() === 0);
    expect((await store.get('call-9'))?.endReason).toBe('gemini-unavailable');
  });

  it('counts calls that could not be set up: a failed first Gemini connect, a warm session with no stream', async () => {
    const count = (r: string) => callSetupFailures.get(r) ?? 0;
    const connect = count('gemini-connect');
    const noStream = count('no-stream');
    const { factory, manager: m } = setup({}, { connecting: true });
    const [info, base] = answer('call-sf1');
    const ctx = await m.onAnswer(info, base);
    m.attachStream(ctx, new FakeLeg('call-sf1'), startInfo('call-sf1'));
    factory.sessions[0]!.events.onFatal(new Error('could not connect to Gemini Live'));
    expect(callSetupFailures.get('gemini-connect')).toBe(connect + 1);
    await m.close();
    // A session that was up, then lost, is not a setup failure; a warm session whose stream never came is.
    const next = setup();
    const m2 = new CallManager({
      config,
      store,
      createSession: next.factory.create,
      warmSessionTtlMs: 20,
      timing: { recordFlushMs: 20 },
    });
    const [info2, base2] = answer('call-sf2');
    manager = m2;
    await m2.onAnswer(info2, base2);
    await until(() => callSetupFailures.get('no-stream') === noStream + 1);
    const [info3, base3] = answer('call-sf3');
    const ctx3 = await m2.onAnswer(info3, base3);
    m2.attachStream(ctx3, new FakeLeg('call-sf3'), startInfo('call-sf3'));
    next.factory.sessions.at(-1)!.events.onFatal(new Error('every reconnect failed'));
    expect(callSetupFailures.get('gemini-connect')).toBe(connect + 1);
  });

  it('a fatal error before the stream attaches is played as soon as it does', async () => {
    const { factory, manager } = setup();
    const [info, base] = answer('call-10');
    const ctx = await manager.onAnswer(info, base);
    factory.sessions[0]!.events.onFatal(new Error('no connect'));
    const leg = new FakeLeg('call-10');
    manager.attachStream(ctx, leg, startInfo('call-10'));
    expect(leg.checkpoints().some((n) => n.startsWith('fatal-'))).toBe(true);
  });

  it('a stream on a replica that did not answer opens its own session', async () => {
    const { factory, manager } = setup();
    const ctx: CallContext = { callId: 'call-11', direction: 'inbound', from: '+14155550123', to: '+14155550100' };
    const leg = new FakeLeg('call-11');
    manager.attachStream(ctx, leg, startInfo('call-11'));
    expect(factory.sessions).toHaveLength(1);
    await new Promise((r) => setTimeout(r, 20));
    expect(await store.get('call-11')).toBeDefined();
  });

  it('closes a warm session whose stream never arrives', async () => {
    const { factory } = setup();
    manager = new CallManager({ config, store, createSession: factory.create, warmSessionTtlMs: 30 });
    const [info, base] = answer('call-12');
    await manager.onAnswer(info, base);
    await until(() => factory.sessions[0]!.closed);
    expect(manager.activeCalls()).toBe(0);
  });

  it('coalesces record writes instead of writing per transcript fragment', async () => {
    const { factory, manager } = setup({ recordFlushMs: 10_000 });
    const [info, base] = answer('call-13');
    const ctx = await manager.onAnswer(info, base);
    manager.attachStream(ctx, new FakeLeg('call-13'), startInfo('call-13'));
    const s = factory.sessions[0]!;
    for (let i = 0; i < 200; i++) s.events.onOutputTranscript(`word${i}`);
    s.events.onUsage({ promptTokenCount: 10, responseTokenCount: 5, totalTokenCount: 15, raw: {} });
    s.events.onReconnect({ kind: 'resume', reason: 'goAway', attempt: 1 });
    const handler = manager.call('call-13')!;
    handler.onStreamEnd('stop');
    await until(() => manager.activeCalls() === 0);
    const record = await store.get('call-13');
    expect(record?.transcript[0]?.text.split(' ')).toHaveLength(200);
    expect(record?.reconnects).toBe(1);
    expect(record?.usage).toMatchObject({ totalTokenCount: 15 });
    expect(record?.endReason).toBe('stream-stop');
  });
});

describe('moving calls at the drain deadline', () => {
  it('transfers a call at a resumable point and keeps its record open; without a handle: prompt, then hang-up', async () => {
    const { factory, plivo, manager: m } = setup();
    for (const id of ['mv-1', 'mv-2']) {
      const [info, base] = answer(id);
      await m.onAnswer(info, base);
      m.attachStream(base, new FakeLeg(id), startInfo(id));
    }
    factory.sessions[0]!.handle = 'handle-1';
    const legOf2 = m.call('mv-2')!.leg as FakeLeg;
    await m.migrateCalls((ctx, handle) => `https://gw.example/resume/${ctx.callId}.${handle}`);
    expect(plivo.log.filter((l) => l.op === 'transferCall').map((l) => l.args)).toEqual([
      ['mv-1', 'https://gw.example/resume/mv-1.handle-1'],
    ]);
    expect(factory.sessions[0]!.closed).toBe(true);
    m.call('mv-1')!.onStreamEnd('stop');
    await until(() => m.call('mv-1') === undefined);
    const rec = await store.get('mv-1');
    expect(rec?.endReason).toBeUndefined();
    // The call without a resumable point hears the technical-difficulty prompt (never silence).
    expect(legOf2.ops.some((o) => o.op === 'play')).toBe(true);
    expect(legOf2.checkpoints().length).toBeGreaterThan(0);
  }, 15_000);
});

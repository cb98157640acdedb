// The session against a scripted server (helpers/fake-live-server.ts), through the real @google/genai SDK.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type Config, loadConfig } from '../../src/config.ts';
import { emulatorEnv } from '../../src/demo/emulator-env.ts';
import { GatewayError } from '../../src/errors.ts';
import { createLiveSession, type LiveSessionTuning } from '../../src/gemini/live-session.ts';
import type { LiveSession, ToolDeclaration } from '../../src/gemini/types.ts';
import { rootLogger } from '../../src/log.ts';
import { uplinkCounters } from '../../src/probes/counters.ts';
import { type FakeConnection, type FakeLiveServer, startFakeLiveServer, waitFor } from './helpers/fake-live-server.ts';
import { type Recorder, ramp, recorder } from './helpers/recorder.ts';

const FRAME = 320; // 20 ms at 16 kHz
const CHUNK = 640; // default uplinkChunkMs 40

const tool: ToolDeclaration = {
  name: 'lookup_order',
  description: 'Find an order',
  parameters: { type: 'object', properties: { orderId: { type: 'string' } }, required: ['orderId'] },
};

let server: FakeLiveServer;
let sessions: LiveSession[] = [];

beforeEach(async () => {
  server = await startFakeLiveServer();
  sessions = [];
});

afterEach(async () => {
  await Promise.all(sessions.map((s) => s.close()));
  await server.close();
});

function gemini(overrides: Partial<Config['gemini']> = {}, env: Record<string, string> = {}): Config['gemini'] {
  return { ...loadConfig(emulatorEnv(env)).gemini, ...overrides };
}

function open(
  rec: Recorder,
  opts: { config?: Config['gemini']; transcript?: () => string; tuning?: LiveSessionTuning } = {},
): LiveSession {
  const s = createLiveSession(
    opts.config ?? gemini(),
    {
      callId: 'call-1',
      systemPrompt: 'You are a phone agent.',
      tools: [tool],
      events: rec.handlers,
      logger: rootLogger(),
      transcriptForContext: opts.transcript ?? (() => 'Caller: where is my order?\nAgent: let me check.'),
    },
    {
      baseUrl: server.baseUrl,
      backoffBaseMs: 10,
      backoffMaxMs: 40,
      closeWaitMs: 300,
      goAwayMarginMs: 0,
      stableConnectionMs: 0,
      ...opts.tuning,
    },
  );
  sessions.push(s);
  return s;
}

const b64 = (samples: Int16Array) =>
  Buffer.from(samples.buffer, samples.byteOffset, samples.byteLength).toString('base64');
const audioMsg = (samples: Int16Array) => ({
  serverContent: { modelTurn: { parts: [{ inlineData: { mimeType: 'audio/pcm;rate=24000', data: b64(samples) } }] } },
});
const sendFrames = (s: LiveSession, from: number, frames: number) => {
  for (let i = 0; i < frames; i++) s.sendAudio(ramp(from + i * FRAME, FRAME));
};
const audioMessages = (c: FakeConnection) => c.messages.filter((m) => m.realtimeInput !== undefined);
/** Samples in one realtimeInput audio message. */
const samplesIn = (m: Record<string, unknown>): number =>
  Buffer.from((m as { realtimeInput: { audio: { data: string } } }).realtimeInput.audio.data, 'base64').length / 2;
/** A 20 ms frame of a 1 kHz tone at `amplitude` (dBFS of the tone is 20·log10(amplitude / 32768 / √2)). */
const tone = (amplitude: number): Int16Array =>
  Int16Array.from({ length: FRAME }, (_, i) => Math.round(amplitude * Math.sin((2 * Math.PI * 1000 * i) / 16000)));

describe('connect and setup', () => {
  it('sends the setup the SDK builds from our config, on v1beta with the key', async () => {
    const rec = recorder();
    const s = open(rec, { config: gemini({}, { GEMINI_VAD_SILENCE_DURATION_MS: '600' }) });
    await s.ready();
    expect(s.state).toBe('ready');
    const c = server.connections[0]!;
    expect(c.url).toContain('google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent?key=');
    expect(c.setup).toEqual({
      model: 'models/gemini-2.5-flash-native-audio-preview-12-2025',
      generationConfig: {
        responseModalities: ['AUDIO'],
        speechConfig: { voiceConfig: { prebuiltVoiceConfig: { voiceName: 'Kore' } } },
      },
      systemInstruction: { parts: [{ text: 'You are a phone agent.' }], role: 'user' },
      tools: [
        {
          functionDeclarations: [
            {
              name: 'lookup_order',
              description: 'Find an order',
              parameters: { type: 'OBJECT', properties: { orderId: { type: 'STRING' } }, required: ['orderId'] },
            },
          ],
        },
      ],
      sessionResumption: {},
      inputAudioTranscription: {},
      outputAudioTranscription: {},
      realtimeInputConfig: {
        automaticActivityDetection: { disabled: false, silenceDurationMs: 600 },
        activityHandling: 'START_OF_ACTIVITY_INTERRUPTS',
      },
      contextWindowCompression: { slidingWindow: {} },
    });
  });

  it('buffers audio until setupComplete, then sends the backlog in order, then 40 ms chunks', async () => {
    server.onSetup = () => 'never';
    const rec = recorder();
    const s = open(rec);
    const c = await server.setupDone(0);
    sendFrames(s, 0, 11); // 220 ms before the session is ready
    expect(s.state).toBe('connecting');
    c.send({ setupComplete: {} });
    await s.ready();
    sendFrames(s, 11 * FRAME, 1); // 240 ms in all
    await waitFor(() => c.audio.length === 12 * FRAME, 2000, 'audio');
    expect(c.audio).toEqual(Array.from(ramp(0, 12 * FRAME)));
    const msgs = audioMessages(c);
    // The backlog is old audio: one message of up to a quiet chunk (200 ms) instead of five; then 40 ms chunks.
    expect(msgs.map(samplesIn)).toEqual([10 * FRAME, CHUNK]);
    expect(msgs[0]).toEqual({
      realtimeInput: { audio: { data: expect.any(String), mimeType: 'audio/pcm;rate=16000' } },
    });
    expect(s.stats().droppedAudioMs).toBe(0);
  });

  it('bounds the prebuffer, dropping the oldest audio and counting it', async () => {
    server.onSetup = () => 'never';
    const s = open(recorder(), { config: gemini({ prebufferMs: 100 }) });
    const c = await server.setupDone(0);
    sendFrames(s, 0, 10); // 200 ms into a 100 ms buffer
    c.send({ setupComplete: {} });
    await s.ready();
    // The newest 100 ms survive and go out in one message.
    await waitFor(() => c.audio.length === 5 * FRAME, 2000, 'audio');
    expect(c.audio).toEqual(Array.from(ramp(5 * FRAME, 5 * FRAME)));
    expect(s.stats().droppedAudioMs).toBe(100);
  });

  it('retries a failed first connection, then reports it fatal', async () => {
    server.onSetup = () => ({ close: 1011, reason: 'The service is currently unavailable.' });
    const rec = recorder();
    const s = open(rec, { tuning: { maxFreshAttempts: 2 } });
    await expect(s.ready()).rejects.toBeInstanceOf(GatewayError);
    expect(server.connections).toHaveLength(2);
    expect(rec.of('fatal')).toHaveLength(1);
    expect(s.state).toBe('closed');
  });

  it('does not retry a setup the service rejects as invalid (1007/1008)', async () => {
    server.onSetup = () => ({ close: 1008, reason: 'Operation is not implemented, or supported, or enabled.' });
    const rec = recorder();
    const s = open(rec, { tuning: { maxFreshAttempts: 3 } });
    const err = await s.ready().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GatewayError);
    expect((err as GatewayError).callId).toBe('call-1');
    expect(server.connections).toHaveLength(1);
    expect(rec.of('fatal')).toHaveLength(1);
  });

  it('gives up on a server that never answers setup after connectTimeoutMs, leaving no socket open', async () => {
    server.onSetup = () => 'never';
    const rec = recorder();
    const s = open(rec, { config: gemini({ connectTimeoutMs: 300 }), tuning: { maxFreshAttempts: 2 } });
    await expect(s.ready()).rejects.toThrow(/setupComplete/);
    expect(server.connections).toHaveLength(2);
    await Promise.all(server.connections.map((c) => c.closed));
    expect(rec.of('fatal')).toHaveLength(1);
  });
});

describe('downlink', () => {
  it('forwards audio, transcripts, turn events, usage and tool calls', async () => {
    const rec = recorder();
    const s = open(rec);
    await s.ready();
    const c = server.connections[0]!;
    c.send(audioMsg(ramp(100, 480)));
    c.send({ serverContent: { outputTranscription: { text: 'Hello there' } } });
    c.send({ serverContent: { inputTranscription: { text: 'Hi.', finished: true } } });
    c.send({
      serverContent: { turnComplete: true },
      usageMetadata: { promptTokenCount: 10, responseTokenCount: 5, totalTokenCount: 15 },
    });
    c.send({ serverContent: { interrupted: true } });
    c.send({ toolCall: { functionCalls: [{ id: 'fc1', name: 'lookup_order', args: { orderId: '42' } }] } });
    c.send({ toolCallCancellation: { ids: ['fc1', 'unknown'] } });
    await waitFor(() => rec.events.length === 8, 2000, 'events');
    expect(rec.events).toEqual([
      { type: 'audio', samples: Array.from(ramp(100, 480)) },
      { type: 'output', text: 'Hello there' },
      { type: 'input', text: 'Hi.' },
      {
        type: 'usage',
        usage: {
          promptTokenCount: 10,
          responseTokenCount: 5,
          totalTokenCount: 15,
          raw: { promptTokenCount: 10, responseTokenCount: 5, totalTokenCount: 15 },
        },
      },
      { type: 'turnComplete' },
      { type: 'interrupted' },
      { type: 'toolCall', calls: [{ id: 'fc1', name: 'lookup_order', args: { orderId: '42' } }] },
      { type: 'toolCancel', ids: ['fc1'] },
    ]);
  });

  it('decodes chunks of any size, including ones beyond the kept scratch buffer', async () => {
    const rec = recorder();
    const s = open(rec);
    await s.ready();
    const c = server.connections[0]!;
    const sizes = [1, 4000, 20_000, 150_000, 480];
    let start = 0;
    for (const n of sizes) {
      c.send(audioMsg(ramp(start, n)));
      start += n;
    }
    await waitFor(() => rec.of('audio').length === sizes.length, 3000, 'audio');
    start = 0;
    sizes.forEach((n, i) => {
      expect(rec.of('audio')[i]?.samples).toEqual(Array.from(ramp(start, n)));
      start += n;
    });
  });

  it('handles a bundled 3.x event (several parts, transcript and turnComplete in one message)', async () => {
    const rec = recorder();
    const s = open(rec);
    await s.ready();
    server.connections[0]!.send({
      serverContent: {
        modelTurn: {
          parts: [
            { inlineData: { mimeType: 'audio/pcm;rate=24000', data: b64(ramp(0, 3)) } },
            { text: 'thought' },
            { inlineData: { mimeType: 'audio/pcm;rate=24000', data: b64(ramp(3, 2)) } },
          ],
        },
        outputTranscription: { text: 'ok' },
        turnComplete: true,
      },
      usageMetadata: { promptTokenCount: 1, candidatesTokenCount: 2 },
    });
    await waitFor(() => rec.events.length === 5, 2000, 'events');
    expect(rec.events.map((e) => e.type)).toEqual(['audio', 'audio', 'output', 'usage', 'turnComplete']);
    expect(rec.of('audio').map((e) => e.samples)).toEqual([Array.from(ramp(0, 3)), Array.from(ramp(3, 2))]);
    expect(rec.of('usage')[0]?.usage.responseTokenCount).toBe(2);
  });

  it('survives malformed frames: not JSON, wrong shapes, bad base64, handlers that throw', async () => {
    let throwOnce = true;
    const rec = recorder({
      onOutputTranscript: () => {
        if (throwOnce) {
          throwOnce = false;
          throw new Error('handler bug');
        }
      },
    });
    const s = open(rec);
    await s.ready();
    const c = server.connections[0]!;
    c.sendRaw('this is not json', false);
    c.sendRaw(Buffer.from([0xff, 0x00, 0x7b]), true);
    c.sendRaw('{"serverContent":', true);
    for (const bad of [
      null,
      42,
      'str',
      [],
      { serverContent: 'x' },
      { serverContent: { modelTurn: { parts: 'x' } } },
      { serverContent: { modelTurn: { parts: [null, 1, { inlineData: { data: 7 } }] } } },
      { serverContent: { modelTurn: { parts: [{ inlineData: { mimeType: 'image/png', data: 'AAAA' } }] } } },
      { serverContent: { inputTranscription: { text: 5 } } },
      { toolCall: { functionCalls: [null, { name: 5 }, { id: 'x' }] } },
      { toolCall: { functionCalls: 'x' } },
      { toolCallCancellation: { ids: [1, null] } },
      { sessionResumptionUpdate: { newHandle: 5, resumable: 'yes' } },
      { goAway: 'soon' },
      { usageMetadata: { promptTokenCount: 'many' } },
    ]) {
      c.send(bad);
    }
    // Bad base64 decodes to whatever it decodes to; an odd byte is dropped rather than misread.
    c.send({ serverContent: { modelTurn: { parts: [{ inlineData: { data: '!!!AAE=' } }] } } });
    c.send({ serverContent: { outputTranscription: { text: 'first' } } });
    c.send({ serverContent: { outputTranscription: { text: 'still alive' } } });
    await waitFor(() => rec.of('output').length === 2, 2000, 'transcripts');
    expect(rec.of('output').map((e) => e.text)).toEqual(['first', 'still alive']);
    expect(rec.of('fatal')).toHaveLength(0);
    expect(s.state).toBe('ready');
    expect(server.connections).toHaveLength(1);
    const usage = rec.of('usage')[0]?.usage;
    expect(usage?.promptTokenCount).toBeUndefined();
  });

  it('plays audio cut out of the frame bytes exactly as the whole parse would, and falls back on bad data', async () => {
    const rec = recorder();
    const s = open(rec);
    await s.ready();
    const c = server.connections[0]!;
    const pcm = Int16Array.from({ length: 960 }, (_, i) => ((i * 911) % 30000) - 15000);
    const b64 = Buffer.from(pcm.buffer).toString('base64');
    const frame = (data: string) =>
      `{"serverContent":{"modelTurn":{"parts":[{"inlineData":{"mimeType":"audio/pcm;rate=24000","data":"${data}"}}]}}}`;
    // Canonical base64: decoded from the frame bytes.
    c.sendRaw(frame(b64), true);
    // Not canonical (no padding): refused by the byte decoder, so the frame is parsed whole and Node's decoder
    // reads it as it always did.
    c.sendRaw(frame('AAEC'.repeat(3).slice(0, 11)), true);
    // A raw newline inside the base64 makes the frame invalid JSON: dropped as malformed, as before.
    c.sendRaw(frame(`${b64.slice(0, 8)}\n${b64.slice(8)}`), true);
    // The only "data" key is a tool argument: the cut is not audio, the call's arguments arrive intact.
    c.sendRaw('{"toolCall":{"functionCalls":[{"id":"t1","name":"lookup_order","args":{"data":"ORD-1001"}}]}}', true);
    c.send({ serverContent: { outputTranscription: { text: 'sync' } } });
    await waitFor(() => rec.of('output').length === 1, 2000, 'transcript');
    const audio = rec.of('audio').map((e) => e.samples);
    const lenient = Buffer.from('AAEC'.repeat(3).slice(0, 11), 'base64');
    expect(audio).toEqual([
      Array.from(pcm),
      Array.from(new Int16Array(lenient.buffer, lenient.byteOffset, lenient.length >> 1)),
    ]);
    expect(rec.of('toolCall')[0]?.calls[0]).toMatchObject({
      id: 't1',
      name: 'lookup_order',
      args: { data: 'ORD-1001' },
    });
    expect(rec.of('fatal')).toHaveLength(0);
    expect(s.state).toBe('ready');
  });

  it('drops a malformed frame that arrives before setupComplete', async () => {
    server.onSetup = () => 'never';
    const rec = recorder();
    const s = open(rec);
    const c = await server.setupDone(0);
    c.sendRaw('garbage before setup', true);
    c.send({ setupComplete: {} });
    await s.ready();
    expect(s.state).toBe('ready');
  });
});

describe('tool responses', () => {
  it('sends responses for pending calls only', async () => {
    const rec = recorder();
    const s = open(rec);
    await s.ready();
    const c = server.connections[0]!;
    c.send({ toolCall: { functionCalls: [{ id: 'fc1', name: 'lookup_order', args: {} }] } });
    await waitFor(() => rec.of('toolCall').length === 1);
    s.sendToolResponses([
      { id: 'fc1', name: 'lookup_order', response: { output: { status: 'shipped' } } },
      { id: 'nope', name: 'lookup_order', response: { output: 'x' } },
    ]);
    s.sendToolResponses([{ id: 'fc1', name: 'lookup_order', response: { output: 'twice' } }]);
    await waitFor(() => c.messages.some((m) => m.toolResponse !== undefined));
    await new Promise((r) => setTimeout(r, 50));
    const responses = c.messages.filter((m) => m.toolResponse !== undefined);
    expect(responses).toEqual([
      {
        toolResponse: {
          functionResponses: [{ id: 'fc1', name: 'lookup_order', response: { output: { status: 'shipped' } } }],
        },
      },
    ]);
  });
});

describe('quiet uplink', () => {
  // Defaults: 40 ms chunks, 200 ms quiet chunks below -50 dBFS after a 1000 ms hangover.
  const LOUD = tone(3000); // about -24 dBFS: speech level
  const QUIET = tone(60); // about -58 dBFS: a quiet line's background

  async function ready(config?: Config['gemini']) {
    const s = open(recorder(), config ? { config } : {});
    await s.ready();
    return { s, c: server.connections[0]! };
  }
  const feed = (s: LiveSession, frame: Int16Array, frames: number) => {
    for (let i = 0; i < frames; i++) s.sendAudio(frame);
  };

  it('sends a quiet caller in 200 ms chunks after the hangover, and speech and its tail in 40 ms chunks', async () => {
    const { s, c } = await ready();
    const before = { ...uplinkCounters };
    feed(s, LOUD, 10); // 200 ms of speech: five 40 ms chunks
    // The 1000 ms hangover (the turn's end must not wait): 24 more 40 ms chunks; the 50th frame starts quiet mode
    // with two frames waiting.
    feed(s, QUIET, 50);
    feed(s, QUIET, 28); // 30 frames waiting: three 200 ms chunks
    await waitFor(() => c.audio.length === 88 * FRAME, 2000, 'audio');
    const sizes = audioMessages(c).map(samplesIn);
    expect(sizes).toEqual([...Array(29).fill(CHUNK), 10 * FRAME, 10 * FRAME, 10 * FRAME]);
    // What /metrics exports as gateway_gemini_uplink_messages_total{size}.
    expect({ chunk: uplinkCounters.chunk - before.chunk, quiet: uplinkCounters.quiet - before.quiet }).toEqual({
      chunk: 29,
      quiet: 3,
    });
  });

  it('flushes what waits, with the first loud frame, the moment the caller speaks again', async () => {
    const { s, c } = await ready();
    feed(s, QUIET, 50 + 8); // the hangover (24 chunks), then one 200 ms chunk
    await waitFor(() => c.audio.length === 58 * FRAME, 2000, 'audio');
    feed(s, QUIET, 7); // 140 ms waiting
    const before = audioMessages(c).length;
    feed(s, LOUD, 1);
    await waitFor(() => c.audio.length === 66 * FRAME, 2000, 'onset');
    // One message: the 140 ms of quiet and the loud frame, in order (nothing waits for a chunk to fill).
    expect(audioMessages(c).slice(before).map(samplesIn)).toEqual([8 * FRAME]);
    expect(c.audio.slice(65 * FRAME)).toEqual(Array.from(LOUD));
    feed(s, LOUD, 4); // back to 40 ms chunks
    await waitFor(() => c.audio.length === 70 * FRAME, 2000, 'speech');
    expect(
      audioMessages(c)
        .slice(before + 1)
        .map(samplesIn),
    ).toEqual([CHUNK, CHUNK]);
    expect(s.stats().droppedAudioMs).toBe(0);
  });

  it('is off when GEMINI_UPLINK_SILENCE_CHUNK_MS equals the chunk', async () => {
    const { s, c } = await ready(gemini({}, { GEMINI_UPLINK_SILENCE_CHUNK_MS: '40' }));
    const quietBefore = uplinkCounters.quiet;
    feed(s, QUIET, 80);
    await waitFor(() => c.audio.length === 80 * FRAME, 2000, 'audio');
    expect(new Set(audioMessages(c).map(samplesIn))).toEqual(new Set([CHUNK]));
    expect(uplinkCounters.quiet).toBe(quietBefore);
  });

  it('honours the threshold and the hangover settings', async () => {
    const { s, c } = await ready(
      gemini({}, { GEMINI_UPLINK_SILENCE_DBFS: '-70', GEMINI_UPLINK_SILENCE_HANGOVER_MS: '200' }),
    );
    feed(s, QUIET, 30); // -58 dBFS is loud against -70: fifteen 40 ms chunks
    // About -79 dBFS: the 200 ms hangover (four chunks, the 10th frame starts quiet mode with two waiting), then
    // 18 more frames: two 200 ms chunks.
    feed(s, tone(5), 28);
    await waitFor(() => c.audio.length === 58 * FRAME, 2000, 'audio');
    expect(audioMessages(c).map(samplesIn)).toEqual([...Array(19).fill(CHUNK), 10 * FRAME, 10 * FRAME]);
  });
});

describe('holding audio during tool calls', () => {
  it('holds caller audio while a call is pending and sends it after the response', async () => {
    const rec = recorder();
    const s = open(rec, { tuning: { holdAudioDuringToolCalls: true } });
    await s.ready();
    const c = server.connections[0]!;
    c.send({ toolCall: { functionCalls: [{ id: 'fc1', name: 'lookup_order', args: {} }] } });
    await waitFor(() => rec.of('toolCall').length === 1);
    sendFrames(s, 0, 4);
    await new Promise((r) => setTimeout(r, 30));
    expect(c.audio).toHaveLength(0);
    s.sendToolResponses([{ id: 'fc1', name: 'lookup_order', response: { output: 'ok' } }]);
    await waitFor(() => c.audio.length === 4 * FRAME, 2000, 'held audio');
    expect(c.audio).toEqual(Array.from(ramp(0, 4 * FRAME)));
    const kinds = c.messages.map((m) => Object.keys(m)[0]);
    expect(kinds.indexOf('toolResponse')).toBeLessThan(kinds.indexOf('realtimeInput'));
  });

  it('releases held audio when the server cancels the call', async () => {
    const rec = recorder();
    const s = open(rec, { tuning: { holdAudioDuringToolCalls: true } });
    await s.ready();
    const c = server.connections[0]!;
    c.send({ toolCall: { functionCalls: [{ id: 'fc1', name: 'lookup_order', args: {} }] } });
    await waitFor(() => rec.of('toolCall').length === 1);
    sendFrames(s, 0, 2);
    c.send({ toolCallCancellation: { ids: ['fc1'] } });
    await waitFor(() => c.audio.length === 2 * FRAME, 2000, 'released audio');
  });
});

describe('reconnects', () => {
  it('on goAway, closes the old socket, resumes with the latest handle, and carries the audio over', async () => {
    const rec = recorder();
    const s = open(rec);
    await s.ready();
    const c0 = server.connections[0]!;
    c0.send({ sessionResumptionUpdate: { newHandle: 'h1', resumable: true } });
    c0.send({ sessionResumptionUpdate: { newHandle: 'h2', resumable: true } });
    c0.send({ sessionResumptionUpdate: { newHandle: '', resumable: false } });
    server.onSetup = () => 'never';
    sendFrames(s, 0, 2);
    c0.send({ goAway: { timeLeft: '50s' } });
    const c1 = await server.setupDone(1);
    // Audio keeps coming during the switch.
    sendFrames(s, 2 * FRAME, 6);
    expect(s.state).toBe('reconnecting');
    expect(c1.setup?.sessionResumption).toEqual({ handle: 'h2' });
    // The old connection was closing or closed before the new one even sent its setup.
    expect(c1.earlierStatesAtSetup[0]).toBeGreaterThanOrEqual(2);
    expect(await c0.closed).toBe(1000);
    c1.send({ setupComplete: {} });
    await waitFor(() => c1.audio.length === 6 * FRAME, 2000, 'audio on the new connection');
    expect(c0.audio).toEqual(Array.from(ramp(0, 2 * FRAME)));
    expect(c1.audio).toEqual(Array.from(ramp(2 * FRAME, 6 * FRAME)));
    expect(rec.of('reconnect')).toEqual([{ type: 'reconnect', kind: 'resume', reason: 'goaway', attempt: 1 }]);
    expect(s.stats()).toEqual({ reconnects: 1, resumed: 1, fresh: 0, droppedAudioMs: 0 });
    expect(s.state).toBe('ready');
  });

  it('after goAway, waits for the agent turn to end and a fresh handle before switching', async () => {
    const rec = recorder();
    const s = open(rec);
    await s.ready();
    const c0 = server.connections[0]!;
    c0.send({ sessionResumptionUpdate: { newHandle: 'h1', resumable: true } });
    c0.send(audioMsg(ramp(0, 240)));
    c0.send({ goAway: { timeLeft: '30s' } });
    c0.send({ toolCall: { functionCalls: [{ id: 'fc1', name: 'lookup_order', args: {} }] } });
    c0.send({ serverContent: { turnComplete: true } });
    await waitFor(() => rec.of('toolCall').length === 1);
    await new Promise((r) => setTimeout(r, 50));
    expect(server.connections).toHaveLength(1); // tool pending
    s.sendToolResponses([{ id: 'fc1', name: 'lookup_order', response: { output: 'ok' } }]);
    await new Promise((r) => setTimeout(r, 50));
    expect(server.connections).toHaveLength(1); // handle h1 predates the call
    c0.send({ sessionResumptionUpdate: { newHandle: 'h2', resumable: true } });
    const c1 = await server.setupDone(1);
    expect(c1.setup?.sessionResumption).toEqual({ handle: 'h2' });
    await waitFor(() => rec.of('reconnect').length === 1);
    expect(rec.of('toolCancel')).toHaveLength(0);
  });

  it('switches anyway when the goAway deadline comes, reporting pending tool calls cancelled', async () => {
    const rec = recorder();
    const s = open(rec, { tuning: { goAwayMarginMs: 0 } });
    await s.ready();
    const c0 = server.connections[0]!;
    c0.send({ sessionResumptionUpdate: { newHandle: 'h1', resumable: true } });
    c0.send({ toolCall: { functionCalls: [{ id: 'fc1', name: 'lookup_order', args: {} }] } });
    c0.send({ goAway: { timeLeft: '0.2s' } });
    const c1 = await server.setupDone(1);
    expect(c1.setup?.sessionResumption).toEqual({ handle: 'h1' });
    await waitFor(() => rec.of('reconnect').length === 1);
    expect(rec.of('reconnect')[0]?.reason).toBe('goaway-deadline');
    expect(rec.of('toolCancel')).toEqual([{ type: 'toolCancel', ids: ['fc1'] }]);
    // A late response for the lost call is not sent to a session that never saw it.
    s.sendToolResponses([{ id: 'fc1', name: 'lookup_order', response: { output: 'late' } }]);
    await new Promise((r) => setTimeout(r, 50));
    expect(c1.messages.filter((m) => m.toolResponse !== undefined)).toHaveLength(0);
  });

  it('after goAway, does not wait for a silent server longer than goAwayMaxWaitMs', async () => {
    const rec = recorder();
    const s = open(rec, { tuning: { goAwayMarginMs: 5000, goAwayMaxWaitMs: 100 } });
    await s.ready();
    const c0 = server.connections[0]!;
    c0.send({ sessionResumptionUpdate: { newHandle: 'h1', resumable: true } });
    c0.send(audioMsg(ramp(0, 240))); // a turn starts, and then nothing more comes
    const sentAt = Date.now();
    c0.send({ goAway: { timeLeft: '50s' } });
    const c1 = await server.setupDone(1);
    // Mid-turn, so it waited for the turn to end, but only goAwayMaxWaitMs (timers never fire early).
    expect(Date.now() - sentAt).toBeGreaterThanOrEqual(95);
    expect(c1.setup?.sessionResumption).toEqual({ handle: 'h1' });
    await waitFor(() => rec.of('reconnect').length === 1);
    expect(rec.events.map((e) => e.type)).toEqual(['audio', 'turnComplete', 'reconnect']);
    expect(rec.of('reconnect')[0]?.reason).toBe('goaway-deadline');
  });

  it('ignores a malformed goAway duration and switches at once when quiet', async () => {
    const rec = recorder();
    const s = open(rec);
    await s.ready();
    server.connections[0]!.send({ goAway: { timeLeft: 'soon' } });
    await waitFor(() => rec.of('reconnect').length === 1);
    expect(rec.of('reconnect')[0]).toMatchObject({ kind: 'fresh', reason: 'goaway' });
  });

  it('on an unexpected drop mid-turn, closes the turn and resumes', async () => {
    const rec = recorder();
    const s = open(rec);
    await s.ready();
    const c0 = server.connections[0]!;
    c0.send({ sessionResumptionUpdate: { newHandle: 'h1', resumable: true } });
    c0.send(audioMsg(ramp(0, 240)));
    await waitFor(() => rec.of('audio').length === 1);
    c0.ws.terminate();
    const c1 = await server.setupDone(1);
    expect(c1.setup?.sessionResumption).toEqual({ handle: 'h1' });
    await waitFor(() => rec.of('reconnect').length === 1);
    expect(rec.events.map((e) => e.type)).toEqual(['audio', 'turnComplete', 'reconnect']);
    expect(rec.of('reconnect')[0]).toEqual({ type: 'reconnect', kind: 'resume', reason: 'closed:1006', attempt: 1 });
  });

  it('when resumption is refused, reconnects fresh and sends the transcript as context', async () => {
    const rec = recorder();
    const s = open(rec);
    await s.ready();
    const c0 = server.connections[0]!;
    c0.send({ sessionResumptionUpdate: { newHandle: 'h1', resumable: true } });
    await new Promise((r) => setTimeout(r, 20));
    server.onSetup = (c) =>
      c.setup?.sessionResumption && (c.setup.sessionResumption as { handle?: string }).handle
        ? { close: 1007, reason: 'Request contains an invalid argument.' }
        : 'complete';
    c0.ws.close(1011, 'Internal error occurred.');
    await waitFor(() => rec.of('reconnect').length === 1, 3000, 'reconnect');
    expect(server.connections).toHaveLength(3);
    const fresh = server.connections[2]!;
    expect(fresh.setup?.sessionResumption).toEqual({});
    expect(rec.of('reconnect')[0]).toEqual({ type: 'reconnect', kind: 'fresh', reason: 'closed:1011', attempt: 2 });
    await waitFor(() => fresh.messages.length > 0);
    const ctx = fresh.messages[0] as { clientContent: { turns: { role: string; parts: { text: string }[] }[] } };
    expect(ctx.clientContent).toMatchObject({ turnComplete: false });
    expect(ctx.clientContent.turns[0]?.role).toBe('user');
    expect(ctx.clientContent.turns[0]?.parts[0]?.text).toContain('Caller: where is my order?\nAgent: let me check.');
    expect(s.stats()).toMatchObject({ reconnects: 1, resumed: 0, fresh: 1 });
  });

  it('reconnects fresh without context when there is no handle and no transcript', async () => {
    const rec = recorder();
    const s = open(rec, { transcript: () => '' });
    await s.ready();
    server.connections[0]!.ws.close(1001, 'going away');
    await waitFor(() => rec.of('reconnect').length === 1, 3000, 'reconnect');
    expect(rec.of('reconnect')[0]?.kind).toBe('fresh');
    const c1 = server.connections[1]!;
    sendFrames(s, 0, 2);
    await waitFor(() => c1.audio.length === CHUNK, 2000, 'audio');
    expect(c1.messages.filter((m) => m.clientContent !== undefined)).toHaveLength(0);
  });

  it('when the fresh reconnect fails too, reports fatal once and goes quiet', async () => {
    const rec = recorder();
    const s = open(rec, { tuning: { maxFreshAttempts: 2 } });
    await s.ready();
    const c0 = server.connections[0]!;
    c0.send({ sessionResumptionUpdate: { newHandle: 'h1', resumable: true } });
    await new Promise((r) => setTimeout(r, 20));
    server.onSetup = () => ({ close: 1011, reason: 'The service is currently unavailable.' });
    c0.ws.terminate();
    await waitFor(() => rec.of('fatal').length === 1, 3000, 'fatal');
    expect(server.connections).toHaveLength(4); // first + resume + 2 fresh
    expect(rec.of('fatal')[0]?.error).toBeInstanceOf(GatewayError);
    expect((rec.of('fatal')[0]!.error as GatewayError).callId).toBe('call-1');
    expect(s.state).toBe('closed');
    s.sendAudio(ramp(0, FRAME));
    await s.close();
    expect(rec.of('reconnect')).toHaveLength(0);
  });

  it('does not count planned goAway rotations as drops, however frequent', async () => {
    const rec = recorder();
    const s = open(rec, { tuning: { stableConnectionMs: 60_000, maxQuickDrops: 1 } });
    await s.ready();
    for (let i = 0; i < 4; i++) {
      const c = await server.setupDone(i);
      await waitFor(() => s.state === 'ready', 3000, 'ready');
      c.send({ sessionResumptionUpdate: { newHandle: `h${i}`, resumable: true } });
      c.send({ goAway: { timeLeft: '10s' } });
      await waitFor(() => rec.of('reconnect').length === i + 1, 3000, 'reconnect');
    }
    expect(rec.of('fatal')).toHaveLength(0);
    expect(server.connections[4]?.setup?.sessionResumption).toEqual({ handle: 'h3' });
  });

  it('backs off on connections that keep dropping and gives up after maxQuickDrops', async () => {
    const rec = recorder();
    const s = open(rec, { tuning: { stableConnectionMs: 60_000, maxQuickDrops: 3 } });
    await s.ready();
    for (let i = 0; i < 4; i++) {
      const c = await server.setupDone(i);
      await waitFor(() => s.state === 'ready', 3000, 'ready');
      c.ws.terminate();
    }
    await waitFor(() => rec.of('fatal').length === 1, 3000, 'fatal');
    expect(rec.of('reconnect')).toHaveLength(3);
    expect(rec.of('fatal')[0]?.error.message).toMatch(/keeps dropping/);
  });
});

describe('close', () => {
  it('is idempotent, closes the socket and emits nothing afterwards', async () => {
    const rec = recorder();
    const s = open(rec);
    await s.ready();
    const c = server.connections[0]!;
    const p1 = s.close();
    const p2 = s.close();
    expect(p2).toBe(p1);
    await p1;
    expect(s.state).toBe('closed');
    expect(await c.closed).toBe(1000);
    s.sendAudio(ramp(0, FRAME));
    s.sendToolResponses([{ id: 'x', name: 'y', response: {} }]);
    await s.close();
    expect(rec.events).toEqual([]);
  });

  it('stops a connect in progress and rejects ready()', async () => {
    server.onSetup = () => 'never';
    const rec = recorder();
    const s = open(rec);
    const c = await server.setupDone(0);
    c.send(audioMsg(ramp(0, 10)));
    await s.close();
    await expect(s.ready()).rejects.toMatchObject({ code: 'GW_ERR_GEMINI_CLOSED' });
    await c.closed;
    c.ws.readyState === 1 && c.send({ setupComplete: {} });
    await new Promise((r) => setTimeout(r, 50));
    expect(rec.events).toEqual([]);
    expect(server.connections).toHaveLength(1);
  });

  it('stops a reconnect in progress', async () => {
    const rec = recorder();
    const s = open(rec);
    await s.ready();
    server.onSetup = () => 'never';
    server.connections[0]!.ws.terminate();
    const c1 = await server.setupDone(1);
    await s.close();
    await c1.closed;
    await new Promise((r) => setTimeout(r, 50));
    expect(rec.of('reconnect')).toHaveLength(0);
    expect(rec.of('fatal')).toHaveLength(0);
    expect(server.connections).toHaveLength(2);
  });

  it('emits nothing once an event handler has closed the session mid-message', async () => {
    let s: LiveSession | undefined;
    const rec = recorder({ onAudio: () => void s?.close() });
    s = open(rec);
    await s.ready();
    server.connections[0]!.send({
      serverContent: {
        modelTurn: { parts: [{ inlineData: { data: b64(ramp(0, 4)) } }, { inlineData: { data: b64(ramp(4, 4)) } }] },
        outputTranscription: { text: 'x' },
        turnComplete: true,
      },
    });
    await waitFor(() => s?.state === 'closed');
    await new Promise((r) => setTimeout(r, 30));
    expect(rec.events.map((e) => e.type)).toEqual(['audio']);
  });
});

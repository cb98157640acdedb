// Units of the operator features: the energy VAD, the per-call latency tracker, the two-channel recorder, webhook
// signatures, the price table and cost, PII redaction (webhook text and logs), and configuration problems.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { ulawEncodeInto } from '../../src/audio/g711.ts';
import { parseWav } from '../../src/audio/wav.ts';
import { loadConfig } from '../../src/config.ts';
import { emulatorEnv } from '../../src/demo/emulator-env.ts';
import { ConfigError } from '../../src/errors.ts';
import { LOG_REDACTION } from '../../src/log.ts';
import { CallLatency, type LatencySink, statOf } from '../../src/observability/latency.ts';
import { EnergyVad, frameDbfs } from '../../src/observability/vad.ts';
import { TwoChannelRecorder } from '../../src/recording/recorder.ts';
import { addUsage, DEFAULT_PRICES, estimateCost, parsePriceTable } from '../../src/records/cost.ts';
import { redactDeep, redactText } from '../../src/records/redact.ts';
import { callView, type OperatorRecord } from '../../src/records/view.ts';
import { backoffDelay } from '../../src/webhooks-out/deliverer.ts';
import { sign, verify } from '../../src/webhooks-out/sign.ts';

const tone = (n = 320, amp = 8000) => {
  const a = new Int16Array(n);
  for (let i = 0; i < n; i++) a[i] = Math.round(amp * Math.sin((2 * Math.PI * 300 * i) / 16000));
  return a;
};
const silence = (n = 320) => new Int16Array(n);

describe('energy VAD', () => {
  it('declares an onset after two loud frames, dated at the first, and keeps the last loud frame as end of speech', () => {
    const vad = new EnergyVad();
    expect(vad.push(silence(), 20)).toBe(false);
    expect(vad.push(tone(), 40)).toBe(false);
    expect(vad.push(tone(), 60)).toBe(true);
    expect(vad.onsetAt).toBe(20);
    expect(vad.speaking).toBe(true);
    for (let t = 80; t <= 200; t += 20) vad.push(tone(), t);
    for (let t = 220; t <= 600; t += 20) vad.push(silence(), t);
    expect(vad.lastSpeechAt).toBe(200);
    expect(vad.speaking).toBe(false);
    // A short pause inside an utterance is not a new onset.
    vad.push(tone(), 620);
    vad.push(tone(), 640);
    vad.push(silence(), 660);
    vad.push(tone(), 680);
    expect(vad.push(tone(), 700)).toBe(false);
    expect(vad.onsets).toBe(2);
  });

  it('ignores a single click and quiet noise, and takes empty frames', () => {
    const vad = new EnergyVad();
    vad.push(tone(), 20);
    vad.push(silence(), 40);
    vad.push(tone(320, 40), 60);
    vad.push(tone(320, 40), 80);
    vad.push(new Int16Array(0), 100);
    expect(vad.onsets).toBe(0);
    expect(frameDbfs(tone(320, 32767))).toBeGreaterThan(-4);
    expect(frameDbfs(silence())).toBe(Number.NEGATIVE_INFINITY);
  });
});

function recordingSink() {
  const seen: Array<[string, string, number]> = [];
  const sink: LatencySink = {
    greeting: (stage, ms) => seen.push(['greeting', stage, ms]),
    response: (ms) => seen.push(['response', '', ms]),
    bargeIn: (stage, ms) => seen.push(['barge-in', stage, ms]),
    gap: (ms) => seen.push(['gap', '', ms]),
  };
  return { seen, sink };
}

describe('per-call wire latency', () => {
  it('measures greeting, response, barge-in and gaps from wire events only', () => {
    const { seen, sink } = recordingSink();
    const l = new CallLatency(1000, sink);
    // Greeting: first frame sent 400 ms after the answer, confirmed played at 1900.
    l.playAudio(1400, 1400, 1, 20);
    for (let i = 1; i < 20; i++) l.playAudio(1400 + i * 20, 1400 + i * 20, -40, 20);
    // A frame that went out 30 ms after the audio ran dry, inside the turn: a gap.
    l.playAudio(1830, 1830, 30, 20);
    l.playedStream(1900);
    l.playedStream(2400);
    l.agentTurnEnd();
    // The caller speaks 2000..2600, the agent's answer starts 700 ms after the end of speech.
    for (let t = 2020; t <= 2600; t += 20) l.callerAudio(tone(), t);
    for (let t = 2620; t <= 3300; t += 20) l.callerAudio(silence(), t);
    l.playAudio(3300, 3300, 800, 20);
    // The caller barges in at 3500 (onset), clearAudio at 3650, clearedAudio at 3700.
    for (let t = 3520; t <= 3800; t += 20) l.callerAudio(tone(), t);
    l.clearAudio(3650);
    l.clearedAudio(3700);
    const s = l.summary();
    expect(s.greeting_sent_ms).toBe(400);
    expect(s.greeting_played_ms).toBe(900);
    expect(s.response_ms).toEqual({ count: 1, p50: 700, p95: 700, max: 700 });
    expect(s.barge_in_clear_sent_ms.p50).toBe(150);
    expect(s.barge_in_cleared_ms.p50).toBe(200);
    expect(s.gaps_ms.count).toBe(1);
    expect(s.gaps_ms.total).toBe(30);
    expect(s.turns.map((t) => t.kind)).toEqual(['greeting', 'response']);
    expect(seen.map((e) => `${e[0]}:${e[1]}`)).toEqual([
      'greeting:sent',
      'gap:',
      'greeting:played',
      'response:',
      'barge-in:clear_sent',
      'barge-in:cleared',
    ]);
  });

  it('does not count an agent turn that the caller did not prompt, nor a clear without caller speech', () => {
    const { seen, sink } = recordingSink();
    const l = new CallLatency(0, sink);
    l.playAudio(100, 100, 1, 20);
    l.agentTurnEnd();
    l.playAudio(5000, 5000, 4000, 20); // e.g. the answer after a tool result
    l.clearAudio(5100);
    l.clearedAudio(5150);
    expect(seen.map((e) => e[0])).toEqual(['greeting']);
  });

  it('gives nearest-rank percentiles', () => {
    expect(statOf([5, 1, 4, 2, 3])).toEqual({ count: 5, p50: 3, p95: 5, max: 5 });
    expect(statOf([])).toEqual({ count: 0, p50: 0, p95: 0, max: 0 });
  });
});

describe('two-channel recorder', () => {
  it('puts caller left and played agent audio right on the real timeline, and cuts the agent at clearAudio', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'rec-'));
    try {
      const path = join(dir, 'r.wav');
      const rec = new TwoChannelRecorder({ path, encoding: 'mulaw', sampleRate: 8000, t0: 0 });
      const pcm = new Int16Array(160);
      for (let i = 0; i < 160; i++) pcm[i] = i % 2 === 0 ? 8000 : -8000;
      const loud = new Uint8Array(160);
      ulawEncodeInto(pcm, loud, 160);
      // 6 s of caller audio (crosses the 4 s window, so part is flushed during the call), and agent frames
      // sent 60 ms ahead of when they play from 1 s on, until clearAudio at 3.2 s: interleaved as on the wire.
      for (let t = 20; t <= 6000; t += 20) {
        rec.caller(t > 3000 ? tone() : silence(), t);
        const play = t + 60;
        if (play >= 1000 && t < 3200) rec.agent(loud, 0, 160, play);
        if (t === 3200) rec.cut(3200);
      }
      const durationS = await rec.close();
      expect(durationS).toBeCloseTo(6, 1);
      const wav = parseWav(await readFile(path));
      expect(wav.channels).toBe(2);
      expect(wav.sampleRate).toBe(8000);
      const at = (ms: number, ch: 0 | 1) => wav.samples[((ms * 8) | 0) * 2 + ch]!;
      expect(Math.abs(at(1500, 1))).toBeGreaterThan(1000);
      expect(Math.abs(at(3190, 1))).toBeGreaterThan(1000);
      for (let ms = 3200; ms < 3400; ms += 5) expect(at(ms, 1)).toBe(0);
      expect(at(500, 1)).toBe(0);
      expect(at(1500, 0)).toBe(0);
      let callerEnergy = 0;
      for (let ms = 3100; ms < 3200; ms++) callerEnergy += Math.abs(at(ms, 0));
      expect(callerEnergy).toBeGreaterThan(0);
      expect(rec.cuts).toBe(1);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('webhook signature', () => {
  it('verifies HMAC-SHA256 over timestamp.body and refuses tampering, other secrets and stale timestamps', () => {
    const body = '{"event":"call.ended"}';
    const ts = 1_800_000_000;
    const sig = sign('s3cret-s3cret-s3cret', ts, body);
    expect(sig).toMatch(/^v1=[0-9a-f]{64}$/);
    const h = { signature: sig, timestamp: String(ts) };
    expect(verify('s3cret-s3cret-s3cret', h, body, ts)).toBe(true);
    expect(verify('s3cret-s3cret-s3cret', h, `${body} `, ts)).toBe(false);
    expect(verify('other-secret-other', h, body, ts)).toBe(false);
    expect(verify('s3cret-s3cret-s3cret', h, body, ts + 301)).toBe(false);
    expect(verify('s3cret-s3cret-s3cret', { signature: undefined, timestamp: String(ts) }, body, ts)).toBe(false);
    expect(verify('s3cret-s3cret-s3cret', { signature: sig, timestamp: 'soon' }, body, ts)).toBe(false);
  });

  it('backs off exponentially with jitter, capped', () => {
    expect(backoffDelay(1, 1000, 60_000, () => 0.5)).toBe(1000);
    expect(backoffDelay(4, 1000, 60_000, () => 0.5)).toBe(8000);
    expect(backoffDelay(20, 1000, 60_000, () => 0.5)).toBe(60_000);
    expect(backoffDelay(1, 1000, 60_000, () => 0)).toBe(800);
  });
});

describe('usage and cost', () => {
  it('sums usage by modality per turn and prices it from the table', () => {
    const u = { input: {}, output: {} };
    addUsage(u, {
      promptTokenCount: 1000,
      responseTokenCount: 500,
      promptTokensDetails: [
        { modality: 'AUDIO', tokenCount: 900 },
        { modality: 'TEXT', tokenCount: 100 },
      ],
      responseTokensDetails: [{ modality: 'AUDIO', tokenCount: 500 }],
    });
    // No details: counted as audio.
    addUsage(u, { promptTokenCount: 100, responseTokenCount: 50 });
    expect(u).toEqual({ input: { AUDIO: 1000, TEXT: 100 }, output: { AUDIO: 550 } });
    const cost = estimateCost(u, DEFAULT_PRICES, { direction: 'inbound', durationS: 61 });
    // 1000 × 3 + 100 × 0.5 per M in, 550 × 12 per M out.
    expect(cost.gemini_input).toBeCloseTo(0.00305, 8);
    expect(cost.gemini_output).toBeCloseTo(0.0066, 8);
    expect(cost.telephony).toBe(0);
    const priced = parsePriceTable('{"telephony_per_min":{"inbound":0.0085},"output_per_mtok":{"AUDIO":10}}');
    const c2 = estimateCost(u, priced, { direction: 'inbound', durationS: 61 });
    expect(c2.telephony).toBeCloseTo(0.017, 8);
    expect(c2.gemini_output).toBeCloseTo(0.0055, 8);
    expect(priced.input_per_mtok.AUDIO).toBe(3);
  });

  it('rejects a malformed price table with the reason', () => {
    expect(() => parsePriceTable('{nope')).toThrow(/must be JSON/);
    expect(() => parsePriceTable('{"output_per_mtok":{"AUDIO":-1}}')).toThrow(/output_per_mtok.AUDIO/);
    expect(() => parsePriceTable('{"surprise":1}')).toThrow();
  });
});

describe('privacy', () => {
  it('redacts phone numbers in webhook transcripts and tool arguments', () => {
    expect(redactText('call me on +1 (415) 555-0123 or 020 7946 0958, order ORD-1001')).toBe(
      'call me on [number] or [number], order ORD-1001',
    );
    expect(redactDeep({ a: ['my number is 4155550123'], n: 5 })).toEqual({ a: ['my number is [number]'], n: 5 });
  });

  it('WEBHOOK_REDACT_PII redacts the webhook transcript and tool calls, not the record fields', () => {
    const record: OperatorRecord = {
      id: 'c1',
      direction: 'inbound',
      from: '+14155550123',
      to: '+14155550100',
      status: 'completed',
      timeline: [],
      createdAt: '2026-12-04T10:00:00.000Z',
      transcript: [
        { role: 'caller', text: 'call me back on 415 555 0199 please', startedAt: '2026-12-04T10:00:01.000Z' },
      ],
      toolCalls: [
        { id: 't', name: 'schedule_callback', args: { phone: '+1 415 555 0199' }, startedAt: 'x', outcome: 'ok' },
      ],
      callbacks: [],
      reconnects: 0,
    };
    const plain = callView(record);
    expect(JSON.stringify(plain)).toContain('415 555 0199');
    const red = callView(record, { redact: true }) as { transcript: Array<{ text: string }>; from: string };
    expect(red.transcript[0]!.text).toBe('call me back on [number] please');
    expect(JSON.stringify(red)).not.toContain('0199');
    expect(red.from).toBe('+14155550123');
  });

  it('masks phone numbers and DTMF digits in logs and drops secrets', () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _enc, cb) {
        lines.push(String(chunk));
        cb();
      },
    });
    const log = pino({ redact: LOG_REDACTION }, sink);
    log.info(
      {
        from: '+14155550123',
        to: '+14155550100',
        digit: '7',
        params: { Digits: '1234', From: '+447700900123' },
        authToken: 'x',
      },
      'm',
    );
    const line = lines.join('');
    expect(line).not.toMatch(/4155550123|4155550100|1234|447700900123|"x"/);
    expect(JSON.parse(line)).toMatchObject({
      from: '***23',
      to: '***00',
      digit: '***',
      params: { Digits: '***', From: '***23' },
    });
  });
});

describe('configuration', () => {
  it('lists every operator setting problem at once', () => {
    try {
      loadConfig(
        emulatorEnv({
          POST_CALL_WEBHOOK_URL: 'https://hooks.example.com/calls',
          POST_CALL_WEBHOOK_SECRET: 'short',
          PRICE_TABLE: '{"output_per_mtok":{"AUDIO":"lots"}}',
          RECORDING: 'maybe',
        }),
      );
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      const m = (err as Error).message;
      expect(m).toContain('POST_CALL_WEBHOOK_SECRET');
      expect(m).toContain('PRICE_TABLE');
      expect(m).toContain('RECORDING');
    }
  });

  it('defaults: recording off, no webhook, documented prices', () => {
    const c = loadConfig(emulatorEnv());
    expect(c.operator.recording.enabled).toBe(false);
    expect(c.operator.webhook).toBeUndefined();
    expect(c.operator.redactPii).toBe(false);
    expect(c.operator.prices.output_per_mtok.AUDIO).toBe(12);
  });
});

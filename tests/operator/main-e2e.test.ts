// Operator truth through the production entry point (src/main.ts as its own process) against both emulators,
// with Redis as the call store and outbox: an inbound call's record by id (transcript, latency, cost), its
// two-channel recording cut at the barge-in, the signed post-call webhook, and — with a receiver that keeps
// failing and a gateway restart in between — exactly one record per call at the receiver.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseWav } from '../../src/audio/wav.ts';
import { emulatorEnv } from '../../src/demo/emulator-env.ts';
import { freePort } from '../../src/demo/free-port.ts';
import { type GeminiLiveEmulator, startGeminiLiveEmulator } from '../../src/emulators/gemini-live/index.ts';
import { startPlivoEmulator } from '../../src/emulators/plivo/index.ts';
import { heardAll, utterance } from '../e2e/helpers.ts';
import { startTestRedis, type TestRedis } from '../helpers/redis.ts';
import { channelRms, type Receiver, startReceiver, until } from './helpers.ts';

const MAIN = fileURLToPath(new URL('../../src/main.ts', import.meta.url));
const SCENARIO = join(import.meta.dirname, '../../scenarios/test-barge-in.json');
const SECRET = 'test-webhook-secret-0123456789';
const KEY = 'test-outbound-key';
const env = emulatorEnv();
const auth = { authorization: `Bearer ${KEY}` };

interface Proc {
  child: ChildProcess;
  exited: Promise<number | null>;
  out: () => string;
}

async function startMain(vars: Record<string, string>): Promise<Proc> {
  let out = '';
  const child = spawn(process.execPath, [MAIN], {
    env: { PATH: process.env.PATH, ...emulatorEnv(vars) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  const deadline = Date.now() + 20_000;
  while (!out.includes('gateway listening')) {
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`gateway did not start:\n${out}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return { child, exited, out: () => out };
}

describe('operator truth through src/main.ts, Redis store and outbox', () => {
  let gemini: GeminiLiveEmulator;
  let plivo: Awaited<ReturnType<typeof startPlivoEmulator>>;
  let redis: TestRedis;
  let receiver: Receiver;
  let recDir: string;
  let gw: Proc;
  let vars: Record<string, string>;
  let base = '';

  beforeAll(async () => {
    redis = await startTestRedis();
    receiver = await startReceiver(SECRET);
    recDir = await mkdtemp(join(tmpdir(), 'gw-rec-'));
    gemini = await startGeminiLiveEmulator({
      port: 0,
      apiKey: env.GEMINI_API_KEY,
      scenario: SCENARIO,
      speech: 'synthetic',
    });
    plivo = await startPlivoEmulator({
      authId: env.PLIVO_AUTH_ID!,
      authToken: env.PLIVO_AUTH_TOKEN!,
      // A number that is always busy: an outbound call that never reaches the gateway's media still gets a record.
      outbound: (to) => (to.endsWith('0198') ? { kind: 'busy', ringMs: 50 } : { kind: 'answer', ringMs: 50 }),
    });
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    vars = {
      SERVER_HOST: '127.0.0.1',
      SERVER_PORT: String(port),
      PUBLIC_URL: base,
      PLIVO_API_BASE_URL: plivo.restBaseUrl,
      GOOGLE_GEMINI_BASE_URL: gemini.baseUrl,
      OUTBOUND_API_KEY: KEY,
      STATE_STORE: 'redis',
      REDIS_URL: redis.url,
      POST_CALL_WEBHOOK_URL: receiver.url,
      POST_CALL_WEBHOOK_SECRET: SECRET,
      POST_CALL_WEBHOOK_BACKOFF_MS: '200',
      POST_CALL_WEBHOOK_MAX_BACKOFF_MS: '400',
      POST_CALL_WEBHOOK_MAX_ATTEMPTS: '100',
      RECORDING: 'on',
      RECORDING_DIR: recDir,
      LOG_LEVEL: 'info',
      DRAIN_TIMEOUT_S: '2',
    };
    gw = await startMain(vars);
  }, 40_000);

  afterAll(async () => {
    if (gw && gw.child.exitCode === null) gw.child.kill('SIGKILL');
    await plivo?.close();
    await gemini?.close();
    await receiver?.close();
    await redis?.stop();
    if (recDir) await rm(recDir, { recursive: true, force: true });
  });

  it('keeps an inbound call: record by id with transcript, latency and cost; recording cut at the barge-in; signed webhook', async () => {
    // The receiver fails the first two attempts of every call: the outbox retries.
    receiver.respond = (_key, before) => (before < 2 ? 500 : 200);
    const call = await plivo.placeInboundCall({
      answerUrl: `${base}/answer`,
      hangupUrl: `${base}/hangup`,
      from: '+14155550123',
      to: env.PLIVO_PHONE_NUMBER!,
      idleMedia: 'silence',
    });
    await until(() => call.played.length > 40, 10_000, 'greeting playing');
    // Listed while in progress.
    const live = (await (await fetch(`${base}/calls?limit=5`, { headers: auth })).json()) as {
      calls: Array<{ call_id: string; status: string }>;
    };
    expect(live.calls.find((c) => c.call_id === call.callUuid)?.status).toBe('in-progress');
    await call.sendAudio(utterance(400));
    await call.waitForEvent('clearAudio', undefined, 5000);
    const atClear = call.played.length;
    // The answer after the barge-in plays, then the caller hangs up.
    await until(() => call.played.length > atClear + 20, 10_000, 'answer playing');
    await heardAll(call, 300);
    await call.hangup();

    const url = `${base}/calls/${call.callUuid}`;
    // biome-ignore lint/suspicious/noExplicitAny: the API's JSON, checked field by field below
    let rec: Record<string, any> = {};
    await until(
      async () => {
        const res = await fetch(url, { headers: auth });
        if (res.status !== 200) return false;
        rec = (await res.json()) as typeof rec;
        return rec.latency !== undefined && rec.cost !== undefined;
      },
      15_000,
      'finalized record',
    );
    expect(rec.direction).toBe('inbound');
    expect(rec.status).toBe('completed');
    const greeting = rec.transcript.find((t: { role: string }) => t.role === 'agent');
    expect(greeting.text).toContain('Hello and welcome');
    expect(greeting.interrupted).toBe(true);
    expect(greeting.heard_ms).toBeGreaterThan(300);
    expect(rec.latency.greeting_sent_ms).toBeGreaterThan(0);
    expect(rec.latency.greeting_played_ms).toBeGreaterThanOrEqual(rec.latency.greeting_sent_ms);
    expect(rec.latency.barge_in_clear_sent_ms.count).toBe(1);
    expect(rec.latency.barge_in_cleared_ms.count).toBe(1);
    expect(rec.latency.response_ms.count).toBeGreaterThanOrEqual(1);
    expect(rec.latency.response_ms.p50).toBeGreaterThan(0);
    expect(rec.usage_by_modality.output.AUDIO).toBeGreaterThan(0);
    expect(rec.cost.total).toBeGreaterThan(0);
    expect(rec.cost.currency).toBe('USD');
    // Unauthenticated reads are refused like the outbound API's.
    expect((await fetch(url)).status).toBe(401);
    // The outbound status route keeps working (and keeps its outbound-only scope).
    expect((await fetch(`${base}/outbound/status/${call.callUuid}`, { headers: auth })).status).toBe(404);

    // Recording: two channels, caller left, agent right; the agent channel goes silent at the barge-in.
    expect(rec.recording_url).toBe(`${base}/calls/${call.callUuid}/recording`);
    const wavRes = await fetch(rec.recording_url, { headers: auth });
    expect(wavRes.status).toBe(200);
    const wav = parseWav(Buffer.from(await wavRes.arrayBuffer()));
    expect(wav.channels).toBe(2);
    expect(wav.sampleRate).toBe(8000);
    const frames = wav.samples.length / 2;
    let onset = -1;
    for (let i = 0; i < frames; i++) {
      if (Math.abs(wav.samples[i * 2]!) > 3000) {
        onset = i;
        break;
      }
    }
    expect(onset).toBeGreaterThan(0);
    const ms = (v: number) => Math.round((v * wav.sampleRate) / 1000);
    // The greeting was playing when the caller started to speak…
    expect(channelRms(wav.samples, 1, onset - ms(400), onset)).toBeGreaterThan(200);
    // …and the agent channel holds nothing from the cut until the answer (the cut is within a second of onset).
    let cut = -1;
    for (let i = onset; i < onset + ms(1000); i++) {
      let silent = true;
      for (let j = i; j < i + ms(400); j++) {
        if (wav.samples[j * 2 + 1] !== 0) {
          silent = false;
          break;
        }
      }
      if (silent) {
        cut = i;
        break;
      }
    }
    expect(cut).toBeGreaterThanOrEqual(onset);
    // The agent's answer after the barge-in is in the recording too.
    expect(channelRms(wav.samples, 1, cut + ms(400), frames)).toBeGreaterThan(100);

    // The webhook: retried after two 500s, signed, with the idempotency key and the same record.
    const key = `call.ended:${call.callUuid}`;
    await until(() => receiver.accepted.has(key), 15_000, 'webhook accepted');
    const attempts = receiver.deliveries.filter((d) => d.key === key);
    expect(attempts.map((d) => d.status)).toEqual([500, 500, 200]);
    expect(attempts.every((d) => d.signed)).toBe(true);
    expect(attempts.map((d) => d.attempt)).toEqual([1, 2, 3]);
    const body = receiver.accepted.get(key)! as { event: string; call: typeof rec };
    expect(body.event).toBe('call.ended');
    expect(body.call.call_id).toBe(call.callUuid);
    expect(body.call.latency.greeting_sent_ms).toBe(rec.latency.greeting_sent_ms);
    expect(body.call.recording_url).toBe(rec.recording_url);

    // The list finds it by direction and time; an outbound filter does not.
    const list = (await (await fetch(`${base}/calls?direction=inbound&limit=10`, { headers: auth })).json()) as {
      calls: Array<{ call_id: string }>;
    };
    expect(list.calls.map((c) => c.call_id)).toContain(call.callUuid);
    const none = (await (await fetch(`${base}/calls?direction=outbound`, { headers: auth })).json()) as {
      calls: unknown[];
    };
    expect(none.calls).toEqual([]);

    const metrics = await (await fetch(`${base}/metrics`)).text();
    for (const name of [
      'gateway_greeting_latency_seconds_bucket',
      'gateway_response_latency_seconds_bucket',
      'gateway_barge_in_stop_seconds_bucket',
      'gateway_agent_gap_seconds_bucket',
    ]) {
      expect(metrics).toContain(name);
    }
  }, 60_000);

  it('keeps outbound calls too, answered or not, listed by direction and campaign', async () => {
    receiver.respond = () => 200;
    const place = async (phone: string) => {
      const res = await fetch(`${base}/outbound/call`, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json' },
        body: JSON.stringify({ phone_number: phone, campaign_id: 'operator-e2e', opening_reason: 'a test' }),
      });
      expect(res.status).toBe(201);
      return ((await res.json()) as { call_id: string }).call_id;
    };
    const answeredId = await place('+14155550197');
    const busyId = await place('+14155550198');
    const answered = await plivo.waitForCall((c) => c.direction === 'outbound' && c.to.endsWith('0197'), 10_000);
    await answered.waitForEvent('playAudio', undefined, 10_000);
    await answered.hangup();
    for (const id of [answeredId, busyId]) {
      await until(() => receiver.accepted.has(`call.ended:${id}`), 15_000, `webhook of ${id}`);
    }
    const list = (await (
      await fetch(`${base}/calls?direction=outbound&campaign=operator-e2e`, { headers: auth })
    ).json()) as {
      calls: Array<{ call_id: string; status: string; latency?: { greeting_sent_ms: number } }>;
    };
    const byId = new Map(list.calls.map((c) => [c.call_id, c]));
    expect(byId.get(answeredId)?.status).toBe('completed');
    expect(byId.get(answeredId)?.latency?.greeting_sent_ms).toBeGreaterThan(0);
    expect(byId.get(busyId)?.status).toBe('busy');
    expect((await fetch(`${base}/outbound/status/${answeredId}`, { headers: auth })).status).toBe(200);
    const busyRecord = receiver.accepted.get(`call.ended:${busyId}`) as { call: { status: string; cost: unknown } };
    expect(busyRecord.call.status).toBe('busy');
  }, 40_000);

  it('delivers exactly one record per call across failing attempts and a gateway restart', async () => {
    let failing = true;
    receiver.respond = () => (failing ? 503 : 200);
    const calls = [];
    for (let i = 0; i < 3; i++) {
      const call = await plivo.placeInboundCall({
        answerUrl: `${base}/answer`,
        hangupUrl: `${base}/hangup`,
        from: `+1415555020${i}`,
        to: env.PLIVO_PHONE_NUMBER!,
        idleMedia: 'silence',
      });
      calls.push(call);
    }
    for (const c of calls) await c.waitForEvent('playAudio', undefined, 10_000);
    for (const c of calls) await c.hangup();
    const keys = calls.map((c) => `call.ended:${c.callUuid}`);
    // Every call has been attempted (and failed) at least once before the restart.
    await until(() => keys.every((k) => receiver.deliveries.some((d) => d.key === k)), 15_000, 'first attempts');
    gw.child.kill('SIGTERM');
    expect(await gw.exited).toBe(0);
    const failedBefore = receiver.deliveries.filter((d) => keys.includes(d.key)).length;
    gw = await startMain(vars);
    failing = false;
    await until(() => keys.every((k) => receiver.accepted.has(k)), 20_000, 'deliveries after restart');
    expect(receiver.deliveries.filter((d) => keys.includes(d.key)).length).toBeGreaterThan(failedBefore);
    // Exactly one record per call once deduplicated by key, and no stray keys.
    const ok = receiver.deliveries.filter((d) => d.status === 200);
    expect(new Set(ok.map((d) => d.key)).size).toBe(ok.length);
    for (const k of keys)
      expect((receiver.accepted.get(k) as { call: { call_id: string } }).call.call_id).toBe(k.slice(11));
    const dead = (await (await fetch(`${base}/webhooks/post-call`, { headers: auth })).json()) as {
      pending: number;
      dead_letters: unknown[];
    };
    expect(dead).toEqual({ pending: 0, dead_letters: [] });
  }, 90_000);
});

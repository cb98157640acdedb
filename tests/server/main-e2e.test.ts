// The production entry point (src/main.ts → src/app.ts) carries a real call: it runs as its own process with only
// environment variables pointing it at the Plivo and Gemini Live emulators, exactly as an operator would run it.
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { emulatorEnv } from '../../src/demo/emulator-env.ts';
import { freePort } from '../../src/demo/free-port.ts';
import { type GeminiLiveEmulator, startGeminiLiveEmulator } from '../../src/emulators/gemini-live/index.ts';
import { startPlivoEmulator } from '../../src/emulators/plivo/index.ts';

const MAIN = fileURLToPath(new URL('../../src/main.ts', import.meta.url));
const SCENARIO = join(import.meta.dirname, '../../scenarios/demo-order-status.json');
const env = emulatorEnv();
const ANSWERS = '+14155550199';
const MACHINE = '+14155550177';

/** The client text turns the emulator received (clientContent turns or realtimeInput.text), in order. */
function textTurns(session: { received: { msg: Record<string, unknown> }[] } | undefined): string[] {
  const out: string[] = [];
  for (const { msg } of session?.received ?? []) {
    const cc = msg.clientContent as { turns?: { parts?: { text?: string }[] }[] } | undefined;
    for (const t of cc?.turns ?? []) for (const p of t.parts ?? []) if (p.text) out.push(p.text);
    const rt = (msg.realtimeInput as { text?: string } | undefined)?.text;
    if (rt) out.push(rt);
  }
  return out;
}

describe('npm start (src/main.ts) against both emulators', () => {
  let gemini: GeminiLiveEmulator;
  let plivo: Awaited<ReturnType<typeof startPlivoEmulator>>;
  let child: ChildProcess;
  let exited: Promise<number | null>;
  let out = '';
  let base = '';

  beforeAll(async () => {
    gemini = await startGeminiLiveEmulator({
      port: 0,
      apiKey: env.GEMINI_API_KEY,
      scenario: SCENARIO,
      speech: 'synthetic',
    });
    plivo = await startPlivoEmulator({
      authId: env.PLIVO_AUTH_ID!,
      authToken: env.PLIVO_AUTH_TOKEN!,
      // The callee picks up and says nothing; the other number is an answering machine.
      outbound: (to) => (to.replace(/^\+/, '') === MACHINE.slice(1) ? { kind: 'machine' } : { kind: 'answer' }),
    });
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    child = spawn(process.execPath, [MAIN], {
      env: {
        PATH: process.env.PATH,
        ...emulatorEnv({
          SERVER_HOST: '127.0.0.1',
          SERVER_PORT: String(port),
          PUBLIC_URL: base,
          PLIVO_API_BASE_URL: plivo.restBaseUrl,
          // The SDK's own variable: how an operator points @google/genai elsewhere; the gateway never sets it.
          GOOGLE_GEMINI_BASE_URL: gemini.baseUrl,
          OUTBOUND_API_KEY: 'test-outbound-key',
          LOG_LEVEL: 'info',
          DRAIN_TIMEOUT_S: '2',
          OUTBOUND_OPENING_SILENCE_MS: '800',
          VOICEMAIL: 'message',
        }),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.stderr?.on('data', (d: Buffer) => {
      out += d.toString();
    });
    exited = new Promise((r) => child.on('exit', (code) => r(code)));
    const deadline = Date.now() + 20_000;
    while (!out.includes('gateway listening')) {
      if (Date.now() > deadline) throw new Error(`gateway did not start:\n${out}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }, 30_000);

  afterAll(async () => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    await plivo?.close();
    await gemini?.close();
  });

  it('answers an inbound call with the Gemini agent speaking on the phone', async () => {
    const call = await plivo.placeInboundCall({
      answerUrl: `${base}/answer`,
      hangupUrl: `${base}/hangup`,
      from: '+14155550123',
      to: env.PLIVO_PHONE_NUMBER!,
    });
    expect(call.answerXml).toContain('<Stream');
    await call.waitForEvent('playAudio', undefined, 15_000);
    const session = gemini.sessions[0];
    expect(session?.setup).toBeDefined();
    expect(JSON.stringify(session?.setup)).toContain('check_order_status');
    // The strict emulator never speaks first: the greeting the caller hears exists because the gateway sent the
    // opening turn (prompts/opening-inbound.md), before any caller audio.
    expect(textTurns(session)[0]).toContain('Greet them now');
    expect(session?.turns[0]).toBe('greeting');
    await call.hangup();
  }, 30_000);

  it('speaks first on an outbound call once the callee has been silent, with the outbound opening', async () => {
    const before = gemini.sessions.length;
    const res = await fetch(`${base}/outbound/call`, {
      method: 'POST',
      headers: { authorization: 'Bearer test-outbound-key', 'content-type': 'application/json' },
      body: JSON.stringify({
        phone_number: ANSWERS,
        campaign_id: 'main-e2e',
        opening_reason: 'your recent order',
        // The Python example's `context` parameter reaches the model's instructions.
        context: 'VIP customer, prefers mornings',
      }),
    });
    expect(res.status).toBe(201);
    const call = await plivo.waitForCall((c) => c.direction === 'outbound' && c.to.endsWith(ANSWERS.slice(1)), 15_000);
    await call.waitForEvent('playAudio', undefined, 15_000);
    const session = gemini.sessions[before];
    const instruction = JSON.stringify(session?.setup);
    expect(instruction).toContain('VIP customer, prefers mornings');
    expect(instruction).toContain(`The customer's number: ${ANSWERS}`);
    const turns = textTurns(session);
    expect(turns[0]).toContain('Begin with your outbound greeting now');
    expect(turns[0]).toContain('your recent order');
    expect(session?.turns[0]).toBe('greeting');
    await call.hangup();
  }, 30_000);

  it('leaves the voicemail message on an answering machine, then hangs up (VOICEMAIL=message)', async () => {
    const before = gemini.sessions.length;
    const res = await fetch(`${base}/outbound/call`, {
      method: 'POST',
      headers: { authorization: 'Bearer test-outbound-key', 'content-type': 'application/json' },
      body: JSON.stringify({ phone_number: MACHINE, campaign_id: 'main-e2e', opening_reason: 'your recent order' }),
    });
    expect(res.status).toBe(201);
    const call = await plivo.waitForCall((c) => c.direction === 'outbound' && c.to.endsWith(MACHINE.slice(1)), 15_000);
    await call.waitForEvent('playAudio', undefined, 15_000);
    await call.completed;
    const turns = textTurns(gemini.sessions[before]);
    // No outbound greeting: the only client turn is the voicemail message, and the gateway ended the call.
    expect(turns).toHaveLength(1);
    expect(turns[0]).toContain('answering machine');
    expect(turns[0]).toContain('We will try you again later');
    const hangups = plivo.requests.filter((r) => r.method === 'DELETE' && r.path.includes(call.callUuid));
    expect(hangups.length).toBeGreaterThan(0);
  }, 30_000);

  it('mounts the outbound API behind its bearer token and places calls through Plivo', async () => {
    const denied = await fetch(`${base}/outbound/call?phone_number=%2B14155550199`, { method: 'POST' });
    expect(denied.status).toBe(401);
    const res = await fetch(`${base}/outbound/call`, {
      method: 'POST',
      headers: { authorization: 'Bearer test-outbound-key', 'content-type': 'application/json' },
      body: JSON.stringify({ phone_number: '+14155550199', campaign_id: 'main-e2e', opening_reason: 'a test' }),
    });
    expect(res.status).toBe(201);
    const body = (await res.json()) as { call_id: string };
    const outbound = await plivo.waitForCall((c) => c.direction === 'outbound', 15_000);
    expect(outbound.to.replace(/^\+/, '')).toBe('14155550199');
    const status = await fetch(`${base}/outbound/status/${body.call_id}`, {
      headers: { authorization: 'Bearer test-outbound-key' },
    });
    expect(status.status).toBe(200);
  }, 30_000);

  it('drains and exits 0 on SIGTERM', async () => {
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  }, 30_000);
});

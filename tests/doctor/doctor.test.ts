// `npm run doctor` against both emulators and the real gateway: every check passes on a good setup, and each
// blocker stops it with a plain line naming what to fix.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import dotenv from 'dotenv';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { emulatorEnv } from '../../src/demo/emulator-env.ts';
import { type LocalStack, startLocalStack } from '../../src/demo/stack.ts';
import { BUNDLED_CALLER_LINE, readWav } from '../../src/doctor/caller-line.ts';
import { type DoctorResult, runDoctor } from '../../src/doctor/doctor.ts';
import type { Scenario } from '../../src/emulators/gemini-live/index.ts';
import { resetCredentialPools } from '../../src/gemini/credentials.ts';

const MAIN = fileURLToPath(new URL('../../src/doctor/main.ts', import.meta.url));
const NUMBER = '+14155550100';
const APP_ID = '20000000000001';

const scenario: Scenario = {
  name: 'doctor-test',
  speech: 'synthetic',
  responseDelayMs: 20,
  turns: [
    { id: 'greeting', trigger: 'opening', text: 'Hello, thanks for calling. How can I help?' },
    { id: 'answer', trigger: 'caller-speech', callerText: 'Hello, can you hear me?', text: 'Let me look that up.' },
  ],
};

let stack: LocalStack;
const line = { pcm: readWav(readFileSync(BUNDLED_CALLER_LINE)).pcm, source: 'bundled' as const };

beforeAll(async () => {
  stack = await startLocalStack({
    scenario,
    gemini: { speech: 'synthetic', timing: { realtime: false }, vad: { endSilenceMs: 300 } },
  });
}, 30_000);

afterAll(async () => {
  await stack?.close();
});

/** The number's application, as the Plivo console would hold it. */
function pointNumber(base: string, number = NUMBER): void {
  stack.plivo.applications.set(APP_ID, {
    app_id: APP_ID,
    app_name: 'gemini_plivo_gateway',
    answer_url: `${base}/answer`,
    answer_method: 'POST',
    hangup_url: `${base}/hangup`,
    hangup_method: 'POST',
  });
  stack.plivo.numbers.set(number.replace(/^\+/, ''), APP_ID);
}

beforeEach(() => {
  stack.plivo.numbers.clear();
  stack.plivo.applications.clear();
  pointNumber(stack.base);
  resetCredentialPools();
});

function env(over: Record<string, string> = {}): NodeJS.ProcessEnv {
  return emulatorEnv({
    PUBLIC_URL: stack.base,
    PLIVO_API_BASE_URL: stack.plivo.restBaseUrl,
    PLIVO_PHONE_NUMBER: NUMBER,
    ...over,
  });
}

function doctor(over: Record<string, string> = {}): Promise<DoctorResult> {
  return runDoctor({
    env: env(over),
    out: () => {},
    geminiBaseUrl: stack.gemini.baseUrl,
    audioTimeoutMs: 4000,
    httpTimeoutMs: 2000,
    callerLine: line,
  });
}

const text = (r: DoctorResult) => r.lines.join('\n');

/** A loopback port nothing listens on (bound, then released). */
function closedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

describe('npm run doctor against the emulators', () => {
  it('passes every check on a good setup and reports the Gemini timings', async () => {
    const r = await doctor();
    expect(text(r)).toContain('All checks passed');
    expect(r.ok).toBe(true);
    for (const what of [
      'Configuration',
      'Plivo account',
      'Plivo number',
      'PUBLIC_URL',
      'Signed webhooks',
      'Gemini Live',
    ]) {
      expect(r.lines.find((l) => l.startsWith(`✔ ${what}`))).toBeDefined();
    }
    expect(r.gemini!.connectMs).toBeGreaterThan(0);
    expect(r.gemini!.greetingFirstAudioMs).toBeGreaterThanOrEqual(0);
    expect(r.gemini!.answerFirstAudioMs).toBeGreaterThanOrEqual(0);
    // The greeting came because the doctor sent the opening turn; then the emulator heard the caller's audio.
    const session = stack.gemini.sessions.at(-1)!;
    expect(session.turns).toEqual(['greeting', 'answer']);
    expect(session.audioInMs).toBeGreaterThan(1000);
  });

  it('fails on configuration problems, listing them all (a wrong-case voice named with its spelling)', async () => {
    const r = await doctor({ GEMINI_VOICE: 'kore', PLIVO_AUTH_TOKEN: 'your_plivo_auth_token' });
    expect(r).toMatchObject({ ok: false, failed: 'config' });
    expect(text(r)).toMatch(/GEMINI_VOICE: .*"Kore"/);
    expect(text(r)).toMatch(/PLIVO_AUTH_TOKEN: .*placeholder/);
  });

  it('fails when Plivo refuses the credentials', async () => {
    const r = await doctor({ PLIVO_AUTH_TOKEN: 'not-the-token' });
    expect(r).toMatchObject({ ok: false, failed: 'plivo-account' });
    expect(text(r)).toContain('Plivo refused PLIVO_AUTH_ID / PLIVO_AUTH_TOKEN (HTTP 401)');
  });

  it('fails when the number is pointed elsewhere, showing both URLs', async () => {
    pointNumber('https://old-server.example.net');
    const r = await doctor();
    expect(r).toMatchObject({ ok: false, failed: 'plivo-number' });
    expect(text(r)).toContain('is pointed elsewhere');
    expect(text(r)).toContain('https://old-server.example.net/answer');
    expect(text(r)).toContain(`${stack.base}/answer`);
    expect(text(r)).toContain('PLIVO_AUTO_CONFIGURE=true');
  });

  it('fails when the number is not on the account, or has no application', async () => {
    expect(text(await doctor({ PLIVO_PHONE_NUMBER: '+14155550111' }))).toContain(
      'is not a number of this Plivo account',
    );
    stack.plivo.numbers.set(NUMBER.slice(1), '');
    const r = await doctor();
    expect(r.failed).toBe('plivo-number');
    expect(text(r)).toContain('has no application');
  });

  it('fails when PUBLIC_URL does not reach the gateway', async () => {
    const nowhere = `http://127.0.0.1:${await closedPort()}`;
    pointNumber(nowhere);
    const r = await doctor({ PUBLIC_URL: nowhere });
    expect(r).toMatchObject({ ok: false, failed: 'public-url' });
    expect(text(r)).toContain(`PUBLIC_URL: ${nowhere}/healthz is not reachable: ECONNREFUSED`);
    expect(text(r)).toContain('npm start');
  });

  it('fails when the gateway refuses signed webhooks (signatures cover the URL: PUBLIC_URL differs from its own)', async () => {
    const other = stack.base.replace('127.0.0.1', 'localhost');
    pointNumber(other);
    const r = await doctor({ PUBLIC_URL: other });
    expect(r).toMatchObject({ ok: false, failed: 'webhook-signature' });
    expect(text(r)).toContain('refused a request signed with PLIVO_AUTH_TOKEN (HTTP 403)');
  });

  it('fails with what a bad Gemini key means', async () => {
    const r = await doctor({ GEMINI_API_KEY: 'a-revoked-key' });
    expect(r).toMatchObject({ ok: false, failed: 'gemini' });
    expect(text(r)).toMatch(/Gemini closed the session: 1008 .*key.*\(check GEMINI_API_KEY/);
  });

  it('checks every Gemini credential when there are several, naming the bad one by label only', async () => {
    const good = await doctor({ GEMINI_API_KEYS: 'emulator-api-key' });
    expect(good.ok).toBe(true);
    const r = await doctor({ GEMINI_API_KEYS: 'emulator-api-key,a-revoked-second-key' });
    expect(r).toMatchObject({ ok: false, failed: 'gemini' });
    expect(text(r)).toMatch(/✘ Gemini credential 2-[0-9a-f]{6} \(2 of 2\): Gemini closed the session: 1008/);
    expect(text(r)).not.toContain('a-revoked-second-key');
    const two = await doctor({ GEMINI_API_KEY: '', GEMINI_API_KEYS: 'emulator-api-key,emulator-api-key ' });
    expect(two.ok).toBe(true); // repeats are dropped: one credential
  });

  it('fails with what a voice the service does not know means (unlisted voice let through)', async () => {
    const r = await doctor({ GEMINI_VOICE: 'Nova', GEMINI_VOICE_ALLOW_UNLISTED: 'true' });
    expect(r).toMatchObject({ ok: false, failed: 'gemini' });
    expect(text(r)).toMatch(/1007 "Request contains an invalid argument\.": .*voice.*\(check GEMINI_VOICE/);
  });

  it('fails when the agent answers the opening turn with no audio', async () => {
    stack.gemini.silenceTurns(1);
    const r = await doctor();
    expect(r).toMatchObject({ ok: false, failed: 'gemini' });
    expect(text(r)).toContain("the agent's turn ended with no audio");
  });
});

describe('npm run doctor (the command)', () => {
  function run(e: NodeJS.ProcessEnv): Promise<{ code: number | null; out: string }> {
    return new Promise((resolve) => {
      const child = spawn(process.execPath, [MAIN], {
        // A directory without .env: only this environment counts.
        cwd: fileURLToPath(new URL('.', import.meta.url)),
        env: { PATH: process.env.PATH, ...e },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (out += d.toString()));
      child.on('exit', (code) => resolve({ code, out }));
    });
  }

  it('exits 0 when every check passes (Gemini through GOOGLE_GEMINI_BASE_URL, as an operator points the SDK)', async () => {
    const r = await run({ ...env(), GOOGLE_GEMINI_BASE_URL: stack.gemini.baseUrl, LOG_LEVEL: 'info' });
    expect(r.out).toContain('All checks passed');
    expect(r.code).toBe(0);
  });

  it('exits 1 on .env.example as copied', async () => {
    const example = dotenv.parse(readFileSync(new URL('../../.env.example', import.meta.url)));
    const r = await run(example);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/✘ Configuration: \d+ problems/);
    expect(r.out).toContain('GEMINI_API_KEY: is still a placeholder');
  });
});

// `PLAYGROUND=true npm start`: the production entry point (src/main.ts → src/app.ts) prints the playground URL with
// a generated token, serves the page, and a playground call reaches the Gemini agent through the real SDK (pointed
// at the emulator with the SDK's own GOOGLE_GEMINI_BASE_URL, as an operator would).
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { emulatorEnv } from '../../src/demo/emulator-env.ts';
import { freePort } from '../../src/demo/free-port.ts';
import { type GeminiLiveEmulator, startGeminiLiveEmulator } from '../../src/emulators/gemini-live/index.ts';
import { PageClient } from './helpers.ts';

const MAIN = fileURLToPath(new URL('../../src/main.ts', import.meta.url));

describe('PLAYGROUND=true npm start', () => {
  let gemini: GeminiLiveEmulator;
  let child: ChildProcess;
  let exited: Promise<number | null>;
  let out = '';
  let base = '';

  beforeAll(async () => {
    gemini = await startGeminiLiveEmulator({
      port: 0,
      apiKey: 'emulator-api-key',
      scenario: join(import.meta.dirname, 'scenario.json'),
      speech: 'synthetic',
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
          GOOGLE_GEMINI_BASE_URL: gemini.baseUrl,
          LOG_LEVEL: 'info',
          DRAIN_TIMEOUT_S: '1',
          PLAYGROUND: 'true',
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
    while (!out.includes('talk to the agent in a browser')) {
      if (Date.now() > deadline) throw new Error(`gateway did not start:\n${out}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }, 30_000);

  afterAll(async () => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    await gemini?.close();
  });

  it('logs the URL with its generated token, and a playground call reaches the agent', async () => {
    const url = /"url":"([^"]+)"/.exec(out)?.[1] ?? '';
    expect(url.startsWith(`${base}/playground?token=`)).toBe(true);
    const token = new URL(url).searchParams.get('token') ?? '';
    expect(token.length).toBeGreaterThanOrEqual(16);
    expect((await fetch(url)).status).toBe(200);

    const r = await fetch(`${base}/playground/api/calls`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ voice: 'Puck' }),
    });
    const m = (await r.json()) as { callId: string; streamPath: string };
    const page = new PageClient(`${base.replace('http', 'ws')}${m.streamPath}`);
    await page.opened();
    page.start(m.callId);
    page.tone(30);
    page.silence(40);
    const deadline = Date.now() + 15_000;
    while (!page.received.some((x) => x.event === 'playAudio')) {
      if (Date.now() > deadline) throw new Error(`no agent audio:\n${out.slice(-2000)}`);
      await new Promise((res) => setTimeout(res, 50));
    }
    // The page's choices reach the Live session: the voice it picked.
    expect(JSON.stringify(gemini.sessions[0]?.setup)).toContain('Puck');
    page.stop(m.callId);
    expect(await page.closed).toBe(1000);
  }, 30_000);

  it('drains and exits 0 on SIGTERM', async () => {
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  }, 30_000);
});

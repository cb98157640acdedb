// The playground's HTTP/WebSocket surface and its stream lifecycle, without a browser: the production composition
// (src/app.ts) for the guard rails, the local stack (both emulators) for calls a Node client places by speaking
// Plivo's stream protocol exactly as the page does.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCallSide } from '../../src/app.ts';
import { createAudioEngine } from '../../src/audio/engine.ts';
import { loadConfig } from '../../src/config.ts';
import { emulatorEnv } from '../../src/demo/emulator-env.ts';
import { type LocalStack, startLocalStack } from '../../src/demo/stack.ts';
import { ConfigError } from '../../src/errors.ts';
import type { PlivoApi } from '../../src/plivo/api-types.ts';
import { mintStreamToken, verifyStreamToken } from '../../src/plivo/stream-token.ts';
import { type Gateway, startGateway } from '../../src/server/gateway.ts';
import { PageClient, upgradeStatus } from './helpers.ts';

const SCENARIO = join(import.meta.dirname, 'scenario.json');
const TOKEN = 'test-playground-token-0123456789';

const noPlivo: PlivoApi = {
  makeCall: () => Promise.reject(new Error('no')),
  hangupCall: () => Promise.reject(new Error('no')),
  transferCall: () => Promise.reject(new Error('no')),
  sendSms: () => Promise.reject(new Error('no')),
  configureNumber: () => Promise.reject(new Error('no')),
};

async function production(env: Record<string, string>): Promise<{ gateway: Gateway; close(): Promise<void> }> {
  const config = loadConfig(emulatorEnv({ SERVER_HOST: '127.0.0.1', SERVER_PORT: '0', ...env }));
  const { engine: audio } = await createAudioEngine({ backend: 'ts', execution: 'inline', poolThreads: 1 });
  const calls = createCallSide(config, noPlivo);
  const gateway = await startGateway({
    config,
    router: calls.router,
    audio,
    plivoApi: noPlivo,
    routes: calls.routes,
    publicUrl: (p) => `http://127.0.0.1:${p}`,
    defaultMetrics: false,
  });
  return {
    gateway,
    async close() {
      await gateway.close();
      await calls.close();
      await audio.close();
    },
  };
}

describe('playground routes in the production composition', () => {
  it('are not mounted unless PLAYGROUND=true', async () => {
    const app = await production({});
    try {
      const r = await fetch(`${app.gateway.publicUrl}/playground?token=anything`);
      expect(r.status).toBe(404);
      expect((await fetch(`${app.gateway.publicUrl}/playground/api/options`)).status).toBe(404);
    } finally {
      await app.close();
    }
  });

  it('rejects a PLAYGROUND_TOKEN too short to guard a free agent', () => {
    expect(() => loadConfig(emulatorEnv({ PLAYGROUND: 'true', PLAYGROUND_TOKEN: 'short' }))).toThrow(ConfigError);
  });

  describe('with PLAYGROUND=true', () => {
    let app: Awaited<ReturnType<typeof production>>;
    let base: string;
    const auth = { authorization: `Bearer ${TOKEN}` };

    beforeAll(async () => {
      app = await production({ PLAYGROUND: 'true', PLAYGROUND_TOKEN: TOKEN });
      base = app.gateway.publicUrl;
    });
    afterAll(async () => {
      await app?.close();
    });

    it('serves the page only with the token, with a strict content security policy', async () => {
      expect((await fetch(`${base}/playground`)).status).toBe(401);
      expect((await fetch(`${base}/playground?token=${TOKEN}x`)).status).toBe(401);
      const ok = await fetch(`${base}/playground?token=${TOKEN}`);
      expect(ok.status).toBe(200);
      expect(ok.headers.get('content-type')).toContain('text/html');
      expect(ok.headers.get('content-security-policy')).toContain("default-src 'self'");
      expect(await ok.text()).toContain('Agent playground');
      const js = await fetch(`${base}/playground/assets/app.js`);
      expect(js.headers.get('content-type')).toContain('javascript');
      expect((await fetch(`${base}/playground/assets/..%2Fconfig.ts`)).status).toBe(404);
    });

    it('guards the API with the bearer token', async () => {
      expect((await fetch(`${base}/playground/api/options`)).status).toBe(401);
      expect((await fetch(`${base}/playground/api/calls`, { method: 'POST', body: '{}' })).status).toBe(401);
      const o = (await (await fetch(`${base}/playground/api/options`, { headers: auth })).json()) as {
        voices: string[];
        defaultVoice: string;
      };
      expect(o.voices).toContain('Kore');
      expect(o.defaultVoice).toBe('Kore');
    });

    it('answers bad mint requests with a clear 400', async () => {
      const post = (body: string) =>
        fetch(`${base}/playground/api/calls`, {
          method: 'POST',
          headers: { ...auth, 'content-type': 'application/json' },
          body,
        });
      const notJson = await post('{nope');
      expect(notJson.status).toBe(400);
      expect(await notJson.json()).toEqual({ error: 'body must be JSON' });
      const badVoice = await post(JSON.stringify({ voice: 'Nobody' }));
      expect(badVoice.status).toBe(400);
      expect(JSON.stringify(await badVoice.json())).toContain('voice');
      expect((await post(JSON.stringify({ prompt: 'sideways' }))).status).toBe(400);
      expect((await post(JSON.stringify({ extra: 1 }))).status).toBe(400);
      expect((await post('x'.repeat(5000))).status).toBe(413);
    });

    it('mints a signed playground stream URL: direction playground, caller id browser', async () => {
      const r = await fetch(`${base}/playground/api/calls`, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json' },
        body: JSON.stringify({ prompt: 'outbound', voice: 'Puck', openingReason: 'your order shipped' }),
      });
      expect(r.status).toBe(201);
      const m = (await r.json()) as { callId: string; streamPath: string; eventsPath: string; voice: string };
      expect(m.voice).toBe('Puck');
      const ctx = verifyStreamToken(m.streamPath.slice('/stream/'.length), 'emulator-auth-token');
      expect(ctx).toMatchObject({
        callId: m.callId,
        direction: 'playground',
        from: 'browser',
        openingReason: 'your order shipped',
      });
      const ws = `${base.replace('http', 'ws')}${m.eventsPath}`;
      expect(await upgradeStatus(`${ws}?token=wrong`)).toBe(401);
      expect(await upgradeStatus(`${ws}?token=${TOKEN}`)).toBe(101);
    });
  });
});

describe('playground calls on the local stack', () => {
  let stack: LocalStack;
  let auth: Record<string, string>;

  beforeAll(async () => {
    stack = await startLocalStack({ scenario: SCENARIO, playground: true, gemini: { speech: 'synthetic' } });
    auth = { authorization: `Bearer ${stack.playground!.token}`, 'content-type': 'application/json' };
  });
  afterAll(async () => {
    await stack?.close();
  });

  const mint = async () => {
    const r = await fetch(`${stack.base}/playground/api/calls`, { method: 'POST', headers: auth, body: '{}' });
    expect(r.status).toBe(201);
    return (await r.json()) as { callId: string; streamPath: string; eventsPath: string };
  };

  it('a page hang-up (stop) ends the call like a caller hanging up: record completed, nothing sent to Plivo', async () => {
    const m = await mint();
    const events: Array<{ type: string }> = [];
    const ev = new WebSocket(`${stack.base.replace('http', 'ws')}${m.eventsPath}?token=${stack.playground!.token}`);
    ev.addEventListener('message', (e) => events.push(JSON.parse(String(e.data)) as { type: string }));
    const page = new PageClient(`${stack.base.replace('http', 'ws')}${m.streamPath}`);
    await page.opened();
    page.start(m.callId);
    page.silence(25);
    // A second stream for the same playground call is refused while the first is live.
    expect(await upgradeStatus(`${stack.base.replace('http', 'ws')}${m.streamPath}`)).toBe(409);
    page.stop(m.callId);
    const call = await stack.callEnded(m.callId);
    expect(call.endReason).toBe('stream-stop');
    const record = await stack.store.get(call.recordId);
    expect(record).toMatchObject({ direction: 'playground', from: 'browser' });
    await expect.poll(async () => (await stack.store.get(call.recordId))?.status, { timeout: 5000 }).toBe('completed');
    await expect.poll(() => events.some((e) => e.type === 'ended'), { timeout: 5000 }).toBe(true);
    expect(stack.plivo.requests).toEqual([]);
    ev.close();
  });

  it('refuses a playground stream token whose call was never minted, and phone calls carry on', async () => {
    const token = mintStreamToken(
      { callId: 'pg-forged', direction: 'playground', from: 'browser', to: '+15555550100' },
      { secret: stack.config.plivo.streamTokenSecret, ttlS: 60 },
    );
    const page = new PageClient(`${stack.base.replace('http', 'ws')}/stream/${token}`);
    await page.opened();
    page.start('pg-forged');
    expect(await page.closed).toBe(1011);
    expect(stack.playground!.activeCalls()).toBe(0);

    const phone = await stack.placeCall({ idleMedia: 'silence' });
    await expect.poll(() => stack.manager.activeCalls(), { timeout: 5000 }).toBe(1);
    await phone.hangup();
    await stack.callEnded(phone.callUuid);
  });

  it('bounds the number of open playground calls', async () => {
    let refused = 0;
    for (let i = 0; i < 12; i++) {
      const r = await fetch(`${stack.base}/playground/api/calls`, { method: 'POST', headers: auth, body: '{}' });
      if (r.status === 429) refused++;
      else expect(r.status).toBe(201);
    }
    expect(refused).toBeGreaterThan(0);
  });
});

describe('the simulated phone', () => {
  let stack: LocalStack;

  beforeAll(async () => {
    stack = await startLocalStack({
      scenario: {
        name: 'playground-transfer',
        speech: 'synthetic',
        responseDelayMs: 50,
        turns: [
          { trigger: 'opening', text: 'Hi.' },
          {
            trigger: 'caller-speech',
            callerText: 'Put me through to a person, please.',
            text: 'Of course, transferring you now.',
            toolCalls: [{ name: 'transfer_call', args: { reason: 'asked for a human' } }],
          },
        ],
      },
      playground: true,
      env: { TRANSFER_NUMBER: '+14155550199' },
    });
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('transfer_call is shown to the page and ends the stream; nothing reaches Plivo', async () => {
    const token = stack.playground!.token;
    const r = await fetch(`${stack.base}/playground/api/calls`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: '{}',
    });
    const m = (await r.json()) as { callId: string; streamPath: string; eventsPath: string };
    const events: Array<Record<string, unknown>> = [];
    const ev = new WebSocket(`${stack.base.replace('http', 'ws')}${m.eventsPath}?token=${token}`);
    ev.addEventListener('message', (e) => events.push(JSON.parse(String(e.data)) as Record<string, unknown>));
    const page = new PageClient(`${stack.base.replace('http', 'ws')}${m.streamPath}`);
    await page.opened();
    page.start(m.callId);
    page.tone(30);
    page.silence(40);
    const call = await stack.callEnded(m.callId, 15_000);
    expect(call.endReason).toBe('transferred');
    expect(events).toContainEqual(expect.objectContaining({ type: 'phone', action: 'transfer', to: '…0199' }));
    expect(page.received.some((x) => x.event === 'playAudio')).toBe(true);
    expect(await page.closed).toBeGreaterThan(0);
    const record = await stack.store.get(call.recordId);
    expect(record?.outcome).toBe('transferred');
    expect(record?.toolCalls.map((t) => t.name)).toEqual(['transfer_call']);
    expect(stack.plivo.requests).toEqual([]);
    ev.close();
  }, 20_000);
});

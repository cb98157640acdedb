// Fault injection: refused connections, abrupt drops, slow setup; plus the env-var route to the emulator.
import { GoogleGenAI, Modality } from '@google/genai';
import { afterEach, describe, expect, it } from 'vitest';
import { type GeminiLiveEmulator, startGeminiLiveEmulator } from '../../../src/emulators/gemini-live/index.ts';
import { MODEL, phoneConfig, SdkClient } from './helpers.ts';

let emu: GeminiLiveEmulator | undefined;
const clients: SdkClient[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.session.close();
  await emu?.close();
  emu = undefined;
});

const start = (faults: NonNullable<Parameters<typeof startGeminiLiveEmulator>[0]['faults']>) =>
  startGeminiLiveEmulator({ scenario: 'scenarios/test-tools.json', timing: { realtime: false }, faults });

describe('fault injection', () => {
  it('refuses the first N connections with 1011 "unavailable", then accepts', async () => {
    emu = await start({ refuseConnections: 2 });
    for (let i = 0; i < 2; i++) {
      const err = await SdkClient.connect(emu.baseUrl).catch((e: Error) => e);
      expect(String(err)).toMatch(/code 1011\): The service is currently unavailable\./);
    }
    const c = await SdkClient.connect(emu.baseUrl);
    clients.push(c);
    c.opening();
    await c.waitTurnComplete();
    expect(emu.sessions).toHaveLength(3);
    expect((await emu.sessions[0]!.closed).code).toBe(1011);
  });

  it('drops the first connection abruptly (1006) after dropAfterMs; the next one is not dropped', async () => {
    emu = await start({ dropAfterMs: 150 });
    const a = await SdkClient.connect(emu.baseUrl);
    const b = await SdkClient.connect(emu.baseUrl);
    clients.push(b);
    expect((await a.closed).code).toBe(1006);
    expect((await emu.sessions[0]!.closed).code).toBe(1006);
    await new Promise((r) => setTimeout(r, 200));
    const raced = await Promise.race([b.closed, Promise.resolve('open')]);
    expect(raced).toBe('open');
  });

  it('drop(code) sends the service reason for that code; drop() resets the TCP connection', async () => {
    emu = await start({});
    const a = await SdkClient.connect(emu.baseUrl);
    emu.sessions[0]!.drop(1011);
    expect(await a.closed).toEqual({ code: 1011, reason: 'Internal error occurred.' });
    const b = await SdkClient.connect(emu.baseUrl);
    emu.sessions[1]!.drop();
    expect((await b.closed).code).toBe(1006);
  });

  it('silentAfterGoAway: nothing after goAway until the close', async () => {
    emu = await startGeminiLiveEmulator({
      scenario: 'scenarios/test-barge-in.json',
      timing: { realtime: true, speedup: 2 },
      faults: { silentAfterGoAway: true },
    });
    const c = await SdkClient.connect(emu.baseUrl);
    c.opening();
    await c.waitFor((m) => m.serverContent?.modelTurn !== undefined);
    emu.sessions[0]!.goAway(300);
    const g = await c.waitFor((m) => m.goAway !== undefined);
    expect((await c.closed).code).toBe(1011);
    expect(c.messages.slice(c.messages.indexOf(g) + 1)).toEqual([]);
  });

  it('delays setupComplete by setupDelayMs; connect() waits for it', async () => {
    emu = await start({ setupDelayMs: 300 });
    const t0 = Date.now();
    const c = await SdkClient.connect(emu.baseUrl);
    clients.push(c);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(250);
    expect(c.messages[0]?.setupComplete).toBeDefined();
  });

  it('reachable through GOOGLE_GEMINI_BASE_URL', async () => {
    emu = await start({});
    const saved = process.env.GOOGLE_GEMINI_BASE_URL;
    process.env.GOOGLE_GEMINI_BASE_URL = emu.baseUrl;
    try {
      const ai = new GoogleGenAI({ apiKey: 'k' });
      const got: unknown[] = [];
      const session = await ai.live.connect({
        model: MODEL,
        config: { ...phoneConfig(), responseModalities: [Modality.AUDIO] },
        callbacks: { onmessage: (m) => got.push(m) },
      });
      expect(emu.sessions).toHaveLength(1);
      session.close();
      expect((await emu.sessions[0]!.closed).code).toBe(1005);
    } finally {
      if (saved === undefined) delete process.env.GOOGLE_GEMINI_BASE_URL;
      else process.env.GOOGLE_GEMINI_BASE_URL = saved;
    }
  });

  it('close() is idempotent and ends open sessions', async () => {
    emu = await start({});
    const c = await SdkClient.connect(emu.baseUrl);
    await Promise.all([emu.close(), emu.close()]);
    expect((await c.closed).code).toBe(1001);
    await emu.close();
  });
});

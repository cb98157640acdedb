// Real limits: connection lifetime with goAway before the deadline close, concurrent sessions per key and quota
// closes; and the faults the gateway must survive: silent agent turns and a setup that never completes.
import { afterEach, describe, expect, it } from 'vitest';
import {
  CLOSE,
  type GeminiLiveEmulator,
  type GeminiLiveEmulatorOptions,
  startGeminiLiveEmulator,
} from '../../../src/emulators/gemini-live/index.ts';
import { delay, SdkClient } from './helpers.ts';
import { liveUrl, rawConnect, SETUP } from './raw-ws.ts';

const DEADLINE = { code: 1011, reason: 'Deadline expired before operation could complete.' };
/** The quota reason, as it arrives: clamped to the 123-byte limit of a close reason. */
const QUOTA = /^code 1011\): You exceeded your current quota, please check your plan and billing details\./;

let emu: GeminiLiveEmulator | undefined;
const clients: SdkClient[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.session.close();
  await emu?.close();
  emu = undefined;
});

const start = async (extra: Partial<GeminiLiveEmulatorOptions> = {}) => {
  emu = await startGeminiLiveEmulator({
    scenario: 'scenarios/test-tools.json',
    timing: { realtime: false },
    speech: 'synthetic',
    ...extra,
  });
  return emu;
};

async function connect(apiKey?: string): Promise<SdkClient> {
  const c = await SdkClient.connect(emu!.baseUrl, undefined, apiKey ? { apiKey } : {});
  clients.push(c);
  return c;
}

const refusal = (apiKey?: string) =>
  SdkClient.connect(emu!.baseUrl, undefined, apiKey ? { apiKey } : {}).then(
    (c) => {
      clients.push(c);
      return 'connected';
    },
    (e: Error) => String(e).replace(/^.*\(code/, 'code'),
  );

describe('limits', () => {
  it('connection lifetime: goAway timeLeft before the end, then close 1011 "Deadline expired…"', async () => {
    await start({ limits: { connectionMs: 600, goAwayLeadMs: 250 } });
    const t0 = Date.now();
    const c = await connect();
    const g = await c.waitFor((m) => m.goAway !== undefined);
    expect(g.goAway!.timeLeft).toBe('0.250s');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(300);
    expect(await c.closed).toEqual(DEADLINE);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(550);
  });

  it('connectionMs 0 turns the lifetime off', async () => {
    await start({ limits: { connectionMs: 0 } });
    const c = await connect();
    await delay(200);
    expect(c.messages.some((m) => m.goAway)).toBe(false);
  });

  it('concurrent sessions per API key: one over the cap gets the quota close; a freed slot is reusable', async () => {
    await start({ limits: { maxSessionsPerKey: 2 } });
    const a = await connect('key-a');
    await connect('key-a');
    expect(await refusal('key-a')).toMatch(QUOTA);
    // Another key has its own slots.
    expect(await refusal('key-b')).toBe('connected');
    a.session.close();
    await a.closed;
    await delay(20);
    expect(await refusal('key-a')).toBe('connected');
  });

  it('quotaAfterSessions, setQuotaExceeded and a mid-session quota close', async () => {
    await start({ faults: { quotaAfterSessions: 1 } });
    const a = await connect();
    expect(await refusal()).toMatch(QUOTA);
    emu!.sessions[0]!.quotaExceeded();
    const closed = await a.closed;
    expect(closed.code).toBe(1011);
    expect(CLOSE.quota.reason.startsWith(closed.reason)).toBe(true);
    await emu!.close();

    const e = await start();
    e.setQuotaExceeded(true);
    expect(await refusal()).toMatch(QUOTA);
    e.setQuotaExceeded(false);
    expect(await refusal()).toBe('connected');
  });
});

describe('silent turns and stalled setups', () => {
  it('a silent turn: turnComplete with no audio and no transcript; the re-prompt gets the scripted turn', async () => {
    await start({ faults: { silentTurns: 1 } });
    const c = await connect();
    c.opening();
    const end = await c.waitTurnComplete();
    expect(c.audioBytes(0, end)).toBe(0);
    expect(c.outputText(0, end)).toBe('');
    expect(c.messages.slice(0, end).some((m) => m.serverContent?.generationComplete)).toBe(true);
    c.opening('Hello? Are you there?', 'realtime-text');
    const end2 = await c.waitTurnComplete(end);
    expect(c.outputText(end, end2)).toBe('Hi there.');
    expect(c.audioBytes(end, end2)).toBeGreaterThan(0);
    expect(emu!.sessions[0]!.turns).toEqual(['greeting:silent', 'greeting']);
  });

  it('near-zero variant: the turn has audio, all of it within ±2; silenceTurns(n) arms it on demand', async () => {
    await start({ faults: { silentTurnAudio: 'near-zero' } });
    const c = await connect();
    emu!.silenceTurns(1);
    c.opening();
    const end = await c.waitTurnComplete();
    const parts = c.messages.slice(0, end).flatMap((m) => m.serverContent?.modelTurn?.parts ?? []);
    expect(parts.length).toBeGreaterThan(1);
    let peak = 0;
    for (const p of parts) {
      const pcm = Buffer.from(p.inlineData!.data!, 'base64');
      for (let i = 0; i < pcm.length; i += 2) peak = Math.max(peak, Math.abs(pcm.readInt16LE(i)));
    }
    expect(peak).toBeLessThanOrEqual(2);
    expect(c.outputText(0, end)).toBe('');
    // Only one turn was armed: the next answer is real.
    c.opening('Hello?', 'realtime-text');
    const end2 = await c.waitTurnComplete(end);
    expect(c.outputText(end, end2)).toBe('Hi there.');
  });

  it('setup never completes: the socket stays open and silent; later connections are served', async () => {
    const e = await start({ faults: { setupNeverCompletes: 1 } });
    const raw = rawConnect(liveUrl(e.baseUrl));
    await raw.opened;
    raw.ws.send(JSON.stringify(SETUP));
    // SDK 3.x connect() has no timeout of its own: the client's own deadline is what saves it.
    await delay(300);
    expect(raw.frames).toEqual([]);
    expect(raw.ws.readyState).toBe(1);
    const c = await connect();
    expect(c.messages[0]?.setupComplete).toBeDefined();
    raw.ws.close();
  });
});

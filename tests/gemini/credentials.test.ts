// Several Gemini credentials: the pool on its own, then real sessions over real sockets against the Gemini Live
// emulator with per-key session caps and quota closes.
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { type Config, loadConfig } from '../../src/config.ts';
import { emulatorEnv } from '../../src/demo/emulator-env.ts';
import {
  type GeminiLiveEmulator,
  type Scenario,
  startGeminiLiveEmulator,
} from '../../src/emulators/gemini-live/index.ts';
import { createGenAIClient, resetGenAIClients } from '../../src/gemini/client.ts';
import {
  apiKeyCredentials,
  CredentialPool,
  credentialStats,
  resetCredentialPools,
} from '../../src/gemini/credentials.ts';
import { createLiveSession } from '../../src/gemini/live-session.ts';
import type { LiveSession } from '../../src/gemini/types.ts';
import { EdgeStats } from '../../src/plivo/edge-stats.ts';
import { createGatewayMetrics } from '../../src/server/metrics.ts';
import { waitFor } from './helpers/fake-live-server.ts';
import { recorder } from './helpers/recorder.ts';

const QUOTA = 'You exceeded your current quota, please check your plan and billing details.';

describe('CredentialPool', () => {
  it('spreads connections, skips a credential cooling down after a quota close, and respects the cap', () => {
    let now = 1000;
    const pool = new CredentialPool(apiKeyCredentials(['pool-a', 'pool-b', 'pool-c']), {
      maxSessions: 2,
      cooldownMs: 60_000,
      now: () => now,
    });
    const a = pool.acquire();
    const b = pool.acquire();
    expect([a.credential.apiKey, b.credential.apiKey]).toEqual(['pool-a', 'pool-b']);
    a.end(1011, QUOTA);
    a.end(1011, QUOTA); // idempotent
    // pool-a is cooling: the next two go to pool-c (free) and pool-b.
    expect(pool.acquire().credential.apiKey).toBe('pool-c');
    expect(pool.acquire().credential.apiKey).toBe('pool-b');
    expect(pool.acquire().credential.apiKey).toBe('pool-c');
    // b and c are at the cap of 2: only the cooling one is left, and it is used rather than refusing.
    expect(pool.acquire().credential.apiKey).toBe('pool-a');
    expect(pool.acquire().credential.apiKey).toBe('pool-a');
    expect(() => pool.acquire()).toThrow(/GEMINI_MAX_SESSIONS_PER_CREDENTIAL \(2\)/);
    now += 60_001;
    expect(pool.available()).toBe(0);
    b.end(1000, '');
    expect(pool.available()).toBe(1);
    expect(pool.acquire().credential.apiKey).toBe('pool-b');
  });

  it('only a quota close starts a cool-down', () => {
    const pool = new CredentialPool(apiKeyCredentials(['only-a', 'only-b']), {
      maxSessions: undefined,
      cooldownMs: 1000,
    });
    pool.acquire().end(1011, 'Internal error occurred.');
    pool.acquire().end(1007, 'Request contains an invalid argument.');
    expect(pool.available()).toBe(2);
  });
});

const scenario: Scenario = {
  name: 'credentials-test',
  speech: 'synthetic',
  responseDelayMs: 10,
  turns: [{ id: 'greeting', trigger: 'opening', text: 'Hello.' }],
};

let emu: GeminiLiveEmulator | undefined;
const sessions: LiveSession[] = [];
const cleanups: (() => void | Promise<void>)[] = [];

afterEach(async () => {
  await Promise.all(sessions.splice(0).map((s) => s.close()));
  for (const c of cleanups.splice(0)) await c();
  await emu?.close();
  emu = undefined;
  resetGenAIClients();
  resetCredentialPools();
});

function gemini(env: Record<string, string>): Config['gemini'] {
  return loadConfig(emulatorEnv({ GEMINI_API_KEY: '', ...env })).gemini;
}

/** Log lines the sessions wrote (JSON), to check what an operator reads. */
const logged: Record<string, unknown>[] = [];
const logger = pino(
  { level: 'warn' },
  { write: (line: string) => void logged.push(JSON.parse(line) as Record<string, unknown>) },
);

function open(config: Config['gemini'], callId: string): { s: LiveSession; rec: ReturnType<typeof recorder> } {
  const rec = recorder();
  const s = createLiveSession(
    config,
    {
      callId,
      systemPrompt: 'You are a test agent.',
      tools: [],
      events: rec.handlers,
      logger,
      transcriptForContext: () => '',
    },
    { baseUrl: emu!.baseUrl, backoffBaseMs: 10, backoffMaxMs: 20, closeWaitMs: 100 },
  );
  sessions.push(s);
  return { s, rec };
}

describe('several credentials against the Gemini Live emulator', () => {
  it('a quota close moves the session to the next key, and /metrics shows each key by label only', async () => {
    emu = await startGeminiLiveEmulator({ scenario, speech: 'synthetic', limits: { maxSessionsPerKey: 1 } });
    const config = gemini({ GEMINI_API_KEYS: 'key-alpha-secret,key-beta-secret' });
    const [alpha, beta] = config.credentials;
    // Someone else (another replica) already holds key-alpha's only session: the gateway cannot know.
    const other = createGenAIClient({ ...config, apiKey: 'key-alpha-secret' }, { baseUrl: emu.baseUrl });
    const held = await other.live.connect({
      model: config.model,
      config: { responseModalities: ['AUDIO' as never] },
      callbacks: { onmessage: () => {} },
    });
    cleanups.push(() => held.close());

    const { s, rec } = open(config, 'call-quota');
    await s.ready();
    s.sendText('Hello.');
    await waitFor(() => rec.of('audio').length > 0, 5000, 'greeting audio');
    // First try on key-alpha got the 1011 quota close; the retry went to key-beta.
    const refused = emu.sessions.find((x) => x.index > 0 && x.setup === undefined);
    expect(refused).toBeDefined();
    expect((await refused!.closed).code).toBe(1011);
    expect(credentialStats.get(alpha!.label)).toMatchObject({ quotaCloses: 1, open: 0 });
    expect(credentialStats.get(beta!.label)).toMatchObject({ quotaCloses: 0, open: 1 });
    // The close is logged with what it means and what to check, naming the credential by label only.
    const line = logged.find((l) => l.msg === 'gemini closed the connection');
    expect(line).toMatchObject({ code: 1011, credential: alpha!.label });
    expect(String(line?.explanation)).toMatch(/quota .*\(check GEMINI_API_KEYS/);
    expect(JSON.stringify(logged)).not.toContain('key-alpha-secret');

    // Once that call has ended, the next one does not even try key-alpha while it cools down.
    await s.close();
    await waitFor(() => credentialStats.get(beta!.label)?.open === 0, 2000, 'beta released');
    const before = emu.sessions.length;
    const second = open(config, 'call-next');
    await second.s.ready();
    expect(emu.sessions.length).toBe(before + 1);
    expect(credentialStats.get(beta!.label)?.open).toBe(1);

    const metrics = createGatewayMetrics({ stats: new EdgeStats(), activeCalls: () => 0, defaultMetrics: false });
    const text = await metrics.registry.metrics();
    expect(text).toContain(`gateway_gemini_credential_sessions{credential="${beta!.label}"} 1`);
    expect(text).toContain(`gateway_gemini_credential_cooling{credential="${alpha!.label}"} 1`);
    expect(text).toContain(`gateway_gemini_credential_quota_closes_total{credential="${alpha!.label}"} 1`);
    expect(text).not.toContain('key-alpha-secret');
    expect(text).not.toContain('key-beta-secret');
  });

  it('caps concurrent sessions per credential (GEMINI_MAX_SESSIONS_PER_CREDENTIAL) and frees the slot on close', async () => {
    emu = await startGeminiLiveEmulator({ scenario, speech: 'synthetic' });
    const config = gemini({ GEMINI_API_KEYS: 'cap-a,cap-b', GEMINI_MAX_SESSIONS_PER_CREDENTIAL: '1' });
    const first = open(config, 'call-1');
    const second = open(config, 'call-2');
    await Promise.all([first.s.ready(), second.s.ready()]);
    const third = open(config, 'call-3');
    await expect(third.s.ready()).rejects.toThrow(/GEMINI_MAX_SESSIONS_PER_CREDENTIAL/);
    expect(emu.sessions).toHaveLength(2);
    await first.s.close();
    await waitFor(() => [...credentialStats.values()].some((x) => x.open === 0), 2000, 'slot freed');
    const fourth = open(config, 'call-4');
    await fourth.s.ready();
    expect(emu.sessions).toHaveLength(3);
  });
});

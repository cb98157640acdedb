// The Gemini leg over TLS, as the real service is reached (wss://): the real SDK and our transport against the
// emulator serving a certificate from a throwaway CA. Each case runs the sessions in a child process because
// NODE_EXTRA_CA_CERTS is read once at process start. The transport shares one TLS context across connections
// (src/gemini/transport.ts); these cases show that context still trusts NODE_EXTRA_CA_CERTS and still refuses a
// certificate nobody vouched for.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Certs, makeCerts } from '../../src/demo/tls-certs.ts';
import { type GeminiLiveEmulator, startGeminiLiveEmulator } from '../../src/emulators/gemini-live/index.ts';

const CHILD = fileURLToPath(new URL('./helpers/tls-child.ts', import.meta.url));
const run = promisify(execFile);

let certs: Certs;
let emu: GeminiLiveEmulator;

beforeAll(async () => {
  certs = await makeCerts();
  emu = await startGeminiLiveEmulator({
    scenario: 'scenarios/test-tools.json',
    speech: 'synthetic',
    timing: { realtime: false },
    tls: { key: certs.key, cert: certs.cert },
  });
});

afterAll(async () => {
  await emu?.close();
  certs?.cleanup();
});

async function sessions(env: Record<string, string>): Promise<{ ready: number; heard: number; fatal: string[] }> {
  const { PATH, HOME } = process.env;
  const { stdout } = await run(process.execPath, [CHILD], {
    env: { PATH, HOME, LOG_LEVEL: 'silent', TLS_TEST_BASE_URL: emu.baseUrl, TLS_TEST_SESSIONS: '3', ...env },
    timeout: 30_000,
  });
  return JSON.parse(stdout.trim().split('\n').at(-1)!);
}

describe('Gemini over TLS', () => {
  it('serves https:// from the emulator when given a certificate', () => {
    expect(emu.baseUrl).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
  });

  it('connects every session over wss:// with the CA from NODE_EXTRA_CA_CERTS, and talks', async () => {
    const r = await sessions({ NODE_EXTRA_CA_CERTS: certs.caPath });
    expect(r).toEqual({ ready: 3, heard: 3, fatal: [] });
    expect(emu.sessions).toHaveLength(3);
  });

  it('refuses a certificate whose CA is not trusted, and reports it fatal', async () => {
    const before = emu.sessions.length;
    const r = await sessions({});
    expect(r.ready).toBe(0);
    expect(r.fatal).toHaveLength(3);
    for (const message of r.fatal) expect(message).toMatch(/certificate/i);
    expect(emu.sessions.length).toBe(before);
  });
});

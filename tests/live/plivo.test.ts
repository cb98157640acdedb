// Against the real Plivo API, only when PLIVO_AUTH_ID, PLIVO_AUTH_TOKEN and PLIVO_TEST_NUMBER are set; skipped
// otherwise, with the reason in the title. Read-only, except the doctor's one harmless signed request to the gateway.
import { describe, expect, it } from 'vitest';
import { runDoctor } from '../../src/doctor/doctor.ts';
import { createPlivoRestClient } from '../../src/plivo/rest-client.ts';

const env = process.env;
const missing = ['PLIVO_AUTH_ID', 'PLIVO_AUTH_TOKEN', 'PLIVO_TEST_NUMBER'].filter((n) => (env[n] ?? '').trim() === '');
const title =
  missing.length === 0 ? 'real Plivo' : `real Plivo (skipped: ${missing.join(', ')} not set; export them to run these)`;

function client() {
  return createPlivoRestClient({
    authId: env.PLIVO_AUTH_ID ?? '',
    authToken: env.PLIVO_AUTH_TOKEN ?? '',
    baseUrl: env.PLIVO_API_BASE_URL ?? 'https://api.plivo.com',
    timeoutMs: 10_000,
    maxRetries: 1,
  });
}

describe.skipIf(missing.length > 0)(title, () => {
  it('accepts the credentials (GET Account)', async () => {
    const acct = await client().request<{ auth_id?: string }>({ method: 'GET', path: '', policy: 'idempotent' });
    expect(acct.auth_id).toBe(env.PLIVO_AUTH_ID);
  });

  it('PLIVO_TEST_NUMBER is an E.164 number', () => {
    expect(env.PLIVO_TEST_NUMBER).toMatch(/^\+[1-9]\d{6,14}$/);
  });

  it.skipIf(!env.PLIVO_PHONE_NUMBER)('knows PLIVO_PHONE_NUMBER, with its application as a resource URI', async () => {
    const digits = (env.PLIVO_PHONE_NUMBER ?? '').replace(/^\+/, '');
    const n = await client().request<{ number?: string; application?: string | null }>({
      method: 'GET',
      path: `Number/${digits}/`,
      policy: 'idempotent',
    });
    expect(n.number).toBe(digits);
    if (n.application) expect(n.application).toMatch(/\/Application\/[^/]+\/$/);
  });

  it.skipIf(!env.PUBLIC_URL || !env.GEMINI_API_KEY)(
    'the whole doctor passes against the real services and the running gateway (needs PUBLIC_URL, GEMINI_API_KEY)',
    async () => {
      const r = await runDoctor({ env, audioTimeoutMs: 20_000, httpTimeoutMs: 10_000 });
      expect(r.lines.join('\n')).toContain('All checks passed');
    },
    90_000,
  );
});

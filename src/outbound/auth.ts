// Bearer-token auth of the outbound API. Without OUTBOUND_API_KEY the API is off (503): an outbound API that
// places billable calls must never be open by default.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Reply } from '../server/http.ts';

export type AuthResult = { ok: true } | { ok: false; status: 401 | 503; error: string; message: string };

const digest = (s: string) => createHash('sha256').update(s).digest();

export function checkBearer(apiKey: string | undefined, authorization: string | undefined): AuthResult {
  if (!apiKey) {
    return {
      ok: false,
      status: 503,
      error: 'outbound_disabled',
      message: 'The outbound API is disabled: set OUTBOUND_API_KEY to enable it.',
    };
  }
  const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
  // Hashing first gives equal-length inputs, so the comparison time says nothing about the key.
  if (!m || !timingSafeEqual(digest(m[1]!), digest(apiKey))) {
    return { ok: false, status: 401, error: 'unauthorized', message: 'Missing or invalid bearer token.' };
  }
  return { ok: true };
}

/** Checks the bearer token and, when it fails, answers the request (401 with a challenge, or 503): true = go on. */
export function authorized(reply: Reply, apiKey: string | undefined, authorization: string | undefined): boolean {
  const auth = checkBearer(apiKey, authorization);
  if (auth.ok) return true;
  reply.json(
    auth.status,
    { error: auth.error, message: auth.message },
    auth.status === 401 ? { 'www-authenticate': 'Bearer' } : {},
  );
  return false;
}

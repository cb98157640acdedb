// Bearer-token auth of the outbound API. Without OUTBOUND_API_KEY the API is off (503): an outbound API that
// places billable calls must never be open by default.
import { createHash, timingSafeEqual } from 'node:crypto';

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

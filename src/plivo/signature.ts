// Plivo's X-Plivo-Signature-V3 (https://www.plivo.com/docs/voice/xml/request/validation), reimplemented from the
// algorithm the official SDK uses so we can verify without the SDK and compare in constant time:
//   base = scheme://host[:port]/path (the PUBLIC URL Plivo called: behind a proxy the local URL differs)
//   q    = the URL's query parameters, percent-decoded, sorted by key (values sorted), joined "k=v&k=v"
//   GET, or POST without body params: s = base + (q ? "?" + q : "")
//   POST with body params:            s = base + "?" + (q ? q + "." : "") + concat(sorted key + value, no separators)
//   signature = base64(HMAC-SHA256(authToken, s + "." + nonce)); the header may carry several, comma-separated.
import { createHmac, timingSafeEqual } from 'node:crypto';

export type SignedParams = ReadonlyArray<readonly [string, string]>;

function sortedPairs(pairs: SignedParams): Array<readonly [string, string]> {
  return [...pairs].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
}

/** The exact string Plivo signs (before ".nonce"). Exported for tests and for the emulator-facing docs. */
export function signatureBaseString(method: 'GET' | 'POST', url: string, bodyParams: SignedParams = []): string {
  const u = new URL(url);
  const base = `${u.protocol}//${u.host}${u.pathname}`;
  const query = sortedPairs([...u.searchParams])
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
  if (method === 'GET' || bodyParams.length === 0) return query === '' ? base : `${base}?${query}`;
  let s = `${base}?${query === '' ? '' : `${query}.`}`;
  for (const [k, v] of sortedPairs(bodyParams)) s += k + v;
  return s;
}

export function signV3(
  authToken: string,
  method: 'GET' | 'POST',
  url: string,
  nonce: string,
  bodyParams: SignedParams = [],
): string {
  return createHmac('sha256', authToken)
    .update(`${signatureBaseString(method, url, bodyParams)}.${nonce}`, 'utf8')
    .digest('base64');
}

export interface VerifyV3Input {
  authToken: string;
  method: string;
  /** The public URL Plivo requested, query string included. */
  url: string;
  nonce: string | undefined;
  /** Header value; may hold several signatures separated by commas. */
  signatures: string | undefined;
  bodyParams: SignedParams;
}

export type VerifyResult = { ok: true } | { ok: false; reason: 'missing' | 'mismatch' | 'bad-method' };

export function verifyV3(input: VerifyV3Input): VerifyResult {
  if (!input.nonce || !input.signatures) return { ok: false, reason: 'missing' };
  const method = input.method.toUpperCase();
  if (method !== 'GET' && method !== 'POST') return { ok: false, reason: 'bad-method' };
  const expected = Buffer.from(signV3(input.authToken, method, input.url, input.nonce, input.bodyParams), 'base64');
  let match = false;
  // Every candidate is compared (no early exit) so timing does not reveal which one matched.
  for (const candidate of input.signatures.split(',')) {
    const got = Buffer.from(candidate.trim(), 'base64');
    if (got.length === expected.length && timingSafeEqual(got, expected)) match = true;
  }
  return match ? { ok: true } : { ok: false, reason: 'mismatch' };
}

/** Every key/value pair of a form body or query string, duplicates kept (the signature covers all of them). */
export function formPairs(text: string): Array<[string, string]> {
  return [...new URLSearchParams(text)];
}

// X-Plivo-Signature-V3, as Plivo signs webhooks and stream upgrades: HMAC-SHA256 keyed with the auth token over
// `<scheme://host/path>[?<sorted query>][.]<sorted key+value body params>` + '.' + nonce, base64-encoded.
import { createHmac, randomInt } from 'node:crypto';

export type SignatureMode = 'valid' | 'invalid' | 'none';

export function v3StringToSign(method: 'GET' | 'POST', url: string, params: Record<string, string> = {}): string {
  const u = new URL(url);
  const base = `${u.protocol}//${u.host}${u.pathname}`;
  const query = sortedQuery(u.searchParams);
  const keys = Object.keys(params).sort();
  if (method === 'GET' || keys.length === 0) return query ? `${base}?${query}` : base;
  let body = '';
  for (const k of keys) body += k + params[k];
  return `${base}?${query ? `${query}.` : ''}${body}`;
}

export function v3Signature(
  authToken: string,
  method: 'GET' | 'POST',
  url: string,
  nonce: string,
  params?: Record<string, string>,
): string {
  return createHmac('sha256', authToken)
    .update(`${v3StringToSign(method, url, params)}.${nonce}`, 'utf8')
    .digest('base64');
}

export function newNonce(): string {
  let s = '';
  for (let i = 0; i < 20; i++) s += String(randomInt(10));
  return s;
}

/** Headers for a request, per signing mode ('invalid' signs with a wrong key so the shape stays right). */
export function signatureHeaders(
  mode: SignatureMode,
  authToken: string,
  method: 'GET' | 'POST',
  url: string,
  params?: Record<string, string>,
): Record<string, string> {
  if (mode === 'none') return {};
  const nonce = newNonce();
  const key = mode === 'valid' ? authToken : `${authToken}-wrong`;
  return {
    'X-Plivo-Signature-V3': v3Signature(key, method, url, nonce, params),
    'X-Plivo-Signature-V3-Nonce': nonce,
  };
}

function sortedQuery(sp: URLSearchParams): string {
  const byKey = new Map<string, string[]>();
  for (const [k, v] of sp) {
    const list = byKey.get(k);
    if (list) list.push(v);
    else byKey.set(k, [v]);
  }
  const parts: string[] = [];
  for (const k of [...byKey.keys()].sort()) {
    for (const v of byKey.get(k)!.sort()) parts.push(`${k}=${v}`);
  }
  return parts.join('&');
}

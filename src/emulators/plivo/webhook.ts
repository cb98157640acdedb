// Plivo's side of a webhook: form-encoded POST (or GET with the parameters in the query), signed with V3.
import { type SignatureMode, signatureHeaders } from './signature.ts';

export interface WebhookRequest {
  url: string;
  method?: 'GET' | 'POST';
  params: Record<string, string>;
  signature: SignatureMode;
  authToken: string;
  timeoutMs: number;
}

export interface WebhookResult {
  status: number;
  body: string;
  /** Network failure or timeout (status 0). */
  error?: string;
}

/** Plivo caps an answer document at 100 KB; reading more than that is pointless. */
const MAX_BODY = 100 * 1024;

export async function callWebhook(req: WebhookRequest): Promise<WebhookResult> {
  const method = req.method ?? 'POST';
  let url = req.url;
  let body: string | undefined;
  const headers: Record<string, string> = { 'User-Agent': 'PlivoHTTP/1.0 (emulator)' };
  if (method === 'GET') {
    const u = new URL(url);
    for (const [k, v] of Object.entries(req.params)) u.searchParams.append(k, v);
    url = u.toString();
    Object.assign(headers, signatureHeaders(req.signature, req.authToken, 'GET', url));
  } else {
    body = new URLSearchParams(req.params).toString();
    headers['Content-Type'] = 'application/x-www-form-urlencoded';
    Object.assign(headers, signatureHeaders(req.signature, req.authToken, 'POST', url, req.params));
  }
  try {
    const res = await fetch(url, { method, headers, body, signal: AbortSignal.timeout(req.timeoutMs) });
    const text = await res.text();
    if (text.length > MAX_BODY) return { status: res.status, body: '', error: 'response over 100 KB' };
    return { status: res.status, body: text };
  } catch (err) {
    return { status: 0, body: '', error: err instanceof Error ? err.message : String(err) };
  }
}

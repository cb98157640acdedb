// The stream URL carries a short-lived token in its PATH (some proxies drop query strings): it binds the stream to
// one call and carries that call's CallContext, so any replica can open it without a store lookup before the
// upgrade. Format: "v2.<base64url(iv)>.<base64url(AES-256-GCM(claims JSON) ‖ tag)>".
//
// Why encrypted claims (AEAD) rather than an id into server-side state (issue 15): the context holds customer
// variables (names, balances…) and numbers, and URL paths end up in proxy and load-balancer logs, so v1's signed
// but readable claims leaked them. Encrypting keeps the token self-contained: no context in Redis, no read on the
// upgrade path, and streams keep working across replicas even when Redis blips (single use is enforced separately,
// by the replay guard). The key is derived from STREAM_TOKEN_SECRET with HKDF-SHA256 (distinct salt/info per use),
// the 96-bit IV is random per token, and the version is authenticated as additional data. v1 tokens are refused
// (wrong-version): they live ≤ STREAM_TOKEN_TTL_S, so only streams answered in the minutes before a deploy are
// affected. Short JSON keys keep the URL well under Plivo's 2048-character limit.
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import type { CallContext } from '../contract/call.ts';
import { GatewayError } from '../errors.ts';

const VERSION = 'v2';
const AAD = Buffer.from(VERSION, 'utf8');
const IV_BYTES = 12;
const TAG_BYTES = 16;
/** Plivo accepts WebSocket URLs up to 2048 characters; the rest of the URL needs some room. */
export const MAX_TOKEN_LENGTH = 1800;

interface Claims {
  /** kind: 's' stream, 't' transfer */
  k: 's' | 't';
  c: string;
  /** direction: inbound, outbound, playground */
  d: 'i' | 'o' | 'p';
  f: string;
  t: string;
  o?: string;
  cp?: string;
  r?: string;
  ob?: string;
  cx?: string;
  va?: Record<string, string>;
  /** Gemini resumption handle of a call moved at a drain deadline */
  rh?: string;
  /** transfer target */
  x?: string;
  /** expiry, unix seconds */
  e: number;
}

export type TokenFailure = 'malformed' | 'bad-signature' | 'expired' | 'wrong-version' | 'wrong-kind';

export class StreamTokenError extends GatewayError {
  readonly reason: TokenFailure;
  constructor(reason: TokenFailure, callId?: string) {
    super('GW_ERR_STREAM_TOKEN', `stream token rejected: ${reason}`, { callId });
    this.name = 'StreamTokenError';
    this.reason = reason;
  }
}

/** One derived key per secret (a process has one or two secrets; HKDF per token would cost ~10 µs each). */
const keys = new Map<string, Buffer>();
function keyFor(secret: string): Buffer {
  let key = keys.get(secret);
  if (key === undefined) {
    key = Buffer.from(hkdfSync('sha256', secret, 'gemini-plivo-gateway/stream-token', 'v2 aes-256-gcm', 32));
    if (keys.size > 16) keys.clear();
    keys.set(secret, key);
  }
  return key;
}

function seal(secret: string, claims: Claims): string {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', keyFor(secret), iv);
  cipher.setAAD(AAD);
  const sealed = Buffer.concat([cipher.update(JSON.stringify(claims), 'utf8'), cipher.final(), cipher.getAuthTag()]);
  return `${VERSION}.${iv.toString('base64url')}.${sealed.toString('base64url')}`;
}

const B64URL = /^[A-Za-z0-9_-]+$/;

function open(secret: string, token: string, kind: Claims['k'], nowMs: number): Claims {
  const parts = token.split('.');
  if (parts.length !== 3) throw new StreamTokenError('malformed');
  const [version, ivText, sealedText] = parts as [string, string, string];
  if (version !== VERSION) throw new StreamTokenError('wrong-version');
  if (!B64URL.test(ivText) || !B64URL.test(sealedText)) throw new StreamTokenError('malformed');
  const iv = Buffer.from(ivText, 'base64url');
  const sealed = Buffer.from(sealedText, 'base64url');
  if (iv.length !== IV_BYTES || sealed.length <= TAG_BYTES) throw new StreamTokenError('malformed');
  let plain: string;
  try {
    const decipher = createDecipheriv('aes-256-gcm', keyFor(secret), iv, { authTagLength: TAG_BYTES });
    decipher.setAAD(AAD);
    decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
    plain = Buffer.concat([decipher.update(sealed.subarray(0, sealed.length - TAG_BYTES)), decipher.final()]).toString(
      'utf8',
    );
  } catch {
    // Altered, truncated, or sealed under another key: authentication failed.
    throw new StreamTokenError('bad-signature');
  }
  let claims: Claims;
  try {
    claims = JSON.parse(plain) as Claims;
  } catch {
    throw new StreamTokenError('malformed');
  }
  if (typeof claims !== 'object' || claims === null || typeof claims.c !== 'string' || typeof claims.e !== 'number') {
    throw new StreamTokenError('malformed');
  }
  if (claims.k !== kind) throw new StreamTokenError('wrong-kind', claims.c);
  if (claims.e * 1000 < nowMs) throw new StreamTokenError('expired', claims.c);
  return claims;
}

export interface TokenOptions {
  secret: string;
  ttlS: number;
  nowMs?: number;
}

/** Mints the token for a call's stream URL. Throws GatewayError if the context is too large for a URL. */
export function mintStreamToken(ctx: CallContext, o: TokenOptions): string {
  const claims: Claims = {
    k: 's',
    c: ctx.callId,
    d: ctx.direction === 'inbound' ? 'i' : ctx.direction === 'playground' ? 'p' : 'o',
    f: ctx.from,
    t: ctx.to,
    e: Math.floor((o.nowMs ?? Date.now()) / 1000) + o.ttlS,
  };
  if (ctx.outboundId !== undefined) claims.o = ctx.outboundId;
  if (ctx.campaignId !== undefined) claims.cp = ctx.campaignId;
  if (ctx.openingReason !== undefined) claims.r = ctx.openingReason;
  if (ctx.objective !== undefined) claims.ob = ctx.objective;
  if (ctx.context !== undefined) claims.cx = ctx.context;
  if (ctx.variables !== undefined && Object.keys(ctx.variables).length > 0) claims.va = ctx.variables;
  if (ctx.resumeHandle !== undefined) claims.rh = ctx.resumeHandle;
  const token = seal(o.secret, claims);
  if (token.length > MAX_TOKEN_LENGTH) {
    throw new GatewayError('GW_ERR_INVALID_ARGUMENT', 'call context too large for the stream URL', {
      callId: ctx.callId,
      detail: { tokenLength: token.length, max: MAX_TOKEN_LENGTH },
    });
  }
  return token;
}

const DIRECTIONS = { i: 'inbound', o: 'outbound', p: 'playground' } as const;

/** Verifies a stream token and returns its CallContext. Throws StreamTokenError. */
export function verifyStreamToken(token: string, secret: string, nowMs = Date.now()): CallContext {
  const c = open(secret, token, 's', nowMs);
  if ((c.d !== 'i' && c.d !== 'o' && c.d !== 'p') || typeof c.f !== 'string' || typeof c.t !== 'string') {
    throw new StreamTokenError('malformed', c.c);
  }
  const ctx: CallContext = { callId: c.c, direction: DIRECTIONS[c.d], from: c.f, to: c.t };
  if (typeof c.o === 'string') ctx.outboundId = c.o;
  if (typeof c.cp === 'string') ctx.campaignId = c.cp;
  if (typeof c.r === 'string') ctx.openingReason = c.r;
  if (typeof c.ob === 'string') ctx.objective = c.ob;
  if (typeof c.cx === 'string') ctx.context = c.cx;
  if (typeof c.rh === 'string' && c.rh !== '') ctx.resumeHandle = c.rh;
  if (c.va && typeof c.va === 'object') {
    const vars: Record<string, string> = {};
    for (const [k, v] of Object.entries(c.va)) if (typeof v === 'string') vars[k] = v;
    ctx.variables = vars;
  }
  return ctx;
}

/** Token for the transfer XML URL: only our server can mint a URL that dials out. */
export function mintTransferToken(callId: string, target: string, o: TokenOptions): string {
  return seal(o.secret, {
    k: 't',
    c: callId,
    d: 'i',
    f: '',
    t: '',
    x: target,
    e: Math.floor((o.nowMs ?? Date.now()) / 1000) + o.ttlS,
  });
}

export function verifyTransferToken(
  token: string,
  secret: string,
  nowMs = Date.now(),
): { callId: string; target: string } {
  const c = open(secret, token, 't', nowMs);
  if (typeof c.x !== 'string' || c.x === '') throw new StreamTokenError('malformed', c.c);
  return { callId: c.c, target: c.x };
}

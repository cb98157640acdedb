// The stream URL carries a short-lived signed token in its PATH (some proxies drop query strings): it binds the
// stream to one call and carries that call's CallContext, so any replica can serve any stream with no shared
// state or sticky sessions. Format: "v1.<base64url(JSON claims)>.<base64url(HMAC-SHA256(secret, 'v1.' + body))>".
// Short JSON keys keep the URL well under Plivo's 2048-character limit.
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { CallContext } from '../calls/types.ts';
import { GatewayError } from '../errors.ts';

const VERSION = 'v1';
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
  va?: Record<string, string>;
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

function mac(secret: string, signed: string): Buffer {
  return createHmac('sha256', secret).update(signed, 'utf8').digest();
}

function sign(secret: string, claims: Claims): string {
  const body = Buffer.from(JSON.stringify(claims), 'utf8').toString('base64url');
  const signed = `${VERSION}.${body}`;
  return `${signed}.${mac(secret, signed).toString('base64url')}`;
}

function open(secret: string, token: string, kind: Claims['k'], nowMs: number): Claims {
  const parts = token.split('.');
  if (parts.length !== 3) throw new StreamTokenError('malformed');
  const [version, body, sig] = parts as [string, string, string];
  if (version !== VERSION) throw new StreamTokenError('wrong-version');
  if (!/^[A-Za-z0-9_-]+$/.test(body) || !/^[A-Za-z0-9_-]+$/.test(sig)) throw new StreamTokenError('malformed');
  const expected = mac(secret, `${version}.${body}`);
  const got = Buffer.from(sig, 'base64url');
  if (got.length !== expected.length || !timingSafeEqual(got, expected)) throw new StreamTokenError('bad-signature');
  let claims: Claims;
  try {
    claims = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as Claims;
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
  if (ctx.variables !== undefined && Object.keys(ctx.variables).length > 0) claims.va = ctx.variables;
  const token = sign(o.secret, claims);
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
  if (c.va && typeof c.va === 'object') {
    const vars: Record<string, string> = {};
    for (const [k, v] of Object.entries(c.va)) if (typeof v === 'string') vars[k] = v;
    ctx.variables = vars;
  }
  return ctx;
}

/** Token for the transfer XML URL: only our server can mint a URL that dials out. */
export function mintTransferToken(callId: string, target: string, o: TokenOptions): string {
  return sign(o.secret, {
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

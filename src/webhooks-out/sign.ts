// Signature of post-call webhooks: HMAC-SHA256 over `${timestamp}.${body}` with the shared secret, hex, sent as
// `X-Gateway-Signature: v1=<hex>` with `X-Gateway-Timestamp: <unix seconds>`. The timestamp is signed so that a
// captured request cannot be replayed later than the receiver's tolerance (README: five minutes).
import { createHmac, timingSafeEqual } from 'node:crypto';

export const SIGNATURE_HEADER = 'x-gateway-signature';
export const TIMESTAMP_HEADER = 'x-gateway-timestamp';
export const IDEMPOTENCY_HEADER = 'idempotency-key';
export const EVENT_HEADER = 'x-gateway-event';

export function sign(secret: string, timestamp: number, body: string): string {
  return `v1=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

/** What a receiver does (the README's example does the same in ten lines). */
export function verify(
  secret: string,
  headers: { signature: string | undefined; timestamp: string | undefined },
  body: string,
  nowS = Math.floor(Date.now() / 1000),
  toleranceS = 300,
): boolean {
  const ts = Number(headers.timestamp);
  if (!Number.isInteger(ts) || Math.abs(nowS - ts) > toleranceS || headers.signature === undefined) return false;
  const expected = Buffer.from(sign(secret, ts, body));
  const got = Buffer.from(headers.signature);
  return expected.length === got.length && timingSafeEqual(expected, got);
}

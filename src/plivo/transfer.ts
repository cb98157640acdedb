// Live-call transfer: Plivo fetches XML from `aleg_url` and executes it on the caller's leg. That URL is ours and
// returns `<Dial>` to a number, so it must not be callable by anyone else: it carries a short-lived HMAC token
// naming the call and the target (in the path; query strings get stripped by some proxies).
import { mintTransferToken } from './stream-token.ts';

export const TRANSFER_PATH = '/transfer-xml';

export interface TransferUrlOptions {
  publicUrl: string;
  secret: string;
  /** How long Plivo has to fetch it; transfers happen right after the REST call. */
  ttlS?: number;
}

/** The `aleg_url` to pass to PlivoApi.transferCall for sending `callId` to `target` (E.164). */
export function transferXmlUrl(callId: string, target: string, o: TransferUrlOptions): string {
  const token = mintTransferToken(callId, target, { secret: o.secret, ttlS: o.ttlS ?? 120 });
  return `${o.publicUrl}${TRANSFER_PATH}/${token}`;
}

// The caller's number, as tools may use it: only E.164 numbers can get an SMS or a callback.
import type { CallContext } from '../contract/call.ts';

export const E164 = /^\+[1-9]\d{6,14}$/;

/** The far end of the call: the caller for inbound calls, the person we dialled for outbound ones. */
export function customerNumber(call: CallContext): string | undefined {
  const raw = (call.direction === 'inbound' ? call.from : call.to).trim();
  const digits = raw.replace(/[\s()-]/g, '');
  const withPlus = digits.startsWith('+') ? digits : `+${digits}`;
  return E164.test(withPlus) ? withPlus : undefined;
}

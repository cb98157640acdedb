// Checks of a finished campaign from what the Plivo emulator recorded (its REST requests and their times) and the
// hangups the gateway received, not from timing assertions on our side.
import type { RecordedRequest } from '../../src/emulators/plivo/types.ts';
import type { Emulator, StandIn } from './helpers.ts';

export function callRequests(emulator: Emulator, accepted = true): RecordedRequest[] {
  return emulator.requests.filter(
    (r) => r.method === 'POST' && /\/Call\/$/.test(r.path) && (!accepted || (r.status >= 200 && r.status < 300)),
  );
}

const digits = (s: string | undefined) => (s ?? '').replace(/\D/g, '');

/** Most dials that ever fell in one `windowMs` span. */
export function maxInWindow(reqs: RecordedRequest[], windowMs = 1000): number {
  const times = reqs.map((r) => r.at).sort((a, b) => a - b);
  let max = 0;
  for (let i = 0; i < times.length; i++) {
    let n = 0;
    for (let j = i; j < times.length && times[j]! < times[i]! + windowMs; j++) n++;
    max = Math.max(max, n);
  }
  return max;
}

/**
 * Calls out at the moment of each dial: earlier dials whose hangup had not reached a gateway yet. A hangup reaches
 * the gateway before the dialer frees the slot, so this never overstates what the dialer allowed.
 */
export function maxConcurrent(reqs: RecordedRequest[], routers: StandIn[]): number {
  const hangupAt = new Map<string, number>();
  for (const r of routers) for (const h of r.hangups) hangupAt.set(digits(h.info.raw.To), h.at);
  const dials = reqs.map((r) => ({ to: digits(r.params.to), at: r.at })).sort((a, b) => a.at - b.at);
  let max = 0;
  for (let i = 0; i < dials.length; i++) {
    let out = 1;
    for (let j = 0; j < i; j++) if ((hangupAt.get(dials[j]!.to) ?? Number.POSITIVE_INFINITY) > dials[i]!.at) out++;
    max = Math.max(max, out);
  }
  return max;
}

export function contactNumbers(n: number, prefix = '+1415556'): string[] {
  return Array.from({ length: n }, (_, i) => `${prefix}${String(i).padStart(4, '0')}`);
}

// How Plivo spells things on the wire: Stream content types, phone numbers, times, hangup causes.
import type { Encoding, StreamFormat } from './audio-source.ts';

export function parseContentType(ct: string): StreamFormat | undefined {
  const m = /^\s*(audio\/x-(?:mulaw|l16))\s*;\s*rate\s*=\s*(\d+)\s*$/.exec(ct);
  if (!m) return undefined;
  const encoding = m[1] as Encoding;
  const rate = Number(m[2]);
  if (rate === 8000) return { encoding, sampleRate: 8000 };
  if (rate === 16000 && encoding === 'audio/x-l16') return { encoding, sampleRate: 16000 };
  return undefined;
}

/** Plivo sends numbers without the leading '+'. */
export function plivoNumber(n: string): string {
  return n.startsWith('+') ? n.slice(1) : n;
}

export function plivoTime(d: Date): string {
  return d.toISOString().slice(0, 19).replace('T', ' ');
}

const CAUSE_NAMES: Record<string, string> = {
  NORMAL_CLEARING: 'Normal Hangup',
  USER_BUSY: 'Busy Line',
  NO_ANSWER: 'No Answer',
  CALL_REJECTED: 'Rejected',
  ORIGINATOR_CANCEL: 'Cancelled',
  ANSWER_URL_FAILED: 'Answer URL Failed',
  INVALID_ANSWER_XML: 'Invalid Answer XML',
  MACHINE_DETECTED: 'Machine Detected',
  ALLOTTED_TIMEOUT: 'Time Limit Reached',
};

export function causeName(cause: string): string {
  return CAUSE_NAMES[cause] ?? cause;
}

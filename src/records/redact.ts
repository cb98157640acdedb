// Phone numbers and keyed-in digits out of what leaves the gateway. Used by the log serializer (src/log.ts) and,
// with WEBHOOK_REDACT_PII=true, on webhook transcripts and tool arguments/results.

/** Runs of 7+ digits, allowing the separators people and transcribers put in phone numbers. */
const PHONE_LIKE = /\+?\(?\d(?:[\s().-]{0,3}\d){6,}/g;

/** Masks a phone number, keeping its last two digits so that support can still tell calls apart. */
export function maskPhone(value: string): string {
  const digits = value.replace(/\D/g, '');
  if (digits.length === 0) return value;
  return `***${digits.slice(-2)}`;
}

/** Replaces every phone-number-like run in free text. */
export function redactText(text: string): string {
  return text.replace(PHONE_LIKE, '[number]');
}

/** Deep copy of a JSON value with phone-number-like runs in strings redacted. */
export function redactDeep<T>(value: T): T {
  if (typeof value === 'string') return redactText(value) as T;
  if (Array.isArray(value)) return value.map((v) => redactDeep(v)) as T;
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = redactDeep(v);
    return out as T;
  }
  return value;
}

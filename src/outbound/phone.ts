// Phone numbers from API callers are validated with libphonenumber-js (real numbering-plan metadata), not a regex:
// a syntactically E.164 string can still be an impossible number that Plivo would bill an attempt for.
import { parsePhoneNumberWithError } from 'libphonenumber-js';

/** The E.164 form of `input`, or undefined when it is not a valid international number. */
export function toE164(input: string): string | undefined {
  const trimmed = input.trim();
  // Plivo and our callers give numbers with or without '+'; without a country we require the international form.
  const candidate = trimmed.startsWith('+') ? trimmed : `+${trimmed}`;
  if (!/^\+[\d\s().-]{6,24}$/.test(candidate)) return undefined;
  try {
    const parsed = parsePhoneNumberWithError(candidate);
    return parsed.isValid() ? parsed.format('E.164') : undefined;
  } catch {
    return undefined;
  }
}

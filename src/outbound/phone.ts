// Phone numbers from API callers are validated with libphonenumber-js (real numbering-plan metadata), not a regex:
// a syntactically E.164 string can still be an impossible number that Plivo would bill an attempt for.
import { type CountryCode, parsePhoneNumberWithError } from 'libphonenumber-js';

/**
 * The E.164 form of `input`, or undefined when it is not a valid number. Without a leading '+', a number is read in
 * `defaultCountry` (DEFAULT_COUNTRY_CODE: a calling code or an ISO country) when it is valid there, else as an
 * international number whose '+' was left out (how Plivo writes numbers).
 */
export function toE164(
  input: string,
  defaultCountry?: { callingCode: string } | { country: string } | undefined,
): string | undefined {
  const trimmed = input.trim();
  if (!trimmed.startsWith('+') && defaultCountry !== undefined && /^[\d\s().-]{4,24}$/.test(trimmed)) {
    try {
      const national =
        'country' in defaultCountry
          ? parsePhoneNumberWithError(trimmed, defaultCountry.country as CountryCode)
          : parsePhoneNumberWithError(trimmed, { defaultCallingCode: defaultCountry.callingCode });
      if (national.isValid()) return national.format('E.164');
    } catch {
      // not a national number there: try it as international below
    }
  }
  const candidate = trimmed.startsWith('+') ? trimmed : `+${trimmed}`;
  if (!/^\+[\d\s().-]{6,24}$/.test(candidate)) return undefined;
  try {
    const parsed = parsePhoneNumberWithError(candidate);
    return parsed.isValid() ? parsed.format('E.164') : undefined;
  } catch {
    return undefined;
  }
}

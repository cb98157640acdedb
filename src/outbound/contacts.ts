// Screening of the numbers a campaign or a single call would dial: the blocked prefixes (premium rate, satellite and
// other numbers where the called party sets the price; OUTBOUND_BLOCKED_PREFIXES) and, for campaigns, duplicates.
// Numbers arrive here already in E.164 form (the request schema normalises them), so "+1 (415) 555-0100" and
// "14155550100" are the same contact.

/** The blocked prefix `e164` starts with, if any. */
export function blockedPrefix(e164: string, prefixes: readonly string[]): string | undefined {
  for (const p of prefixes) if (e164.startsWith(p)) return p;
  return undefined;
}

export interface RefusedContact {
  /** Position in the request's contacts array. */
  index: number;
  phoneNumber: string;
  reason: 'blocked_prefix';
  message: string;
}

export interface ScreenedContacts<T> {
  accepted: T[];
  /** Contacts dropped because an earlier contact has the same number (the first one is kept). */
  duplicates: number;
  refused: RefusedContact[];
}

export function screenContacts<T extends { phone_number: string }>(
  contacts: readonly T[],
  prefixes: readonly string[],
): ScreenedContacts<T> {
  const seen = new Set<string>();
  const accepted: T[] = [];
  const refused: RefusedContact[] = [];
  let duplicates = 0;
  contacts.forEach((c, index) => {
    const prefix = blockedPrefix(c.phone_number, prefixes);
    if (prefix) {
      refused.push({ index, phoneNumber: c.phone_number, reason: 'blocked_prefix', message: blockedMessage(prefix) });
      return;
    }
    if (seen.has(c.phone_number)) {
      duplicates++;
      return;
    }
    seen.add(c.phone_number);
    accepted.push(c);
  });
  return { accepted, duplicates, refused };
}

export const blockedMessage = (prefix: string) =>
  `numbers starting with ${prefix} are not dialled (OUTBOUND_BLOCKED_PREFIXES: premium-rate or high-cost destination)`;

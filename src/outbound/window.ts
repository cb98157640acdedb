// Calling windows ("only between 09:00 and 20:00 in the contact's own time zone"). Computed with Intl, so any IANA
// zone works without a time-zone library; across a DST change the opening can be off by the shift, which only
// moves a call within the hour it was due.

export interface CallWindow {
  /** HH:MM, local to the contact */
  start: string;
  /** HH:MM, local to the contact; an end before the start spans midnight */
  end: string;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-GB', {
      timeZone,
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      hourCycle: 'h23',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

export function isValidTimeZone(tz: string): boolean {
  try {
    formatter(tz);
    return true;
  } catch {
    return false;
  }
}

export function parseHhMm(s: string): number | undefined {
  const m = /^([01]\d|2[0-3]):([0-5]\d)$/.exec(s);
  return m ? Number(m[1]) * 60 + Number(m[2]) : undefined;
}

/** Seconds since local midnight in `timeZone` at `ms`. */
function localSecondOfDay(ms: number, timeZone: string): number {
  let h = 0;
  let m = 0;
  let s = 0;
  for (const part of formatter(timeZone).formatToParts(new Date(ms))) {
    if (part.type === 'hour') h = Number(part.value);
    else if (part.type === 'minute') m = Number(part.value);
    else if (part.type === 'second') s = Number(part.value);
  }
  return h * 3600 + m * 60 + s;
}

/** Milliseconds until the window next opens (0 when `ms` is inside it). No window means always open. */
export function delayUntilWindow(ms: number, window: CallWindow | undefined, timeZone: string): number {
  if (!window) return 0;
  const start = parseHhMm(window.start);
  const end = parseHhMm(window.end);
  if (start === undefined || end === undefined || start === end) return 0;
  const now = localSecondOfDay(ms, timeZone);
  const startS = start * 60;
  const endS = end * 60;
  const inside = startS < endS ? now >= startS && now < endS : now >= startS || now < endS;
  if (inside) return 0;
  const wait = (startS - now + 86_400) % 86_400;
  return wait * 1000 - (ms % 1000);
}

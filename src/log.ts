// One pino root logger; everything call-scoped uses `callLogger(callId)` so that logs correlate by call.
// Messages are static strings, data goes in fields; audio payloads and phone numbers never go in a message, and
// fields that may hold one are masked by the redaction below (as are DTMF digits; secrets are dropped).
import pino, { type Logger } from 'pino';

export type { Logger } from 'pino';

// LOG_PRETTY=true: human-readable lines for a terminal (pino-pretty in pino's transport thread, so formatting costs
// the main thread nothing); JSON lines otherwise, for log collectors. Read here, not in config.ts, because the
// logger exists before the configuration is loaded (config errors are logged through it).
const pretty = ['true', '1', 'yes'].includes(process.env.LOG_PRETTY ?? '');

const SECRET_KEYS = ['authToken', 'apiKey', 'password', 'authorization'];
/** Fields that may hold a phone number (ours, Plivo's parameter names, tool arguments) or keyed-in digits. */
const PHONE_KEYS = ['from', 'to', 'From', 'To', 'phoneNumber', 'phone_number', 'phone', 'dst', 'src', 'callerId'];
const DIGIT_KEYS = ['digit', 'digits', 'Digits', 'dtmf'];
const SECRETS = new Set(SECRET_KEYS);
const DIGITS = new Set(DIGIT_KEYS);

/** Masks a phone number in a log field, keeping its last two digits so calls can still be told apart. */
export function maskPhoneForLog(value: unknown): unknown {
  if (typeof value !== 'string' && typeof value !== 'number') return value;
  const digits = String(value).replace(/\D/g, '');
  return digits.length === 0 ? value : `***${digits.slice(-2)}`;
}

/**
 * Secrets are dropped; phone numbers are masked to their last two digits; DTMF digits are replaced entirely.
 * Top-level and one level down (pino's redaction paths take one wildcard level; fields nest no deeper by our
 * convention: data goes in flat fields).
 */
const REDACT_PATHS = [...SECRET_KEYS, ...PHONE_KEYS, ...DIGIT_KEYS].flatMap((k) => [k, `*.${k}`]);

function censor(value: unknown, path: string[]): unknown {
  const key = path[path.length - 1] ?? '';
  if (SECRETS.has(key)) return undefined;
  if (DIGITS.has(key)) return '***';
  return maskPhoneForLog(value);
}

let root: Logger = pino({
  level: process.env.LOG_LEVEL ?? 'info',
  ...(pretty
    ? {
        transport: {
          target: 'pino-pretty',
          options: { translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,service' },
        },
      }
    : {}),
  base: { service: 'gemini-plivo-gateway' },
  timestamp: pino.stdTimeFunctions.isoTime,
  formatters: { level: (label) => ({ level: label }) },
  redact: { paths: REDACT_PATHS, censor },
});

/** The redaction every logger of the gateway should use (tests and the demo build their own loggers with it). */
export const LOG_REDACTION = { paths: REDACT_PATHS, censor };

/** Replace the root logger (tests use a silent one; the server sets the configured level). */
export function setRootLogger(logger: Logger): void {
  root = logger;
}

export function rootLogger(): Logger {
  return root;
}

export function childLogger(bindings: Record<string, unknown>): Logger {
  return root.child(bindings);
}

export function callLogger(callId: string, extra: Record<string, unknown> = {}): Logger {
  return root.child({ callId, ...extra });
}

// One pino root logger; everything call-scoped uses `callLogger(callId)` so that logs correlate by call.
// Messages are static strings, data goes in fields; audio payloads and phone numbers never go in a message.
import pino, { type Logger } from 'pino';

export type { Logger } from 'pino';

// LOG_PRETTY=true: human-readable lines for a terminal (pino-pretty in pino's transport thread, so formatting costs
// the main thread nothing); JSON lines otherwise, for log collectors. Read here, not in config.ts, because the
// logger exists before the configuration is loaded (config errors are logged through it).
const pretty = ['true', '1', 'yes'].includes(process.env.LOG_PRETTY ?? '');

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
  redact: { paths: ['*.authToken', '*.apiKey', '*.password', 'authorization', '*.authorization'], remove: true },
});

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

// The security log's token bucket: a burst of `perMinute` lines per reason, refilled over the minute; what is held
// back is counted and reported as one "suppressed K similar" line.
import { Writable } from 'node:stream';
import pino from 'pino';
import client from 'prom-client';
import { describe, expect, it } from 'vitest';
import { SecurityLog } from '../../src/server/security-log.ts';

function setup(perMinute: number) {
  const lines: Array<Record<string, unknown>> = [];
  const logger = pino(
    { level: 'warn' },
    new Writable({
      write(chunk: Buffer, _e, done) {
        for (const l of chunk.toString().split('\n')) if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
        done();
      },
    }),
  );
  const registry = new client.Registry();
  const refused = new client.Counter({ name: 'r', help: 'r', labelNames: ['reason'] as const, registers: [registry] });
  const suppressed = new client.Counter({
    name: 's',
    help: 's',
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  let t = 0;
  const log = new SecurityLog({ logger, perMinute, refused, suppressed, now: () => t });
  return { lines, log, registry, advance: (ms: number) => (t += ms) };
}

describe('SecurityLog', () => {
  it('logs a burst per reason, then one line per refill, with a summary of what it held back', async () => {
    const { lines, log, registry, advance } = setup(5);
    for (let i = 0; i < 1000; i++) log.warn('bad-sig', { route: 'answer' }, 'rejected');
    for (let i = 0; i < 3; i++) log.warn('bad-token', {}, 'rejected');
    expect(lines.filter((l) => l.reason === 'bad-sig')).toHaveLength(5);
    expect(lines.filter((l) => l.reason === 'bad-token')).toHaveLength(3);
    advance(12_000); // one token back (5 per minute)
    log.warn('bad-sig', { route: 'answer' }, 'rejected');
    const summary = lines.at(-2)!;
    expect(summary.msg).toBe('suppressed 995 similar');
    expect(summary.suppressed).toBe(995);
    expect(lines.at(-1)!.msg).toBe('rejected');
    log.warn('bad-sig', {}, 'rejected'); // no token left
    log.close();
    expect(lines.at(-1)!.msg).toBe('suppressed 1 similar');
    const text = await registry.metrics();
    expect(text).toContain('r{reason="bad-sig"} 1002');
    expect(text).toContain('s{reason="bad-sig"} 996');
    expect(text).toContain('r{reason="bad-token"} 3');
  });
});

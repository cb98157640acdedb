// D6 (issue 15): unauthenticated bad requests cannot flood the log. 10,000 of them (unsigned, badly signed, bad
// body, bad stream token) over real sockets write a bounded number of lines: at most SECURITY_LOG_PER_MIN per
// reason plus one "suppressed K similar" summary each, while /metrics counts every one by reason.
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEchoAgent } from '../../src/demo/echo-agent.ts';
import { setRootLogger } from '../../src/log.ts';
import { type Harness, startHarness } from '../plivo/helpers/harness.ts';
import { upgradeStatus } from '../plivo/helpers/ws.ts';

const lines: string[] = [];
let bytes = 0;
let h: Harness;
const PER_MIN = 20;

beforeAll(async () => {
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      bytes += chunk.length;
      for (const l of chunk.toString().split('\n')) if (l.trim() !== '') lines.push(l);
      done();
    },
  });
  setRootLogger(pino({ level: 'warn' }, sink));
  h = await startHarness(createEchoAgent(), { env: { SECURITY_LOG_PER_MIN: String(PER_MIN) } });
});
afterAll(async () => {
  await h?.close();
  setRootLogger(pino({ level: 'silent' }));
});

describe('D6: rate-limited security logs', () => {
  it('writes a bounded number of lines for 10,000 bad requests and counts every one in /metrics', async () => {
    const N = 10_000;
    const kinds = [
      () =>
        fetch(`${h.base}/hangup`, {
          method: 'POST',
          body: 'CallUUID=x',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
        }),
      () =>
        fetch(`${h.base}/answer`, {
          method: 'POST',
          body: 'CallUUID=x',
          headers: {
            'content-type': 'application/x-www-form-urlencoded',
            'x-plivo-signature-v3': 'AAAA',
            'x-plivo-signature-v3-nonce': '1',
          },
        }),
      () =>
        fetch(`${h.base}/callbacks/ring`, {
          method: 'POST',
          body: 'CallUUID=x',
          headers: { 'content-type': 'text/plain' },
        }),
      () => upgradeStatus(`${h.base.replace(/^http/, 'ws')}/stream/v2.garbage.garbage`),
    ];
    const statuses = new Map<number, number>();
    let next = 0;
    const worker = async () => {
      while (next < N) {
        const i = next++;
        const r = await kinds[i % kinds.length]!();
        let status: number;
        if (typeof r === 'number') status = r;
        else {
          await r.arrayBuffer();
          status = r.status;
        }
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
      }
    };
    await Promise.all(Array.from({ length: 32 }, worker));
    expect([...statuses.keys()].every((s) => s >= 400 && s < 500)).toBe(true);
    const reasons = [
      'signature-missing',
      'signature-mismatch',
      'webhook-unsupported-content-type',
      'stream-token-malformed',
    ];
    const warnLines = lines.filter((l) => reasons.some((r) => l.includes(`"reason":"${r}"`)));
    // Burst of PER_MIN per reason (+ refill during the run) and at most one summary before each logged line.
    expect(warnLines.length).toBeLessThanOrEqual(reasons.length * PER_MIN * 3);
    expect(bytes).toBeLessThan(100_000);
    const metrics = await (await fetch(`${h.base}/metrics`)).text();
    for (const r of reasons) {
      expect(metrics).toMatch(new RegExp(`gateway_security_refused_total\\{reason="${r}"\\} 2500`));
      expect(metrics).toMatch(new RegExp(`gateway_security_log_suppressed_total\\{reason="${r}"\\} \\d{4}`));
    }
    // On close the held-back count is reported as one summary line per reason.
    await h.close();
    const summaries = lines.filter((l) => /suppressed \d+ similar/.test(l));
    expect(summaries.length).toBeGreaterThanOrEqual(reasons.length);
    console.log(`10,000 bad requests → ${lines.length} log lines, ${bytes} bytes`);
  });
});

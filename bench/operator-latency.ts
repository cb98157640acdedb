// Wire latency as /metrics and the call records report it, over N calls through the local stack (both emulators and
// the real gateway in this process): each call hears the greeting, barges in on it, hears the answer, asks again,
// hears the reply and hangs up. Prints the four histograms (count, mean, bucket-estimated p50/p95) and the exact
// percentiles over the calls' own records. Smoke scale only on a shared machine:
//   node bench/operator-latency.ts --calls 1            (one demo call)
//   node bench/operator-latency.ts --calls 200 --concurrency 10
//   GEMINI_UPLINK_CHUNK_MS=100 node bench/operator-latency.ts --calls 40   (response latency with larger chunks)

import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { startLocalStack } from '../src/demo/stack.ts';
import type { SimulatedCall } from '../src/emulators/plivo/types.ts';
import { setRootLogger } from '../src/log.ts';
import type { OperatorRecord } from '../src/records/view.ts';
import { numArg, until } from './cli.ts';

const ROOT = join(fileURLToPath(import.meta.url), '../..');
const CALLS = numArg('calls', 1);
const CONCURRENCY = numArg('concurrency', 10);

const heardAll = (call: SimulatedCall) =>
  until(
    () => {
      const last = call.played.at(-1);
      return last !== undefined && performance.now() > last.endAt + 150;
    },
    30_000,
    'agent audio played',
  );
const utterance = (ms: number) => ({
  kind: 'sequence' as const,
  parts: [
    { kind: 'tone' as const, hz: 300, ms, amplitude: 0.3 },
    { kind: 'silence' as const, ms: 700 },
  ],
});

setRootLogger(pino({ level: 'error' }));
const records: OperatorRecord[] = [];
const stack = await startLocalStack({
  scenario: join(ROOT, 'scenarios/test-barge-in.json'),
  gemini: { speech: 'synthetic' },
  // GEMINI_UPLINK_CHUNK_MS from the environment: the uplink chunk's cost in response latency (issue 9 item 4).
  env: { OUTBOUND_API_KEY: 'bench', GEMINI_UPLINK_CHUNK_MS: process.env.GEMINI_UPLINK_CHUNK_MS ?? '40' },
  operator: { settleMs: 200, onFinalized: (r) => records.push(r) },
});

async function oneCall(i: number): Promise<void> {
  const call = await stack.placeCall({ idleMedia: 'silence', from: `+1415555${String(1000 + i).slice(-4)}` });
  await until(() => call.played.length > 50, 20_000, 'greeting');
  await call.sendAudio(utterance(400));
  await call.waitForEvent('clearAudio', undefined, 10_000);
  const n = call.played.length;
  await until(() => call.played.length > n + 10, 20_000, 'answer');
  await heardAll(call);
  await call.sendAudio(utterance(500));
  const m = call.played.length;
  await until(() => call.played.length > m + 10, 20_000, 'reply');
  await heardAll(call);
  await call.hangup();
}

const t0 = performance.now();
let next = 0;
let failed = 0;
await Promise.all(
  Array.from({ length: Math.min(CONCURRENCY, CALLS) }, async () => {
    while (next < CALLS) {
      const i = next++;
      await oneCall(i).catch(() => failed++);
    }
  }),
);
await until(() => records.length >= CALLS - failed, 20_000, 'records').catch(() => {});
const seconds = (performance.now() - t0) / 1000;
const metrics = await (await fetch(`${stack.base}/metrics`)).text();
await stack.close();

// Histogram lines → count, mean, p50/p95 by linear interpolation inside buckets.
function fromHistogram(name: string, labels = ''): string {
  const buckets: Array<[number, number]> = [];
  let sum = 0;
  let count = 0;
  for (const line of metrics.split('\n')) {
    if (!line.startsWith(name)) continue;
    if (labels && !line.includes(labels)) continue;
    const v = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (line.startsWith(`${name}_bucket`)) {
      const le = /le="([^"]+)"/.exec(line)![1]!;
      buckets.push([le === '+Inf' ? Number.POSITIVE_INFINITY : Number(le), v]);
    } else if (line.startsWith(`${name}_sum`)) sum = v;
    else if (line.startsWith(`${name}_count`)) count = v;
  }
  const q = (p: number) => {
    const target = p * count;
    let prevLe = 0;
    let prevN = 0;
    for (const [le, n] of buckets) {
      if (n >= target) {
        if (!Number.isFinite(le)) return `>${prevLe * 1000}`;
        return String(Math.round((prevLe + ((target - prevN) / Math.max(1, n - prevN)) * (le - prevLe)) * 1000));
      }
      prevLe = le;
      prevN = n;
    }
    return '-';
  };
  if (count === 0) return `${name}${labels ? `{${labels}}` : ''}: count 0`;
  return `${name}${labels ? `{${labels}}` : ''}: count ${count}, mean ${Math.round((sum / count) * 1000)} ms, p50≈${q(0.5)} ms, p95≈${q(0.95)} ms`;
}

const exact = (values: number[]) => {
  const s = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  const r = (p: number) => s[Math.max(0, Math.ceil(p * s.length) - 1)];
  return s.length === 0
    ? 'n=0'
    : `n=${s.length} p50 ${Math.round(r(0.5)!)} ms p95 ${Math.round(r(0.95)!)} ms max ${Math.round(s.at(-1)!)} ms`;
};
const lat = records.map((r) => r.latency!).filter(Boolean);
console.log(
  `${CALLS} calls (concurrency ${CONCURRENCY}), ${failed} failed, ${records.length} records, ${seconds.toFixed(1)} s`,
);
console.log('/metrics:');
for (const [n, l] of [
  ['gateway_greeting_latency_seconds', 'stage="sent"'],
  ['gateway_greeting_latency_seconds', 'stage="played"'],
  ['gateway_response_latency_seconds', ''],
  ['gateway_barge_in_stop_seconds', 'stage="clear_sent"'],
  ['gateway_barge_in_stop_seconds', 'stage="cleared"'],
  ['gateway_agent_gap_seconds', ''],
] as const) {
  console.log(`  ${fromHistogram(n, l)}`);
}
console.log('call records (exact):');
console.log(`  greeting sent    ${exact(lat.map((l) => l.greeting_sent_ms ?? Number.NaN))}`);
console.log(`  greeting played  ${exact(lat.map((l) => l.greeting_played_ms ?? Number.NaN))}`);
console.log(
  `  response         ${exact(lat.flatMap((l) => l.turns.filter((t) => t.kind === 'response').map((t) => t.ms)))}`,
);
console.log(`  barge-in clear   ${exact(lat.map((l) => l.barge_in_clear_sent_ms.max))}`);
console.log(`  barge-in cleared ${exact(lat.map((l) => l.barge_in_cleared_ms.max))}`);
console.log(
  `  gaps per call    ${exact(lat.map((l) => l.gaps_ms.count))} (count), total ${lat.reduce((a, l) => a + l.gaps_ms.total, 0)} ms`,
);
process.exit(0);

// What the stream notice costs in time to first audio (issue 9 item 5). Two replicas on one redis-server behind a
// loopback load balancer; the answer webhook always goes to A. Two placements of the stream, N calls each, one at a
// time:
//   same   the stream lands on A, which answered: A's warm session (opened at the answer webhook) serves it;
//   other  the stream lands on B: B opens its own session at the stream's start and publishes its notice, and A
//          closes its warm session at once.
// Time to first audio is from placing the call to the first agent audio the emulated phone receives. The Gemini
// emulator holds each setupComplete for --setup-ms (default 400 ms, a stand-in for the real service's connect and
// setup over TLS, which we cannot measure here). Also reported: Gemini sessions opened per call, and how long A's
// warm session outlived the stream's start (it used to be the 30 s warm TTL).
//   node bench/cross-replica.ts --calls 20 --setup-ms 400

import pino from 'pino';
import { createAudioEngine } from '../src/audio/engine.ts';
import { loadConfig } from '../src/config.ts';
import { emulatorEnv } from '../src/demo/emulator-env.ts';
import { startTestRedis } from '../src/demo/redis-server.ts';
import { AUTH_ID, AUTH_TOKEN, startBalancer, startReplica } from '../src/demo/replicas.ts';
import { startGeminiLiveEmulator } from '../src/emulators/gemini-live/index.ts';
import { startPlivoEmulator } from '../src/emulators/plivo/index.ts';
import { setRootLogger } from '../src/log.ts';
import { numArg, until } from './cli.ts';

import { percentile } from './stats.ts';

const CALLS = numArg('calls', 20);
const SETUP_MS = numArg('setup-ms', 400);

setRootLogger(pino({ level: 'error' }, pino.destination(2)));
const redis = await startTestRedis();
const { engine: audio } = await createAudioEngine({ backend: 'auto', execution: 'inline', poolThreads: 1 });
const plivo = await startPlivoEmulator({ authId: AUTH_ID, authToken: AUTH_TOKEN });
const gemini = await startGeminiLiveEmulator({
  port: 0,
  apiKey: 'emulator-api-key',
  speech: 'synthetic',
  faults: { setupDelayMs: SETUP_MS },
  scenario: { name: 'ttfa', responseDelayMs: 20, turns: [{ id: 'greeting', trigger: 'opening', text: 'Hello.' }] },
});
let upgradeTo = '';
const balancer = await startBalancer({ http: () => a.base, upgrade: () => upgradeTo });
const shared = { redis, audio, plivo, gemini: () => gemini, prefix: `bench-${Date.now()}:` };
const a = await startReplica('a', shared, { publicUrl: balancer.url });
const b = await startReplica('b', shared, { publicUrl: balancer.url });
const to = loadConfig(emulatorEnv()).plivo.phoneNumber;

interface Sample {
  ttfaMs: number;
  sessions: number;
  /** From the stream's start on B to A's warm session gone ('other' only). */
  warmOutlivedMs: number | undefined;
}

async function one(place: 'same' | 'other'): Promise<Sample> {
  upgradeTo = place === 'same' ? a.base : b.base;
  const before = gemini.sessions.length;
  const t0 = performance.now();
  const call = await plivo.placeInboundCall({
    answerUrl: `${balancer.url}/answer`,
    hangupUrl: `${balancer.url}/hangup`,
    from: '+14155550123',
    to,
    idleMedia: 'silence',
  });
  let streamAt = 0;
  let warmGoneAt: number | undefined;
  await until(
    () => {
      const now = performance.now();
      if (streamAt === 0 && (place === 'same' ? a : b).manager.call(call.callUuid)?.leg) streamAt = now;
      if (place === 'other' && warmGoneAt === undefined && a.manager.call(call.callUuid) === undefined && streamAt) {
        warmGoneAt = now;
      }
      return call.played.length > 0 && (place === 'same' || warmGoneAt !== undefined);
    },
    20_000,
    'first agent audio',
    // 5 ms: the resolution of the warm session's lifetime after the stream started.
    5,
  );
  const ttfaMs = call.played[0]!.at - t0;
  await call.hangup();
  await call.completed;
  await until(
    () => a.manager.call(call.callUuid) === undefined && b.manager.call(call.callUuid) === undefined,
    5000,
    'call gone',
  );
  return {
    ttfaMs,
    sessions: gemini.sessions.length - before,
    warmOutlivedMs: warmGoneAt === undefined ? undefined : warmGoneAt - streamAt,
  };
}

const rows: string[] = [];
const fmt = (v: number) => `${Math.round(v)} ms`;
for (const place of ['same', 'other'] as const) {
  const samples: Sample[] = [];
  for (let i = 0; i < CALLS; i++) samples.push(await one(place));
  const ttfa = samples.map((s) => s.ttfaMs).sort((x, y) => x - y);
  const outlived = samples.flatMap((s) => (s.warmOutlivedMs === undefined ? [] : [s.warmOutlivedMs]));
  outlived.sort((x, y) => x - y);
  rows.push(
    `| ${place === 'same' ? 'on the answering replica (warm session)' : 'on another replica (notice)'} | ` +
      `${fmt(percentile(ttfa, 0.5))} | ${fmt(percentile(ttfa, 0.95))} | ` +
      `${(samples.reduce((n, s) => n + s.sessions, 0) / samples.length).toFixed(1)} | ` +
      `${outlived.length ? `${fmt(percentile(outlived, 0.5))} / ${fmt(percentile(outlived, 1))}` : 'n/a'} |`,
  );
}
console.log(`\n${CALLS} calls per placement, Gemini setup held ${SETUP_MS} ms\n`);
console.log(
  "| Stream lands | TTFA p50 | TTFA p95 | Gemini sessions per call | A's warm session after the stream start (p50 / max) |",
);
console.log('|---|---|---|---|---|');
for (const r of rows) console.log(r);

await balancer.close();
await a.close();
await b.close();
await gemini.close();
await plivo.close();
await audio.close();
await redis.stop();

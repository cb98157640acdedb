// Stream fuzzing (issue 15 "done when"): ≥ 100,000 mutated Plivo stream messages over real sockets, on streams
// with valid tokens (so they reach the protocol parser and the call handler), while two genuine calls run on the
// same gateway. Passes with 0 crashes (an uncaught error fails the run) and 0 disturbed calls: each genuine call
// keeps its stream and keeps ~50 frames/s flowing both ways. FUZZ_MESSAGES overrides the count.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEchoAgent, type EchoAgent } from '../../src/demo/echo-agent.ts';
import { mintStreamToken } from '../../src/plivo/stream-token.ts';
import { CALLER, type Harness, OUR_NUMBER, startHarness } from '../plivo/helpers/harness.ts';
import { openSocket } from '../plivo/helpers/ws.ts';

const N = Number(process.env.FUZZ_MESSAGES ?? 100_000);
const SOCKETS = 6;

let h: Harness;
let agent: EchoAgent;
beforeAll(async () => {
  agent = createEchoAgent();
  h = await startHarness(agent);
});
afterAll(async () => {
  await h?.close();
});

/** xorshift32: deterministic, so a failing run can be replayed with the same seed. */
function prng(seed: number): () => number {
  let x = seed | 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 4294967296;
  };
}

const startMsg = (callId: string, enc = 'audio/x-mulaw', rate = 8000) =>
  JSON.stringify({
    event: 'start',
    sequenceNumber: 1,
    start: {
      callId,
      streamId: `s-${callId}`,
      accountId: 'MA0000',
      tracks: ['inbound'],
      mediaFormat: { encoding: enc, sampleRate: rate },
    },
    extra_headers: 'a=1;b=2',
  });
const MEDIA = JSON.stringify({
  event: 'media',
  sequenceNumber: 2,
  streamId: 's',
  media: {
    track: 'inbound',
    timestamp: '1705312200000',
    chunk: 1,
    payload: Buffer.alloc(160, 0x7f).toString('base64'),
  },
});
const OTHERS = [
  JSON.stringify({
    event: 'dtmf',
    sequenceNumber: 3,
    streamId: 's',
    dtmf: { track: 'inbound', digit: '5', timestamp: '1' },
  }),
  JSON.stringify({ event: 'playedStream', sequenceNumber: 4, streamId: 's', name: 'cp-1' }),
  JSON.stringify({ event: 'clearedAudio', sequenceNumber: 5, streamId: 's' }),
  JSON.stringify({ event: 'stop', sequenceNumber: 6 }),
];

interface FuzzSocket {
  readyState: number;
  bufferedAmount: number;
  send(data: string | Uint8Array, opts?: { binary?: boolean }): void;
  close(): void;
  on(event: 'open' | 'close' | 'error' | 'unexpected-response', l: (...a: unknown[]) => void): void;
}

describe('stream fuzzing', () => {
  it(`survives ${N.toLocaleString('en')} mutated messages with two genuine calls alongside`, async () => {
    const genuine = await Promise.all(
      [0, 1].map(() =>
        h.emulator.placeInboundCall({
          answerUrl: `${h.base}/answer`,
          hangupUrl: `${h.base}/hangup`,
          from: CALLER,
          to: OUR_NUMBER,
          audio: { kind: 'tone', hz: 440, ms: 120_000 },
        }),
      ),
    );
    const calls = await Promise.all(genuine.map((c) => agent.waitForCall(c.callUuid)));
    await new Promise((r) => setTimeout(r, 500));
    const pool = fc.sample(fc.jsonValue({ maxDepth: 3 }), { numRuns: 4000, seed: 15 });
    const genuineIds = genuine.map((c) => c.callUuid);
    const wsBase = `${h.base.replace(/^http/, 'ws')}/stream/`;
    const secret = h.config.plivo.streamTokenSecret;

    const mutate = (r: () => number, callId: string): [string | Uint8Array, boolean] => {
      const pick = <T>(a: readonly T[]) => a[Math.floor(r() * a.length)]!;
      const base = r() < 0.5 ? MEDIA : r() < 0.5 ? startMsg(callId) : pick(OTHERS);
      const op = Math.floor(r() * 12);
      switch (op) {
        case 0:
        case 1: {
          const b = Buffer.from(base);
          for (let k = 1 + Math.floor(r() * 4); k > 0; k--) b[Math.floor(r() * b.length)] = Math.floor(r() * 256);
          return [b.toString('latin1'), false];
        }
        case 2:
          return [base.slice(0, Math.floor(r() * base.length)), false];
        case 3: {
          const at = Math.floor(r() * base.length);
          return [base.slice(0, at) + base.slice(Math.floor(r() * base.length)) + base.slice(at), false];
        }
        case 4:
        case 5: {
          // Replace one field (at any depth) by an arbitrary JSON value.
          const o = JSON.parse(base) as Record<string, unknown>;
          let target: Record<string, unknown> = o;
          for (let d = 0; d < 2; d++) {
            const keys = Object.keys(target);
            const k = pick(keys);
            const v = target[k];
            if (typeof v === 'object' && v !== null && !Array.isArray(v) && r() < 0.6)
              target = v as Record<string, unknown>;
            else break;
          }
          target[pick(Object.keys(target))] = pick(pool);
          return [JSON.stringify(o), false];
        }
        case 6:
          return [JSON.stringify(pick(pool)), false];
        case 7: {
          const b = new Uint8Array(1 + Math.floor(r() * 400));
          for (let i = 0; i < b.length; i++) b[i] = Math.floor(r() * 256);
          return [b, r() < 0.5];
        }
        case 8: {
          // Payload lengths and alphabets around the fast path's edges.
          const len = pick([0, 1, 2, 3, 4, 156, 160, 164, 212, 213, 216, 2000, 20_000]);
          const alphabet = pick(['A', '=', '/', '+', '-', '_', '\\u0000', '"', 'é']);
          return [`{"event":"media","media":{"payload":"${alphabet.repeat(len)}"}}`, false];
        }
        case 9:
          // Another call's id in start (the genuine ones included): must close this socket, never touch those calls.
          return [startMsg(r() < 0.5 ? pick(genuineIds) : `other-${Math.floor(r() * 1e6)}`), false];
        case 10:
          return [
            startMsg(callId, pick(['audio/x-l16', 'audio/x-mulaw', 'audio/ogg', '']), pick([8000, 16000, 0, -1, 1e9])),
            false,
          ];
        default:
          return [base, false];
      }
    };

    let sent = 0;
    let sockets = 0;
    const framesAt = () => ({
      t: performance.now(),
      up: calls.map((c) => c.framesIn),
      down: genuine.map((c) => c.played.length),
    });
    const before = framesAt();
    const fuzzer = async (idx: number) => {
      const r = prng(0x5eed + idx);
      let gen = 0;
      while (sent < N) {
        const callId = `fuzz-${idx}-${gen++}`;
        const ws = openSocket(
          wsBase +
            mintStreamToken({ callId, direction: 'inbound', from: CALLER, to: OUR_NUMBER }, { secret, ttlS: 60 }),
        ) as unknown as FuzzSocket;
        const opened = await new Promise<boolean>((resolve) => {
          ws.on('open', () => resolve(true));
          ws.on('error', () => resolve(false));
          ws.on('unexpected-response', () => resolve(false));
        });
        expect(opened).toBe(true);
        sockets++;
        if (r() < 0.8) ws.send(startMsg(callId));
        let onThis = 0;
        while (sent < N && ws.readyState === 1 && onThis < 5000) {
          const [data, binary] = mutate(r, callId);
          ws.send(data, { binary });
          sent++;
          onThis++;
          // Yield often: the genuine calls' media clocks share this event loop with the fuzzer.
          if (onThis % 40 === 0 || ws.bufferedAmount > 128 * 1024) await new Promise((res) => setTimeout(res, 1));
        }
        ws.close();
      }
    };
    const t0 = performance.now();
    await Promise.all(Array.from({ length: SOCKETS }, (_, i) => fuzzer(i)));
    const after = framesAt();
    const seconds = (after.t - before.t) / 1000;
    const fuzzMs = performance.now() - t0;

    // 0 disturbed calls: both genuine streams are up, error-free, and kept real time both ways during the fuzz.
    for (let i = 0; i < 2; i++) {
      expect(calls[i]!.ended).toBeUndefined();
      expect(genuine[i]!.errors).toEqual([]);
      const up = (after.up[i]! - before.up[i]!) / seconds;
      const down = (after.down[i]! - before.down[i]!) / seconds;
      expect(up, `caller→agent frames/s of genuine call ${i}`).toBeGreaterThan(42);
      expect(down, `agent→caller frames/s of genuine call ${i}`).toBeGreaterThan(42);
    }
    // 0 crashes: the gateway still answers, and the fuzz reached the parser (errors counted, not thrown).
    expect((await fetch(`${h.base}/healthz`)).status).toBe(200);
    const errors = [...h.gateway.stats.errors.values()].reduce((a, b) => a + b, 0);
    expect(sent).toBeGreaterThanOrEqual(N);
    expect(errors).toBeGreaterThan(N / 10);
    console.log(
      `fuzz: ${sent} messages on ${sockets} sockets in ${(fuzzMs / 1000).toFixed(1)} s; ${errors} counted errors; ` +
        `genuine calls undisturbed`,
    );
    await Promise.all(genuine.map((c) => c.hangup()));
  });
});

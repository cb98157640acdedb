// A gateway with the outbound API mounted, wired to the real Plivo emulator over loopback sockets. The call side is
// a minimal stand-in CallRouter (no Gemini): the outbound status updates wrap it exactly as in production.
import { createAudioEngine } from '../../src/audio/engine.ts';
import type { AudioEngine } from '../../src/audio/types.ts';
import { type Config, loadConfig } from '../../src/config.ts';
import type { CallMediaHandler, CallRouter, HangupInfo } from '../../src/contract/call.ts';
import { emulatorEnv } from '../../src/demo/emulator-env.ts';
import { startPlivoEmulator } from '../../src/emulators/plivo/index.ts';
import type { OutboundBehaviour, PlivoEmulatorOptions } from '../../src/emulators/plivo/types.ts';
import type { Clock } from '../../src/outbound/clock.ts';
import { createOutbound, type Outbound, type OutboundOptions } from '../../src/outbound/index.ts';
import { createPlivoRestClient } from '../../src/plivo/rest-client.ts';
import { type Gateway, startGateway } from '../../src/server/gateway.ts';
import { createMemoryCallStore } from '../../src/store/memory.ts';
import { createRedisCallStore } from '../../src/store/redis.ts';
import type { CallStore } from '../../src/store/types.ts';

export const AUTH_ID = 'MAEMULATOR0000000000';
export const AUTH_TOKEN = 'emulator-auth-token';
export const API_KEY = 'test-outbound-key-123';

export type Emulator = Awaited<ReturnType<typeof startPlivoEmulator>>;

/** Destination numbers whose last digits pick the emulated callee's behaviour. */
export const NUMBERS = {
  answer: '+14155550111',
  busy: '+14155550122',
  noAnswer: '+14155550133',
  failed: '+14155550144',
  machine: '+14155550155',
} as const;

export function behaviourFor(hangupAfterMs = 300): (to: string) => OutboundBehaviour {
  return (to) => {
    const digits = to.replace(/\D/g, '');
    if (digits.endsWith('22')) return { kind: 'busy', ringMs: 20 };
    if (digits.endsWith('33')) return { kind: 'no-answer', ringMs: 20 };
    if (digits.endsWith('44')) return { kind: 'failed', ringMs: 10 };
    if (digits.endsWith('55')) return { kind: 'machine', ringMs: 20, detectMs: 50 };
    return { kind: 'answer', ringMs: 20, hangupAfterMs };
  };
}

export function startEmulator(o: Partial<PlivoEmulatorOptions> = {}): Promise<Emulator> {
  return startPlivoEmulator({
    authId: AUTH_ID,
    authToken: AUTH_TOKEN,
    outbound: behaviourFor(),
    idleMedia: 'none',
    recordPlayed: false,
    ...o,
  });
}

export interface StandIn extends CallRouter {
  answers: string[];
  hangups: Array<{ info: HangupInfo; at: number }>;
}

export function standInRouter(): StandIn {
  const answers: string[] = [];
  const hangups: Array<{ info: HangupInfo; at: number }> = [];
  const handler: CallMediaHandler = {
    onCallerAudio() {},
    onDtmf() {},
    onPlayed() {},
    onCleared() {},
    onStreamEnd() {},
  };
  return {
    answers,
    hangups,
    onAnswer(info, base) {
      answers.push(info.callId);
      return base;
    },
    attachStream: () => handler,
    onHangup(info) {
      hangups.push({ info, at: Date.now() });
    },
    activeCalls: () => 0,
    close: async () => {},
  };
}

// biome-ignore lint/suspicious/noExplicitAny: test responses are inspected field by field
export type Json = any;

export interface Node {
  gateway: Gateway;
  outbound: Outbound;
  store: CallStore;
  router: StandIn;
  config: Config;
  base: string;
  api(
    method: string,
    path: string,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<{ status: number; json: Json }>;
  close(): Promise<void>;
}

export interface NodeOptions {
  emulator: Emulator;
  env?: Record<string, string>;
  store?: 'memory' | 'redis';
  redisUrl?: string;
  prefix?: string;
  clock?: Clock;
  /** The REST client's own retries (0 to see Plivo's 429s in the dialer). */
  maxRetries?: number;
  outbound?: Partial<OutboundOptions>;
}

let sharedAudio: AudioEngine | undefined;

export async function startNode(o: NodeOptions): Promise<Node> {
  const config = loadConfig(
    emulatorEnv({
      SERVER_HOST: '127.0.0.1',
      SERVER_PORT: '0',
      PLIVO_API_BASE_URL: o.emulator.restBaseUrl,
      OUTBOUND_API_KEY: API_KEY,
      DRAIN_TIMEOUT_S: '1',
      ...(o.store === 'redis' ? { STATE_STORE: 'redis', REDIS_URL: o.redisUrl! } : {}),
      ...o.env,
    }),
  );
  sharedAudio ??= (await createAudioEngine({ backend: 'auto', execution: 'inline', poolThreads: 1 })).engine;
  const plivo = createPlivoRestClient({
    authId: AUTH_ID,
    authToken: AUTH_TOKEN,
    baseUrl: o.emulator.restBaseUrl,
    timeoutMs: 2000,
    maxRetries: o.maxRetries ?? 0,
    baseBackoffMs: 5,
  });
  const store =
    o.store === 'redis'
      ? createRedisCallStore({ url: o.redisUrl!, ttlS: 600, prefix: o.prefix ?? 'gw:' })
      : createMemoryCallStore();
  const outbound = createOutbound({
    config,
    store,
    plivo,
    clock: o.clock,
    redisPrefix: o.prefix,
    applyOptions: { linkWaitMs: 3000 },
    ...o.outbound,
  });
  const router = standInRouter();
  const gateway = await startGateway({
    config,
    router: outbound.wrapRouter(router),
    audio: sharedAudio,
    plivoApi: plivo,
    routes: [outbound.routes],
    publicUrl: (port) => `http://127.0.0.1:${port}`,
    defaultMetrics: false,
  });
  const base = gateway.publicUrl;
  return {
    gateway,
    outbound,
    store,
    router,
    config,
    base,
    async api(method, path, body, headers = {}) {
      const init: RequestInit = {
        method,
        headers: { authorization: `Bearer ${API_KEY}`, ...headers },
      };
      if (body !== undefined) {
        init.body = typeof body === 'string' ? body : JSON.stringify(body);
        if (typeof body !== 'string') (init.headers as Record<string, string>)['content-type'] = 'application/json';
      }
      const res = await fetch(`${base}${path}`, init);
      const text = await res.text();
      let json: Json;
      try {
        json = text ? JSON.parse(text) : undefined;
      } catch {
        json = text;
      }
      return { status: res.status, json };
    },
    async close() {
      await gateway.close();
      await outbound.close();
      await store.close();
    },
  };
}

export async function until<T>(
  fn: () => T | Promise<T>,
  timeoutMs = 8000,
  what = 'condition',
): Promise<NonNullable<T>> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v as NonNullable<T>;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

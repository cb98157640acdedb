// The whole system on loopback, with no credentials: the Gemini Live emulator, the Plivo emulator, and the real
// gateway (uWS edge + CallManager + memory store + inline audio engine + Plivo REST client) wired to them. Used by
// `npm run demo`, the end-to-end tests and the Gemini load benchmark.

import { composeGateway } from '../app.ts';
import { createAudioEngine } from '../audio/engine.ts';
import type { AudioEngine } from '../audio/types.ts';
import type { Call } from '../calls/call.ts';
import type { CallManager, CallManagerOptions } from '../calls/call-manager.ts';
import { type Config, loadConfig } from '../config.ts';
import {
  type GeminiLiveEmulator,
  type GeminiLiveEmulatorOptions,
  startGeminiLiveEmulator,
} from '../emulators/gemini-live/index.ts';
import type { InboundCallOptions, SimulatedCall } from '../emulators/plivo/index.ts';
import { type PlivoEmulatorOptions, startPlivoEmulator } from '../emulators/plivo/index.ts';
import { createLiveSession, type LiveSessionTuning } from '../gemini/live-session.ts';
import type { Operator, OperatorOptions } from '../operator/index.ts';
import type { Playground } from '../playground/index.ts';
import { createPlivoRestClient } from '../plivo/rest-client.ts';
import type { Gateway, GatewayOptions } from '../server/gateway.ts';
import { createMemoryCallStore } from '../store/memory.ts';
import type { CallStore } from '../store/types.ts';
import { emulatorEnv } from './emulator-env.ts';
import { freePort } from './free-port.ts';

export const CALLER_NUMBER = '+14155550123';

export interface LocalStackOptions {
  /** Scenario file path or object for the Gemini emulator. */
  scenario: GeminiLiveEmulatorOptions['scenario'];
  gemini?: Omit<GeminiLiveEmulatorOptions, 'scenario'>;
  plivo?: Partial<PlivoEmulatorOptions>;
  /** Extra environment for the gateway's configuration (emulatorEnv() gives the rest). */
  env?: Record<string, string>;
  session?: LiveSessionTuning;
  manager?: Partial<Omit<CallManagerOptions, 'config' | 'store' | 'createSession'>>;
  gateway?: Partial<GatewayOptions>;
  /** Wire latency, records API, recordings and webhook (src/operator), as in production. */
  operator?: Partial<Omit<OperatorOptions, 'config' | 'store'>>;
  /** Mount the browser playground (GET /playground) as PLAYGROUND=true would. */
  playground?: boolean;
}

export interface LocalStack {
  gemini: GeminiLiveEmulator;
  plivo: Awaited<ReturnType<typeof startPlivoEmulator>>;
  gateway: Gateway;
  manager: CallManager;
  operator: Operator;
  store: CallStore;
  config: Config;
  audio: AudioEngine;
  /** The browser playground, when asked for. */
  playground: Playground | undefined;
  /** The gateway's base URL (http://127.0.0.1:PORT). */
  base: string;
  /** Calls that ended, by Plivo CallUUID (record written). */
  ended: Map<string, Call>;
  placeCall(o?: Partial<InboundCallOptions>): Promise<SimulatedCall>;
  /** Resolves when the call with this id has ended in the CallManager. */
  callEnded(callId: string, timeoutMs?: number): Promise<Call>;
  close(): Promise<void>;
}

const AUTH_ID = 'MAEMULATOR0000000000';
const AUTH_TOKEN = 'emulator-auth-token';

export async function startLocalStack(o: LocalStackOptions): Promise<LocalStack> {
  const gemini = await startGeminiLiveEmulator({
    port: 0,
    apiKey: 'emulator-api-key',
    ...o.gemini,
    scenario: o.scenario,
  });
  const plivo = await startPlivoEmulator({ authId: AUTH_ID, authToken: AUTH_TOKEN, ...o.plivo });
  // Like production, the gateway knows its public URL before it listens (tools and transfer URLs read it).
  const port = await freePort();
  const publicUrl = `http://127.0.0.1:${port}`;
  const config = loadConfig(
    emulatorEnv({
      SERVER_HOST: '127.0.0.1',
      SERVER_PORT: String(port),
      PUBLIC_URL: publicUrl,
      PLIVO_AUTH_ID: AUTH_ID,
      PLIVO_AUTH_TOKEN: AUTH_TOKEN,
      PLIVO_API_BASE_URL: plivo.restBaseUrl,
      DRAIN_TIMEOUT_S: '1',
      ...(o.playground ? { PLAYGROUND: 'true' } : {}),
      ...o.env,
    }),
  );
  const { engine: audio } = await createAudioEngine({ backend: 'auto', execution: 'inline', poolThreads: 1 });
  const plivoApi = createPlivoRestClient({
    authId: AUTH_ID,
    authToken: AUTH_TOKEN,
    baseUrl: plivo.restBaseUrl,
    timeoutMs: 3000,
    maxRetries: 2,
    baseBackoffMs: 5,
  });
  const ended = new Map<string, Call>();
  const endWaiters = new Map<string, Array<(c: Call) => void>>();
  const callEnded = (call: Call) => {
    ended.set(call.ctx.callId, call);
    for (const w of endWaiters.get(call.ctx.callId) ?? []) w(call);
    endWaiters.delete(call.ctx.callId);
    o.manager?.onCallEnded?.(call);
  };
  // The same composition as src/main.ts, pointed at the emulator with short backoffs.
  const { gateway, calls } = await composeGateway({
    config,
    audio,
    plivoApi,
    store: createMemoryCallStore(),
    createSession: (cfg, opts) =>
      createLiveSession(cfg, opts, { baseUrl: gemini.baseUrl, backoffBaseMs: 20, closeWaitMs: 200, ...o.session }),
    manager: { ...o.manager, onCallEnded: callEnded },
    operator: o.operator,
    playground: { timing: o.manager?.timing, onEvent: o.manager?.onEvent, onCallEnded: callEnded },
    gateway: { defaultMetrics: false, ...o.gateway },
  });
  const { manager, operator, store, playground } = calls;
  const base = gateway.publicUrl;
  let closing: Promise<void> | undefined;
  return {
    gemini,
    plivo,
    gateway,
    manager,
    operator,
    store,
    config,
    audio,
    playground,
    base,
    ended,
    placeCall: (c = {}) =>
      plivo.placeInboundCall({
        answerUrl: `${base}/answer`,
        hangupUrl: `${base}/hangup`,
        from: CALLER_NUMBER,
        to: config.plivo.phoneNumber,
        ...c,
      }),
    callEnded(callId, timeoutMs = 10_000) {
      const done = ended.get(callId);
      if (done) return Promise.resolve(done);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`call ${callId} did not end in ${timeoutMs} ms`)), timeoutMs);
        const list = endWaiters.get(callId) ?? [];
        list.push((c) => {
          clearTimeout(timer);
          resolve(c);
        });
        endWaiters.set(callId, list);
      });
    },
    close() {
      closing ??= (async () => {
        await plivo.close();
        await playground?.close();
        await manager.close();
        await gateway.close();
        await calls.close();
        await gemini.close();
        await audio.close();
      })();
      return closing;
    },
  };
}

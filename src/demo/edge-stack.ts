// The Plivo edge alone: a real gateway (uWS on 127.0.0.1:0) with any CallRouter (an echo agent, a test's own) and
// the real Plivo emulator, wired to each other. Used by the edge tests and the edge load benchmark.
import { createAudioEngine } from '../audio/engine.ts';
import type { AudioEngine } from '../audio/types.ts';
import { type Config, loadConfig } from '../config.ts';
import type { CallRouter } from '../contract/call.ts';
import { startPlivoEmulator } from '../emulators/plivo/index.ts';
import { createPlivoRestClient } from '../plivo/rest-client.ts';
import { type Gateway, type GatewayOptions, startGateway } from '../server/gateway.ts';
import { emulatorEnv } from './emulator-env.ts';

export const AUTH_ID = 'MAEMULATOR0000000000';
export const AUTH_TOKEN = 'emulator-auth-token';
export const OUR_NUMBER = '+14155550100';
export const CALLER = '+14155550123';

export interface EdgeStack {
  gateway: Gateway;
  emulator: Awaited<ReturnType<typeof startPlivoEmulator>>;
  config: Config;
  audio: AudioEngine;
  base: string;
  close(): Promise<void>;
}

export async function startEdgeStack(
  router: CallRouter,
  o: { env?: Record<string, string>; gateway?: Partial<GatewayOptions>; execution?: 'inline' | 'pool' } = {},
): Promise<EdgeStack> {
  const emulator = await startPlivoEmulator({ authId: AUTH_ID, authToken: AUTH_TOKEN });
  const config = loadConfig(
    emulatorEnv({
      SERVER_HOST: '127.0.0.1',
      SERVER_PORT: '0',
      PLIVO_API_BASE_URL: emulator.restBaseUrl,
      DRAIN_TIMEOUT_S: '5',
      ...o.env,
    }),
  );
  const { engine: audio } = await createAudioEngine({
    backend: 'auto',
    execution: o.execution ?? 'inline',
    poolThreads: 1,
  });
  const plivoApi = createPlivoRestClient({
    authId: AUTH_ID,
    authToken: AUTH_TOKEN,
    baseUrl: emulator.restBaseUrl,
    timeoutMs: 2000,
    maxRetries: 2,
    baseBackoffMs: 5,
  });
  const gateway = await startGateway({
    config,
    router,
    audio,
    plivoApi,
    publicUrl: (port) => `http://127.0.0.1:${port}`,
    defaultMetrics: false,
    ...o.gateway,
  });
  const base = gateway.publicUrl;
  return {
    gateway,
    emulator,
    config,
    audio,
    base,
    async close() {
      await emulator.close();
      await gateway.close();
      await audio.close();
    },
  };
}

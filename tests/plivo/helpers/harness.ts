// Starts a real gateway (uWS on 127.0.0.1:0) and the real Plivo emulator, wired to each other.
import { createAudioEngine } from '../../../src/audio/engine.ts';
import type { AudioEngine } from '../../../src/audio/types.ts';
import type { CallRouter } from '../../../src/contract/call.ts';
import { type Config, loadConfig } from '../../../src/config.ts';
import { emulatorEnv } from '../../../src/demo/emulator-env.ts';
import { startPlivoEmulator } from '../../../src/emulators/plivo/index.ts';
import { createPlivoRestClient } from '../../../src/plivo/rest-client.ts';
import { type Gateway, type GatewayOptions, startGateway } from '../../../src/server/gateway.ts';

export const AUTH_ID = 'MAEMULATOR0000000000';
export const AUTH_TOKEN = 'emulator-auth-token';
export const OUR_NUMBER = '+14155550100';
export const CALLER = '+14155550123';

export interface Harness {
  gateway: Gateway;
  emulator: Awaited<ReturnType<typeof startPlivoEmulator>>;
  config: Config;
  audio: AudioEngine;
  base: string;
  close(): Promise<void>;
}

export async function startHarness(
  router: CallRouter,
  o: { env?: Record<string, string>; gateway?: Partial<GatewayOptions>; execution?: 'inline' | 'pool' } = {},
): Promise<Harness> {
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

/** Goertzel power of `hz` relative to total power (0..1): near 1 for a clean tone at that frequency. */
export function toneRatio(samples: Int16Array, rate: number, hz: number): number {
  const n = samples.length;
  if (n === 0) return 0;
  const w = (2 * Math.PI * hz) / rate;
  const coeff = 2 * Math.cos(w);
  let s1 = 0;
  let s2 = 0;
  let energy = 0;
  for (let i = 0; i < n; i++) {
    const x = samples[i]!;
    const s0 = x + coeff * s1 - s2;
    s2 = s1;
    s1 = s0;
    energy += x * x;
  }
  const power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
  return energy === 0 ? 0 : (2 * power) / (n * energy);
}

export function rms(samples: Int16Array): number {
  let e = 0;
  for (const x of samples) e += x * x;
  return samples.length === 0 ? 0 : Math.sqrt(e / samples.length);
}

export async function until(pred: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

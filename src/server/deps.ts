// What the gateway hands its route modules (the Plivo webhooks, the stream route, the outbound API…). Its own
// module so that src/server/gateway.ts imports the routes and the routes import only this, not the gateway.
import type { TemplatedApp } from 'uWebSockets.js';
import type { AudioEngine } from '../audio/types.ts';
import type { Config } from '../config.ts';
import type { CallRouter } from '../contract/call.ts';
import type { PhoneAudioFormat } from '../contract/media.ts';
import type { Logger } from '../log.ts';
import type { PlivoApi } from '../plivo/api-types.ts';
import type { SignedParams } from '../plivo/signature.ts';
import type { ReplayGuard } from '../store/replay-guard.ts';
import type { RequestInfo } from './http.ts';
import type { GatewayMetrics } from './metrics.ts';
import type { SecurityLog } from './security-log.ts';

/** What route modules (the outbound API…) get to mount their endpoints on the gateway's app. */
export interface GatewayDeps {
  config: Config;
  logger: Logger;
  /** Prometheus registry plus the shared request/error counters. */
  metrics: GatewayMetrics;
  router: CallRouter;
  audio: AudioEngine;
  plivoApi: PlivoApi | undefined;
  /** Public base URL (no trailing slash); known once the gateway listens (tests listen on port 0). */
  publicUrl(): string;
  /**
   * Checks X-Plivo-Signature-V3 over the public URL and the body parameters exactly as they will be read
   * (src/server/webhook-body.ts). Counts and logs failures. `replayKey` identifies what was signed (nonce + signed
   * string) for the replay guard; absent when PLIVO_VERIFY_SIGNATURES=false (then every request passes).
   */
  verifyPlivoSignature(info: RequestInfo, bodyParams: SignedParams, route: string): { ok: boolean; replayKey?: string };
  /** Nonces, per-call answer/stream state: shared across replicas when STATE_STORE=redis. */
  replayGuard: ReplayGuard;
  /** Rate-limited warnings about refused unauthenticated requests (counted in /metrics by reason). */
  securityLog: SecurityLog;
  isDraining(): boolean;
  /** At MAX_CALLS: new calls are refused. */
  isFull(): boolean;
  /** The event loop lags past OVERLOAD_LOOP_DELAY_MS: new calls are refused too (src/server/overload.ts). */
  isOverloaded(): boolean;
  streamFormat: PhoneAudioFormat;
}

export type RouteModule = (app: TemplatedApp, deps: GatewayDeps) => void;

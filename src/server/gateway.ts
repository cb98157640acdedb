// The gateway's one uWebSockets.js app: Plivo webhooks, the audio-stream WebSocket, health, readiness, metrics,
// and whatever routes other modules mount (the outbound API). Owns drain and shutdown.

import {
  App,
  type TemplatedApp,
  type us_listen_socket,
  us_listen_socket_close,
  us_socket_local_port,
} from 'uWebSockets.js';
import { createHash } from 'node:crypto';
import client, { type Registry } from 'prom-client';
import type { AudioEngine } from '../audio/types.ts';
import type { Config } from '../config.ts';
import type { CallRouter } from '../contract/call.ts';
import type { PhoneAudioFormat } from '../contract/media.ts';
import { errorMessage, GatewayError } from '../errors.ts';
import { childLogger } from '../log.ts';
import type { PlivoApi } from '../plivo/api-types.ts';
import { EdgeStats } from '../plivo/edge-stats.ts';
import { Pacer } from '../plivo/pacer.ts';
import { signatureBaseString, verifyV3 } from '../plivo/signature.ts';
import { DEFAULT_LIMITS, type PlivoStream, type StreamLimits } from '../plivo/stream-session.ts';
import { mintStreamToken } from '../plivo/stream-token.ts';
import { createReplayGuard, type ReplayGuard } from '../store/replay-guard.ts';
import type { GatewayDeps, RouteModule } from './deps.ts';
import { Reply } from './http.ts';
import { createGatewayMetrics } from './metrics.ts';
import { OverloadMonitor } from './overload.ts';
import { SecurityLog } from './security-log.ts';
import { mountStreamRoute } from './stream-route.ts';
import { mountPlivoWebhooks, RESUME_PATH } from './webhooks.ts';

export interface GatewayOptions {
  config: Config;
  router: CallRouter;
  audio: AudioEngine;
  plivoApi?: PlivoApi;
  routes?: RouteModule[];
  /**
   * Overrides config.server.publicUrl; a function gets the bound port (tests and the benchmark listen on port 0,
   * so the public URL is only known after listening).
   */
  publicUrl?: string | ((port: number) => string);
  /** Stream format requested in the answer XML (default μ-law 8 kHz, Plivo's lowest-latency option). */
  streamFormat?: PhoneAudioFormat;
  /** Agent audio pacing: how far ahead of real time frames are sent. Default PLIVO_PLAYOUT_LEAD_MS (80 ms). */
  leadMs?: number;
  limits?: Partial<StreamLimits>;
  /** Sockets that do not send `start` within this time are closed (default 10 s). */
  startTimeoutMs?: number;
  /** Measure one frame in N (default 64; the benchmark uses 1). */
  sampleEvery?: number;
  /** Node default metrics (default true). */
  defaultMetrics?: boolean;
  /** Base URL of the replicas a moved call goes to (default: the public URL; tests point it at another gateway). */
  migrateUrl?: () => string;
  /** Replay state (default: built from config.store, memory or Redis; closed with the gateway). */
  replayGuard?: ReplayGuard;
}

export interface Gateway {
  readonly port: number;
  readonly publicUrl: string;
  readonly draining: boolean;
  readonly metrics: Registry;
  readonly stats: EdgeStats;
  readonly pacer: Pacer;
  /** Stop accepting calls, wait for active ones up to DRAIN_TIMEOUT_S. */
  drain(): Promise<void>;
  /** Close every stream and the listen socket (idempotent). */
  close(): Promise<void>;
}

export async function startGateway(opts: GatewayOptions): Promise<Gateway> {
  const { config, router, audio } = opts;
  const logger = childLogger({ component: 'gateway' });
  const stats = new EdgeStats(opts.sampleEvery ?? 64);
  const pacer = new Pacer({
    leadMs: opts.leadMs ?? config.plivo.playoutLeadMs,
    batchMs: config.plivo.playoutBatchMs,
  });
  const streams = new Set<PlivoStream>();
  const overload = new OverloadMonitor({ thresholdMs: config.server.overloadLoopDelayMs });
  const metrics = createGatewayMetrics({
    stats,
    activeCalls: () => safeActiveCalls(router),
    pacerMaxIntervalMs: () => pacer.takeMaxIntervalMs(),
    overload,
    defaultMetrics: opts.defaultMetrics,
  });
  const limits: StreamLimits = {
    ...DEFAULT_LIMITS,
    maxBackpressureBytes: config.server.wsMaxBackpressureBytes,
    ...opts.limits,
  };
  let port = 0;
  let publicUrl = '';
  let draining = false;
  let closed = false;
  let drainPromise: Promise<void> | undefined;
  const replayGuard =
    opts.replayGuard ??
    createReplayGuard({
      kind: config.store.kind,
      redisUrl: config.store.redisUrl,
      nonceTtlS: config.plivo.nonceTtlS,
      callTtlS: config.store.recordTtlS,
    });
  await replayGuard.ready();
  // A call answered here whose stream another replica took: its warm Gemini session closes now (issue 9).
  replayGuard.onStreamElsewhere((callId) => {
    try {
      router.streamElsewhere?.(callId);
    } catch (err) {
      logger.error({ callId, err: errorMessage(err) }, 'stream-elsewhere notice failed');
    }
  });
  new client.Counter({
    name: 'gateway_replay_guard_fallbacks_total',
    help: 'Replay-guard operations answered from this process memory because Redis was unreachable',
    registers: [metrics.registry],
    collect() {
      this.reset();
      this.inc(replayGuard.fallbacks);
    },
  });
  const securityLog = new SecurityLog({
    logger,
    perMinute: config.server.securityLogPerMin,
    refused: metrics.securityRefused,
    suppressed: metrics.securityLogSuppressed,
  });

  if (!config.plivo.verifySignatures) {
    logger.warn(
      'PLIVO_VERIFY_SIGNATURES=false: webhook signatures are NOT checked. Anyone who can reach this server can ' +
        'fake Plivo callbacks. Use this for local development only.',
    );
  }

  const deps: GatewayDeps = {
    config,
    logger,
    metrics,
    router,
    audio,
    plivoApi: opts.plivoApi,
    publicUrl: () => publicUrl,
    verifyPlivoSignature(info, bodyParams, route) {
      if (!config.plivo.verifySignatures) return { ok: true };
      const url = publicUrl + info.path + (info.query === '' ? '' : `?${info.query}`);
      const nonce = info.headers['x-plivo-signature-v3-nonce'];
      const check = (header: string) =>
        verifyV3({
          authToken: config.plivo.authToken,
          method: info.method,
          url,
          nonce,
          signatures: info.headers[header],
          bodyParams,
        });
      // The "Ma" header is signed with the main account's token; ours is that token when not a subaccount.
      const result = check('x-plivo-signature-v3');
      if (result.ok || check('x-plivo-signature-ma-v3').ok) {
        // Bound to what was signed, not to the header text: a replay cannot dodge it by adding a signature to
        // the comma-separated list, and two different signed requests never share a key.
        const signed = signatureBaseString(info.method === 'GET' ? 'GET' : 'POST', url, bodyParams);
        const replayKey = createHash('sha256').update(`${nonce}\n${signed}`).digest('base64url');
        return { ok: true, replayKey };
      }
      metrics.errors.inc({ kind: `signature-${result.reason}` });
      securityLog.warn(`signature-${result.reason}`, { route }, 'Plivo webhook signature rejected');
      return { ok: false };
    },
    replayGuard,
    securityLog,
    isDraining: () => draining,
    isFull: () => Math.max(safeActiveCalls(router), stats.activeStreams) >= config.server.maxCalls,
    isOverloaded: () => overload.overloaded,
    streamFormat: opts.streamFormat ?? { encoding: 'mulaw', sampleRate: 8000 },
  };

  const app = App();
  mountPlivoWebhooks(app, deps);
  mountStreamRoute(app, deps, { stats, pacer, limits, streams });
  mountHealth(app, deps, stats);
  for (const mount of opts.routes ?? []) mount(app, deps);
  app.any('/*', (res) => {
    new Reply(res).text(404, 'not found');
  });

  const listenSocket = await new Promise<us_listen_socket>((resolve, reject) => {
    app.listen(config.server.host, config.server.port, (ls) => {
      if (ls) resolve(ls);
      else {
        reject(
          new GatewayError('GW_ERR_INVALID_STATE', `cannot listen on ${config.server.host}:${config.server.port}`),
        );
      }
    });
  });
  port = us_socket_local_port(listenSocket as unknown as import('uWebSockets.js').us_socket);
  publicUrl = (
    typeof opts.publicUrl === 'function' ? opts.publicUrl(port) : (opts.publicUrl ?? config.server.publicUrl)
  ).replace(/\/+$/, '');

  const startTimeoutMs = opts.startTimeoutMs ?? 10_000;
  const housekeeping = setInterval(
    () => {
      const now = performance.now();
      for (const s of streams) s.expireIfNotStarted(now, startTimeoutMs);
    },
    Math.min(1000, startTimeoutMs),
  );
  housekeeping.unref();

  logger.info({ port, publicUrl, audio: { backend: audio.backend, execution: audio.execution } }, 'gateway listening');

  const gateway: Gateway = {
    get port() {
      return port;
    },
    get publicUrl() {
      return publicUrl;
    },
    get draining() {
      return draining;
    },
    metrics: metrics.registry,
    stats,
    pacer,
    drain() {
      if (drainPromise) return drainPromise;
      draining = true;
      logger.info({ activeCalls: safeActiveCalls(router), activeStreams: streams.size }, 'draining');
      drainPromise = (async () => {
        const deadline = Date.now() + config.server.drainTimeoutS * 1000;
        const routerClosed = Promise.resolve()
          .then(() => router.close())
          .catch((err: unknown) => logger.error({ err: errorMessage(err) }, 'router close failed'));
        let routerDone = false;
        void routerClosed.then(() => {
          routerDone = true;
        });
        const migrateAt = deadline - config.server.drainMigrateMarginS * 1000;
        let migrated = !config.server.drainMigrate || router.migrateCalls === undefined;
        // Calls live at the deadline are counted once: by what moving them did, else as cut at the deadline.
        let counted = false;
        while (Date.now() < deadline && !closed) {
          if (!migrated && Date.now() >= migrateAt) {
            migrated = true;
            const base = opts.migrateUrl?.() ?? publicUrl;
            const o = { secret: config.plivo.streamTokenSecret, ttlS: config.plivo.streamTokenTtlS };
            logger.info({ activeCalls: safeActiveCalls(router) }, 'drain deadline near: moving calls');
            void router
              .migrateCalls?.(
                (ctx, handle) => `${base}${RESUME_PATH}/${mintStreamToken({ ...ctx, resumeHandle: handle }, o)}`,
              )
              .then((outcome) => {
                if (outcome === undefined || counted) return;
                counted = true;
                if (outcome.migrated > 0) metrics.drainDeadlineCalls.inc({ outcome: 'migrated' }, outcome.migrated);
                if (outcome.hungUp > 0) metrics.drainDeadlineCalls.inc({ outcome: 'hung_up' }, outcome.hungUp);
              })
              .catch((err: unknown) => logger.error({ err: errorMessage(err) }, 'moving calls failed'));
          }
          if (streams.size === 0 && (routerDone || safeActiveCalls(router) === 0)) break;
          await new Promise((r) => setTimeout(r, 50));
        }
        const left = safeActiveCalls(router);
        if (!counted && Date.now() >= deadline && left > 0) {
          counted = true;
          metrics.drainDeadlineCalls.inc({ outcome: 'hung_up' }, left);
        }
        logger.info({ remainingStreams: streams.size }, 'drain finished');
      })();
      return drainPromise;
    },
    async close() {
      if (closed) return;
      closed = true;
      draining = true;
      clearInterval(housekeeping);
      for (const s of [...streams]) s.close('shutdown');
      pacer.stop();
      overload.close();
      us_listen_socket_close(listenSocket);
      app.close();
      securityLog.close();
      if (!opts.replayGuard) await replayGuard.close();
      logger.info('gateway closed');
    },
  };
  return gateway;
}

function safeActiveCalls(router: CallRouter): number {
  try {
    return router.activeCalls();
  } catch {
    return 0;
  }
}

function mountHealth(app: TemplatedApp, deps: GatewayDeps, stats: EdgeStats): void {
  // The Python example's health check was `GET /`; kept for its users' monitors. It says only that the process
  // answers: `/` is often public, so counts and backends stay on /healthz.
  app.get('/', (res) => {
    new Reply(res).json(200, { status: 'ok', service: 'gemini-plivo-gateway' });
  });
  app.get('/healthz', (res) => {
    new Reply(res).json(200, {
      status: 'ok',
      audio: { backend: deps.audio.backend, execution: deps.audio.execution },
      draining: deps.isDraining(),
      activeCalls: safeActiveCalls(deps.router),
      activeStreams: stats.activeStreams,
    });
  });
  app.get('/readyz', (res) => {
    const reply = new Reply(res);
    if (deps.isDraining()) reply.json(503, { ready: false, reason: 'draining' });
    else if (deps.isFull()) reply.json(503, { ready: false, reason: 'at MAX_CALLS' });
    else if (deps.isOverloaded()) reply.json(503, { ready: false, reason: 'overloaded' });
    else reply.json(200, { ready: true });
  });
  app.get('/metrics', (res) => {
    const reply = new Reply(res);
    deps.metrics.registry
      .metrics()
      .then((text) => reply.send(200, text, deps.metrics.registry.contentType))
      .catch((err: unknown) => reply.text(500, errorMessage(err)));
  });
}

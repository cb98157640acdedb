// Wires the outbound side together: the REST routes, the dialer on the configured queue (in process, or BullMQ on
// Redis with STATE_STORE=redis), and the hooks the rest of the gateway calls (Plivo callbacks, callbacks promised
// by the agent). `wrapRouter` puts the status updates in front of the CallManager so that the gateway needs no
// outbound-specific code.

import { type ApplyOptions, applyAnswer, applyHangup, applyMachine, applyRing } from '../calls/status-updates.ts';
import type { Config } from '../config.ts';
import type { AnswerInfo, CallContext, CallRouter, HangupInfo } from '../contract/call.ts';
import { ConfigError, errorMessage } from '../errors.ts';
import { childLogger } from '../log.ts';
import type { PlivoApi } from '../plivo/api-types.ts';
import type { CallbackRequest, CallRecord, CallStore } from '../store/types.ts';
import { type Clock, systemClock } from './clock.ts';
import { createBullDialQueue } from './dial-queue-bullmq.ts';
import { createMemoryDialQueue } from './dial-queue-memory.ts';
import { createDialer, type Dialer } from './dialer.ts';
import { createMemoryDialerState } from './dialer-state-memory.ts';
import { createRedisDialerState } from './dialer-state-redis.ts';
import { outboundRoutes } from './routes.ts';
import { openSpool, type Spool } from './spool.ts';

export { applyAnswer, applyHangup, applyMachine, applyRing } from '../calls/status-updates.ts';
export type { Dialer } from './dialer.ts';
export { type OutboundDeps, outboundRoutes } from './routes.ts';

export interface OutboundOptions {
  config: Config;
  store: CallStore;
  plivo: PlivoApi | undefined;
  clock?: Clock;
  /** 'memory' (default for STATE_STORE=memory) or 'redis' (BullMQ + shared dialer state). */
  queue?: 'memory' | 'redis';
  /** Redis key prefix for the dialer state and queues (tests isolate themselves with it). */
  redisPrefix?: string;
  /** Whether this replica consumes dial jobs (default true). */
  dial?: boolean;
  /** Passed to the dialer (lease, backoff, sweep) — mostly for tests. */
  dialer?: {
    leaseMs?: number;
    sweepMs?: number;
    reconcileAfterMs?: number;
    rateLimitedRetryMs?: { baseMs: number; maxMs: number };
  };
  applyOptions?: ApplyOptions;
  /**
   * Whether this replica is draining (it then places no new call). Defaults to the gateway's drain state, taken
   * from the gateway the routes are mounted on.
   */
  isDraining?: () => boolean;
  /** How often spooled callbacks are retried while the store is down (ms). */
  spoolReplayMs?: number;
  /** A spooled hangup whose call record cannot be found is given up after this long (ms). */
  spoolMaxAgeMs?: number;
}

export interface Outbound {
  readonly dialer: Dialer;
  /** Mount on the gateway: `startGateway({ routes: [outbound.routes] })`. */
  routes: (app: import('uWebSockets.js').TemplatedApp, gatewayDeps?: unknown) => void;
  onAnswer(info: AnswerInfo): Promise<CallRecord | undefined>;
  onHangup(info: HangupInfo): Promise<CallRecord | undefined>;
  onRing(params: Record<string, string>): Promise<CallRecord | undefined>;
  onMachine(params: Record<string, string>): Promise<CallRecord | undefined>;
  /** For CallManager's `onCallbackScheduled`. */
  onCallbackScheduled(record: CallRecord, request: CallbackRequest): Promise<void>;
  /** A CallRouter that applies the outbound status updates, then delegates to `inner`. */
  wrapRouter(inner: CallRouter): CallRouter;
  close(): Promise<void>;
}

export function createOutbound(options: OutboundOptions): Outbound {
  const { config, store } = options;
  const clock = options.clock ?? systemClock;
  const log = childLogger({ component: 'outbound' });
  const kind = options.queue ?? config.store.kind;
  const prefix = options.redisPrefix ?? 'gw:';
  // The account's CPS, enforced by the dial queue's limiter (shared across replicas with Redis).
  // The gateway knows its public URL once it listens (port 0 in tests); routes() mounting tells us.
  let publicUrlFn: () => string = () => config.server.publicUrl;
  const publicUrl = () => publicUrlFn();
  let drainingFn: () => boolean = options.isDraining ?? (() => false);
  const isDraining = () => drainingFn();
  const limiter = { max: 1, durationMs: Math.max(1, Math.round(1000 / config.plivo.cps)) };
  // The same dialer either way; only where its state and queues live differs.
  let backing: Pick<Parameters<typeof createDialer>[0], 'state' | 'dialQueue' | 'wakeQueue'>;
  if (kind === 'redis') {
    const url = config.store.redisUrl;
    if (!url) throw new Error('REDIS_URL is required for the Redis dialer');
    const qp = `${prefix.replace(/:/g, '')}-bull`;
    backing = {
      state: createRedisDialerState({ url, prefix, ttlS: config.store.recordTtlS }),
      dialQueue: createBullDialQueue({ redisUrl: url, name: 'dial', prefix: qp, limiter }),
      wakeQueue: createBullDialQueue({ redisUrl: url, name: 'wake', prefix: qp }),
    };
  } else {
    backing = {
      state: createMemoryDialerState(),
      dialQueue: createMemoryDialQueue({ clock, limiter }),
      wakeQueue: createMemoryDialQueue({ clock }),
    };
  }
  const dialer: Dialer = createDialer({
    config,
    store,
    plivo: options.plivo ?? unavailablePlivo,
    clock,
    publicUrl,
    isDraining,
    ...backing,
    ...options.dialer,
  });
  if (options.dial !== false) dialer.start();

  const applyOpts: ApplyOptions = { now: () => clock.now(), ...options.applyOptions };
  const mountRoutes = outboundRoutes({ config, store, plivo: options.plivo, dialer, clock, publicUrl, isDraining });
  const routes: Outbound['routes'] = (app, gatewayDeps) => {
    const gw = gatewayDeps as { publicUrl?: () => string; isDraining?: () => boolean } | undefined;
    if (!options.isDraining && typeof gw?.isDraining === 'function') drainingFn = gw.isDraining;
    if (typeof gw?.publicUrl === 'function') {
      const fromGateway = gw.publicUrl;
      publicUrlFn = () => fromGateway() || config.server.publicUrl;
    }
    mountRoutes(app, gatewayDeps);
  };

  // Hangups that could not be applied (store down) are kept on disk and applied when the store is back: a lost
  // hangup would hold its campaign slot until the lease runs out (4 h) and leave the contact in progress.
  let spool: Spool<SpooledHangup>;
  try {
    spool = openSpool(config.outbound.spoolDir, 'hangups');
  } catch (err) {
    // Refuse to start rather than run without a place to keep callbacks through a store outage.
    throw new ConfigError([`OUTBOUND_SPOOL_DIR: cannot use ${config.outbound.spoolDir}: ${errorMessage(err)}`]);
  }
  const spoolMaxAgeMs = options.spoolMaxAgeMs ?? 30 * 60_000;
  let replaying = false;
  const replay = async (): Promise<void> => {
    if (replaying || spool.size === 0) return;
    replaying = true;
    try {
      for (const e of spool.pending()) {
        const info = fromSpool(e.entry);
        const record = await applyHangupAndEnd(info); // throws while the store is still down: try next round
        if (!record && Date.now() - e.at < spoolMaxAgeMs) continue; // its record may not be linked yet
        if (!record) log.warn({ callId: info.callId }, 'spooled hangup matches no call record; given up');
        else log.info({ callId: record.id }, 'spooled hangup applied');
        await spool.done(e.id);
      }
    } catch (err) {
      log.debug({ err: errorMessage(err), pending: spool.size }, 'spooled hangups not applied yet');
    } finally {
      replaying = false;
    }
  };
  const replayTimer = setInterval(() => void replay(), options.spoolReplayMs ?? 2000);
  replayTimer.unref();
  void replay();

  async function applyHangupAndEnd(info: HangupInfo): Promise<CallRecord | undefined> {
    const record = await applyHangup(store, info, applyOpts);
    if (record) await dialer.onCallEnded(record);
    return record;
  }

  const outbound: Outbound = {
    dialer,
    routes,
    onAnswer: (info) => applyAnswer(store, info, applyOpts),
    async onHangup(info) {
      try {
        return await applyHangupAndEnd(info);
      } catch (err) {
        if (!isOutboundHangup(info)) throw err;
        await spool.append(toSpool(info));
        log.warn({ callId: info.callId, err: errorMessage(err) }, 'hangup not applied (store down); spooled');
        return undefined;
      }
    },
    onRing: (params) => applyRing(store, params, applyOpts),
    onMachine: (params) => applyMachine(store, params, applyOpts),
    async onCallbackScheduled(record, request) {
      await dialer.scheduleCallback(record, request);
    },
    wrapRouter(inner) {
      const safe = async <T>(what: string, fn: () => Promise<T>): Promise<T | undefined> => {
        try {
          return await fn();
        } catch (err) {
          log.warn({ err: errorMessage(err), what }, 'outbound status update failed');
          return undefined;
        }
      };
      return {
        async onAnswer(info: AnswerInfo, base: CallContext) {
          const record =
            info.direction === 'outbound' ? await safe('answer', () => outbound.onAnswer(info)) : undefined;
          const ctx: CallContext = record
            ? {
                ...base,
                outboundId: record.id,
                campaignId: record.campaignId,
                openingReason: record.openingReason,
                objective: record.objective,
                context: record.context,
                variables: record.variables,
              }
            : base;
          return inner.onAnswer(info, ctx);
        },
        attachStream: (ctx, leg, start) => inner.attachStream(ctx, leg, start),
        migrateCalls: async (urlFor) => inner.migrateCalls?.(urlFor),
        streamElsewhere: (callId) => inner.streamElsewhere?.(callId),
        async onHangup(info) {
          // Both write the record (atomically); the dialer then sees the final status either way.
          await Promise.all([
            safe('hangup-inner', async () => inner.onHangup(info)),
            safe('hangup', () => outbound.onHangup(info)),
          ]);
        },
        async onCallback(kindName, params) {
          if (kindName === 'ring') await safe('ring', () => outbound.onRing(params));
          else if (kindName === 'machine') await safe('machine', () => outbound.onMachine(params));
          await inner.onCallback?.(kindName, params);
        },
        activeCalls: () => inner.activeCalls(),
        close: () => inner.close(),
      };
    },
    async close() {
      clearInterval(replayTimer);
      await dialer.close();
      await spool.close();
    },
  };
  return outbound;
}

/** The hangup parameters a replay needs; no phone numbers (they would sit in a file on disk). */
type SpooledHangup = Omit<HangupInfo, 'raw'> & { raw: Record<string, string> };
const KEEP_RAW = ['CallUUID', 'RequestUUID', 'ALegRequestUUID', 'Direction', 'CallStatus', 'HangupCause'];

function toSpool(info: HangupInfo): SpooledHangup {
  const raw: Record<string, string> = {};
  for (const k of KEEP_RAW) if (info.raw[k] !== undefined) raw[k] = info.raw[k];
  return { ...info, raw };
}
const fromSpool = (e: SpooledHangup): HangupInfo => e;
const isOutboundHangup = (info: HangupInfo) => (info.raw.Direction ?? 'outbound').toLowerCase() !== 'inbound';

const unavailable = async (): Promise<never> => {
  throw new Error('no Plivo client configured');
};
const unavailablePlivo: PlivoApi = {
  makeCall: unavailable,
  hangupCall: unavailable,
  transferCall: unavailable,
  sendSms: unavailable,
  configureNumber: unavailable,
};

// Operator truth for every call: wire latency (src/observability), the recording (src/recording), the finished
// record with latency summary, usage by modality and cost (src/records), and the post-call webhook from a durable
// outbox (src/webhooks-out). Composed in src/app.ts (and the demo stack) around the call router:
//   router  = operator.wrapRouter(router)   — answer times, stream registration, hangups
//   manager onCallEnded → operator.callEnded(recordId, callId)
//   routes  += operator.routes              — /calls API, dead letters, latency histograms on /metrics
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Config } from '../config.ts';
import type { CallRouter, HangupInfo } from '../contract/call.ts';
import { errorMessage } from '../errors.ts';
import { childLogger } from '../log.ts';
import type { LatencySink, TurnLatency } from '../observability/latency.ts';
import { createLatencyHistograms, type LatencyHistograms } from '../observability/metrics.ts';
import { type StreamOutcome, safeName, WireObserver } from '../observability/observer.ts';
import { probes, type UsageProbe } from '../probes/channels.ts';
import { localStorage, type RecordingStorage, s3Storage } from '../recording/storage.ts';
import { addUsage, estimateCost, type ModalityUsage } from '../records/cost.ts';
import { createMemoryListIndex, createRedisListIndex, type ListIndex } from '../records/list-index.ts';
import { recordsRoutes } from '../records/routes.ts';
import { callView, type OperatorRecord, type RecordingInfo } from '../records/view.ts';
import type { RouteModule } from '../server/deps.ts';
import type { CallStore } from '../store/types.ts';
import { WebhookDeliverer } from '../webhooks-out/deliverer.ts';
import { createMemoryOutbox, type Outbox } from '../webhooks-out/outbox.ts';
import { createRedisOutbox } from '../webhooks-out/outbox-redis.ts';

export interface OperatorOptions {
  config: Config;
  store: CallStore;
  /** The gateway's public base URL (recording links); defaults to the gateway's own once mounted. */
  publicUrl?: () => string;
  /** How long a finished call waits for Plivo's hangup callback (final status) before its webhook goes out. */
  settleMs?: number;
  /** Per-turn latency as it happens (the demo prints it). */
  onTurn?: (callId: string, t: TurnLatency) => void;
  /** A call's record was finalized (tests, demo). */
  onFinalized?: (record: OperatorRecord) => void;
  pollMs?: number;
}

export interface Operator {
  wrapRouter(router: CallRouter): CallRouter;
  /**
   * CallManager's onCallEnded: the call's own record is written. `moved`: the call was transferred to another
   * replica at a drain deadline; it is finalized there (this replica only adds its Gemini usage to the record).
   */
  callEnded(recordId: string, callId: string, moved?: boolean): void;
  routes: RouteModule;
  histograms: LatencyHistograms;
  outbox: Outbox | undefined;
  deliverer: WebhookDeliverer | undefined;
  close(): Promise<void>;
}

interface Pending {
  recordId: string;
  stream?: StreamOutcome | undefined;
  ended: boolean;
  hungUp: boolean;
  timer?: NodeJS.Timeout | undefined;
  done: boolean;
  createdMs: number;
}

const log = childLogger({ component: 'operator' });
const SWEEP_MS = 60_000;
const PENDING_TTL_MS = 30 * 60_000;

export function createOperator(o: OperatorOptions): Operator {
  const { config, store } = o;
  const settleMs = o.settleMs ?? 3000;
  const histograms = createLatencyHistograms();
  const redisUrl = config.store.kind === 'redis' ? config.store.redisUrl : undefined;
  const index: ListIndex = redisUrl
    ? createRedisListIndex({ url: redisUrl, ttlS: config.store.recordTtlS })
    : createMemoryListIndex({ ttlS: config.store.recordTtlS });
  const wh = config.operator.webhook;
  const outbox: Outbox | undefined = wh
    ? redisUrl
      ? createRedisOutbox({ url: redisUrl, retentionS: config.store.recordTtlS })
      : createMemoryOutbox()
    : undefined;
  const deliverer =
    wh && outbox
      ? new WebhookDeliverer({
          url: wh.url,
          secret: wh.secret,
          outbox,
          maxAttempts: wh.maxAttempts,
          backoffMs: wh.backoffMs,
          maxBackoffMs: wh.maxBackoffMs,
          timeoutMs: wh.timeoutMs,
          pollMs: o.pollMs,
        })
      : undefined;
  deliverer?.start();

  const recDir = config.operator.recording.enabled ? resolve(config.operator.recording.dir) : undefined;
  const ready = recDir ? mkdir(recDir, { recursive: true }) : Promise.resolve(undefined);
  ready.catch((err: unknown) => log.error({ err: errorMessage(err) }, 'recording directory not usable'));
  const s3 = config.operator.recording.s3;
  const storage: RecordingStorage | undefined = recDir ? (s3 ? s3Storage(s3) : localStorage(recDir)) : undefined;
  let publicUrl = o.publicUrl ?? (() => config.server.publicUrl);

  const pending = new Map<string, Pending>();
  const usage = new Map<string, { u: ModalityUsage; at: number }>();
  const onUsage = (msg: unknown) => {
    const m = msg as UsageProbe;
    let e = usage.get(m.callId);
    if (!e) {
      e = { u: { input: {}, output: {} }, at: Date.now() };
      usage.set(m.callId, e);
    }
    addUsage(e.u, m.raw);
  };
  subscribe(probes.usage.name, onUsage);

  const sink: LatencySink = {
    greeting: histograms.greeting,
    response: histograms.response,
    bargeIn: histograms.bargeIn,
    gap: histograms.gap,
  };
  const observer = new WireObserver({
    sink,
    recordingTmpDir: recDir,
    onStreamEnd: (outcome) => {
      const p = entry(outcome.callId, outcome.recordId);
      p.stream = outcome;
      maybeFinalize(outcome.callId);
    },
  });
  observer.start();

  const sweep = setInterval(() => {
    const now = Date.now();
    for (const [id, p] of pending) if (now - p.createdMs > PENDING_TTL_MS) pending.delete(id);
    for (const [id, u] of usage) if (now - u.at > 4 * 3_600_000) usage.delete(id);
  }, SWEEP_MS);
  sweep.unref();

  function entry(callId: string, recordId: string): Pending {
    let p = pending.get(callId);
    if (!p) {
      p = { recordId, ended: false, hungUp: false, done: false, createdMs: Date.now() };
      pending.set(callId, p);
    }
    return p;
  }

  function maybeFinalize(callId: string): void {
    const p = pending.get(callId);
    if (!p || p.done || !p.ended) return;
    if (p.hungUp) {
      void finalize(callId, p);
      return;
    }
    // Wait a little for Plivo's hangup callback, so the webhook carries the final status and duration.
    p.timer ??= setTimeout(() => void finalize(callId, p), settleMs);
    p.timer.unref();
  }

  async function storeRecording(p: Pending): Promise<RecordingInfo | undefined> {
    const rec = p.stream?.recording;
    if (!rec || !storage) return undefined;
    const done = await rec;
    if (!done) return undefined;
    const stored = await storage.put(done.path, `${safeName(p.recordId)}.wav`);
    return {
      storage: storage.kind,
      location: stored.location,
      url: `${publicUrl()}/calls/${encodeURIComponent(p.recordId)}/recording`,
      durationS: Math.round(done.durationS * 100) / 100,
      sampleRate: done.sampleRate,
      channels: 2,
      cuts: done.cuts,
    };
  }

  async function finalize(callId: string, p: Pending): Promise<void> {
    if (p.done) return;
    p.done = true;
    clearTimeout(p.timer);
    try {
      const recording = await storeRecording(p).catch((err: unknown) => {
        // The finished file stays in RECORDING_DIR (named *.wav.part) for a manual upload.
        log.error({ callId, err: errorMessage(err) }, 'recording not stored');
        return undefined;
      });
      const u = usage.get(callId)?.u;
      usage.delete(callId);
      const record = (await store.update(p.recordId, (r) => {
        const out: OperatorRecord = { ...r };
        if (p.stream) out.latency = p.stream.latency;
        // A moved call's earlier replica left its part of the usage in the record (see handOver).
        const merged = mergeUsage((r as OperatorRecord).usageByModality, u);
        if (merged) out.usageByModality = merged;
        const durationS =
          r.durationS ??
          (r.answeredAt
            ? Math.max(0, (Date.parse(r.endedAt ?? new Date().toISOString()) - Date.parse(r.answeredAt)) / 1000)
            : undefined);
        out.cost = estimateCost(merged ?? { input: {}, output: {} }, config.operator.prices, {
          direction: r.direction,
          durationS,
        });
        if (recording) out.recording = recording;
        return out;
      })) as OperatorRecord | undefined;
      if (!record) {
        log.warn({ callId }, 'no call record to finalize');
        return;
      }
      await index.add({ id: record.id, at: Date.parse(record.createdAt) || Date.now() });
      o.onFinalized?.(record);
      await enqueueWebhook(record);
    } catch (err) {
      log.error({ callId, err: errorMessage(err) }, 'call record not finalized');
    }
  }

  /** A call moved to another replica: no webhook or listing from here, only this replica's usage into the record. */
  async function handOver(callId: string, p: Pending): Promise<void> {
    p.done = true;
    clearTimeout(p.timer);
    const u = usage.get(callId)?.u;
    usage.delete(callId);
    if (!u) return;
    try {
      await store.update(p.recordId, (r) => ({
        ...r,
        usageByModality: mergeUsage((r as OperatorRecord).usageByModality, u),
      }));
    } catch (err) {
      log.warn({ callId, err: errorMessage(err) }, 'moved call: usage not handed over');
    }
  }

  async function enqueueWebhook(record: OperatorRecord): Promise<void> {
    if (!outbox || !deliverer) return;
    const body = JSON.stringify({
      event: 'call.ended',
      call: callView(record, { redact: config.operator.redactPii }),
    });
    const added = await outbox.enqueue(
      { id: `call.ended:${record.id}`, event: 'call.ended', body, attempts: 0, createdAt: new Date().toISOString() },
      Date.now(),
    );
    if (added) void deliverer.poll();
  }

  async function listRecord(id: string): Promise<void> {
    try {
      const r = await store.get(id);
      if (r) await index.add({ id: r.id, at: Date.parse(r.createdAt) || Date.now() });
    } catch (err) {
      log.warn({ callId: id, err: errorMessage(err) }, 'call not listed at answer');
    }
  }

  async function hungUp(info: HangupInfo): Promise<void> {
    const p = pending.get(info.callId);
    if (p) {
      p.hungUp = true;
      maybeFinalize(info.callId);
      return;
    }
    // No call ran here: an outbound call that was never answered still gets a record in the list and a webhook.
    const r = await store.getByPlivoUuid(info.callId).catch(() => undefined);
    if (!r || r.answeredAt) return;
    const q = entry(info.callId, r.id);
    q.ended = true;
    q.hungUp = true;
    await finalize(info.callId, q);
  }

  return {
    histograms,
    outbox,
    deliverer,
    wrapRouter(router) {
      return {
        async onAnswer(info, base) {
          observer.answered(info.callId);
          const ctx = await router.onAnswer(info, base);
          // Listed from the answer on, so calls in progress show up too (finalizing re-adds: idempotent).
          void listRecord(ctx.outboundId ?? ctx.callId);
          return ctx;
        },
        migrateCalls: async (urlFor) => router.migrateCalls?.(urlFor),
        streamElsewhere: (callId) => router.streamElsewhere?.(callId),
        attachStream(ctx, leg, start) {
          const recordId = ctx.outboundId ?? ctx.callId;
          entry(ctx.callId, recordId);
          if (o.onTurn) {
            const onTurn = o.onTurn;
            observer.expect(leg, recordId, { ...sink, turn: (t) => onTurn(ctx.callId, t) });
          } else {
            observer.expect(leg, recordId);
          }
          return router.attachStream(ctx, leg, start);
        },
        async onHangup(info) {
          await router.onHangup(info);
          await hungUp(info).catch((err: unknown) =>
            log.warn({ callId: info.callId, err: errorMessage(err) }, 'hangup not finalized'),
          );
        },
        onCallback: router.onCallback ? (kind, params) => router.onCallback!(kind, params) : undefined,
        activeCalls: () => router.activeCalls(),
        close: () => router.close(),
      };
    },
    callEnded(recordId, callId, moved) {
      const p = entry(callId, recordId);
      p.ended = true;
      if (moved) void handOver(callId, p);
      else maybeFinalize(callId);
    },
    routes(app, deps) {
      histograms.register(deps.metrics.registry);
      if (!o.publicUrl) publicUrl = () => deps.publicUrl() || config.server.publicUrl;
      recordsRoutes({
        apiKey: config.outbound.apiKey,
        store,
        index,
        outbox,
        recording: async (id) => storage?.get(`${safeName(id)}.wav`),
      })(app);
    },
    async close() {
      clearInterval(sweep);
      unsubscribe(probes.usage.name, onUsage);
      // Calls that ended but were still settling: finalize now so nothing is lost at shutdown.
      await Promise.all([...pending.entries()].filter(([, p]) => p.ended && !p.done).map(([id, p]) => finalize(id, p)));
      observer.stop();
      await deliverer?.close();
      await outbox?.close();
      await index.close();
    },
  };
}

function mergeUsage(a: ModalityUsage | undefined, b: ModalityUsage | undefined): ModalityUsage | undefined {
  if (!a || !b) return a ?? b;
  const sum = (x: Record<string, number>, y: Record<string, number>) => {
    const out = { ...x };
    for (const [k, v] of Object.entries(y)) out[k] = (out[k] ?? 0) + v;
    return out;
  };
  return { input: sum(a.input, b.input), output: sum(a.output, b.output) };
}

// Prometheus metrics for one gateway, on its own Registry (tests run several gateways in one process). Frame
// counters live as plain numbers in EdgeStats and are read at scrape time; only sampled frame timings are
// observed directly, so /metrics costs nothing per frame.
import client from 'prom-client';
import { credentialStats } from '../gemini/credentials.ts';
import type { EdgeStats } from '../plivo/edge-stats.ts';
import { callSetupFailures, reconnectCounters, silentTurnCounters, uplinkCounters } from '../probes/counters.ts';

export interface GatewayMetrics {
  registry: client.Registry;
  webhookRequests: client.Counter<'route' | 'status'>;
  errors: client.Counter<'kind'>;
  /** Refused unauthenticated or replayed requests, by reason (every one, logged or not). */
  securityRefused: client.Counter<'reason'>;
  /** Security warnings held back by the log rate limit, by reason. */
  securityLogSuppressed: client.Counter<'reason'>;
  frameUs: client.Histogram<'direction'>;
  /** Calls still live at the drain deadline, by outcome: migrated (moved to a ready replica) or hung_up. */
  drainDeadlineCalls: client.Counter<'outcome'>;
}

/** Counter fed from a monotonically increasing number read at scrape time. */
function scrapedCounter(
  registry: client.Registry,
  name: string,
  help: string,
  read: () => number,
): client.Counter<string> {
  let reported = 0;
  return new client.Counter({
    name,
    help,
    registers: [registry],
    collect() {
      const v = read();
      if (v > reported) this.inc(v - reported);
      reported = v;
    },
  });
}

export function createGatewayMetrics(o: {
  stats: EdgeStats;
  activeCalls: () => number;
  /** The pacer's longest tick interval since the last scrape, ms (Pacer.takeMaxIntervalMs). */
  pacerMaxIntervalMs?: () => number;
  /** Load shedding (src/server/overload.ts). */
  overload?: { lagMs: number; overloaded: boolean; thresholdMs: number };
  defaultMetrics?: boolean;
}): GatewayMetrics {
  const registry = new client.Registry();
  if (o.defaultMetrics !== false) client.collectDefaultMetrics({ register: registry });
  const { stats } = o;

  const pacerMax = o.pacerMaxIntervalMs;
  if (pacerMax) {
    new client.Gauge({
      name: 'gateway_pacer_max_interval_seconds',
      help:
        'Longest interval between two ticks of the agent-audio pacer since the previous scrape (normal: about 0.01). ' +
        'Paced audio flows only when it ticks: an interval above ~0.07 s is a gap callers heard (event-loop stall)',
      registers: [registry],
      collect() {
        this.set(pacerMax() / 1000);
      },
    });
  }
  const overload = o.overload;
  if (overload && overload.thresholdMs > 0) {
    new client.Gauge({
      name: 'gateway_overloaded',
      help: 'Whether new calls are refused because the event loop lags past OVERLOAD_LOOP_DELAY_MS (1) or not (0)',
      registers: [registry],
      collect() {
        this.set(overload.overloaded ? 1 : 0);
      },
    });
    new client.Gauge({
      name: 'gateway_event_loop_lag_seconds',
      help: 'Event-loop delay p99 over the last second, beyond the 10 ms sampling resolution (what load shedding reads)',
      registers: [registry],
      collect() {
        this.set(overload.lagMs / 1000);
      },
    });
  }
  new client.Gauge({
    name: 'gateway_active_calls',
    help: 'Calls in progress on this replica (as reported by the call router)',
    registers: [registry],
    collect() {
      this.set(o.activeCalls());
    },
  });
  new client.Gauge({
    name: 'gateway_active_streams',
    help: 'Plivo audio streams open on this replica',
    registers: [registry],
    collect() {
      this.set(stats.activeStreams);
    },
  });
  scrapedCounter(registry, 'gateway_frames_in_total', 'Caller audio frames received from Plivo', () => stats.framesIn);
  scrapedCounter(registry, 'gateway_frames_out_total', 'Agent audio frames sent to Plivo', () => stats.framesOut);
  scrapedCounter(
    registry,
    'gateway_agent_frames_dropped_total',
    'Agent audio frames dropped because the per-call queue was full',
    () => stats.droppedFrames,
  );

  // Silent agent turns (src/gemini/live-session.ts): process-wide counts, like the default metrics.
  scrapedCounter(
    registry,
    'gateway_gemini_silent_turns_total',
    'Agent turns that completed with no audible audio (no audio, or below SILENT_TURN_PEAK)',
    () => silentTurnCounters.silentTurns,
  );
  scrapedCounter(
    registry,
    'gateway_gemini_silent_turn_reprompts_total',
    'Silent agent turns answered by re-prompting the model once',
    () => silentTurnCounters.reprompted,
  );
  scrapedCounter(
    registry,
    'gateway_gemini_silent_turn_give_ups_total',
    'Calls ended with the technical-difficulty prompt after a second silent agent turn in a row',
    () => silentTurnCounters.gaveUp,
  );

  // Caller audio to Gemini by chunk size (the quiet uplink, src/gemini/live-session.ts).
  new client.Counter({
    name: 'gateway_gemini_uplink_messages_total',
    help: 'Caller-audio messages sent to Gemini: size=chunk (GEMINI_UPLINK_CHUNK_MS) or quiet (GEMINI_UPLINK_SILENCE_CHUNK_MS)',
    labelNames: ['size'] as const,
    registers: [registry],
    collect() {
      this.reset();
      this.inc({ size: 'chunk' }, uplinkCounters.chunk);
      this.inc({ size: 'quiet' }, uplinkCounters.quiet);
    },
  });

  // Mid-call Gemini reconnects (src/gemini/live-session.ts): `fresh` ones lost the session's context.
  new client.Counter({
    name: 'gateway_gemini_reconnects_total',
    help: 'Gemini Live sessions re-opened mid-call: kind=resume (session resumed) or fresh (context re-sent)',
    labelNames: ['kind'] as const,
    registers: [registry],
    collect() {
      this.reset();
      this.inc({ kind: 'resume' }, reconnectCounters.resume);
      this.inc({ kind: 'fresh' }, reconnectCounters.fresh);
    },
  });

  // Gemini credentials (src/gemini/credentials.ts), labelled by position and a short hash, never by the key.
  new client.Gauge({
    name: 'gateway_gemini_credential_sessions',
    help: 'Open Gemini Live connections per credential',
    labelNames: ['credential'] as const,
    registers: [registry],
    collect() {
      for (const s of credentialStats.values()) this.set({ credential: s.label }, s.open);
    },
  });
  new client.Gauge({
    name: 'gateway_gemini_credential_cooling',
    help: '1 while a credential is skipped after a quota close (GEMINI_CREDENTIAL_COOLDOWN_S)',
    labelNames: ['credential'] as const,
    registers: [registry],
    collect() {
      const now = Date.now();
      for (const s of credentialStats.values()) this.set({ credential: s.label }, s.coolingUntil > now ? 1 : 0);
    },
  });
  const reportedQuota = new Map<string, number>();
  new client.Counter({
    name: 'gateway_gemini_credential_quota_closes_total',
    help: 'Quota closes (1011 "You exceeded your current quota…") per credential',
    labelNames: ['credential'] as const,
    registers: [registry],
    collect() {
      for (const s of credentialStats.values()) {
        const before = reportedQuota.get(s.label) ?? 0;
        if (s.quotaCloses > before) this.inc({ credential: s.label }, s.quotaCloses - before);
        reportedQuota.set(s.label, s.quotaCloses);
      }
    },
  });

  const errors = new client.Counter({
    name: 'gateway_errors_total',
    help: 'Errors by kind (bad stream input, signature failures, handler errors…)',
    labelNames: ['kind'] as const,
    registers: [registry],
  });
  // Stream errors are counted in EdgeStats; fold them in at scrape time.
  const reportedErrors = new Map<string, number>();
  const streamErrors = new client.Counter({
    name: 'gateway_stream_errors_total',
    help: 'Bad or unexpected input on Plivo audio streams, by kind (ignored and counted)',
    labelNames: ['kind'] as const,
    registers: [registry],
    collect() {
      for (const [kind, v] of stats.errors) {
        const before = reportedErrors.get(kind) ?? 0;
        if (v > before) this.inc({ kind }, v - before);
        reportedErrors.set(kind, v);
      }
    },
  });
  void streamErrors;
  const reportedBp = new Map<string, number>();
  new client.Counter({
    name: 'gateway_backpressure_events_total',
    help: 'Backpressure decisions on Plivo sockets: paused, drop-oldest, closed',
    labelNames: ['action'] as const,
    registers: [registry],
    collect() {
      for (const [action, v] of stats.backpressure) {
        const before = reportedBp.get(action) ?? 0;
        if (v > before) this.inc({ action }, v - before);
        reportedBp.set(action, v);
      }
    },
  });
  const webhookRequests = new client.Counter({
    name: 'gateway_webhook_requests_total',
    help: 'HTTP requests by route and status',
    labelNames: ['route', 'status'] as const,
    registers: [registry],
  });
  const frameUs = new client.Histogram({
    name: 'gateway_frame_processing_microseconds',
    help: 'Per-frame processing time, sampled: uplink = Plivo message → caller audio delivered; downlink = agent audio push (convert, frame, queue); send = one playAudio to the socket',
    labelNames: ['direction'] as const,
    buckets: [2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 50000],
    registers: [registry],
  });
  stats.addObserver((direction, us) => frameUs.observe({ direction }, us));
  const securityRefused = new client.Counter({
    name: 'gateway_security_refused_total',
    help: 'Requests refused as unauthenticated, malformed before authentication, or replayed, by reason',
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  const securityLogSuppressed = new client.Counter({
    name: 'gateway_security_log_suppressed_total',
    help: 'Security warnings not written because of the log rate limit (SECURITY_LOG_PER_MIN), by reason',
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  const drainDeadlineCalls = new client.Counter({
    name: 'gateway_drain_deadline_calls_total',
    help: 'Calls still live when a drain reached its deadline (DRAIN_TIMEOUT_S - DRAIN_MIGRATE_MARGIN_S), by outcome: migrated (moved to a ready replica) or hung_up',
    labelNames: ['outcome'] as const,
    registers: [registry],
  });
  // Both series exist from the first scrape, so the alert's increase() sees the first call that hits a deadline.
  drainDeadlineCalls.inc({ outcome: 'migrated' }, 0);
  drainDeadlineCalls.inc({ outcome: 'hung_up' }, 0);
  // Calls that could not be set up (src/probes/counters.ts): process-wide counts, like the Gemini counters.
  const reportedSetup = new Map<string, number>();
  new client.Counter({
    name: 'gateway_call_setup_failures_total',
    help: 'Calls that could not be set up, by reason: gemini-connect (first Gemini Live connect failed), no-stream (no audio stream arrived for an answered call)',
    labelNames: ['reason'] as const,
    registers: [registry],
    collect() {
      for (const reason of ['gemini-connect', 'no-stream']) this.inc({ reason }, 0);
      for (const [reason, v] of callSetupFailures) {
        const before = reportedSetup.get(reason) ?? 0;
        if (v > before) this.inc({ reason }, v - before);
        reportedSetup.set(reason, v);
      }
    },
  });
  return { registry, webhookRequests, errors, securityRefused, securityLogSuppressed, frameUs, drainDeadlineCalls };
}

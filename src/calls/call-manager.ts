// The CallRouter the edge calls: it turns webhooks and streams into Calls. At the answer webhook it enriches the
// context from the stored outbound record, creates the call record and opens the Gemini session at once (a warm
// session, kept by call id with a TTL) so the agent is ready when media flows. If the stream lands on another
// replica, that replica opens its own session at attachStream, and its stream notice (the replay guard, through
// Redis) closes the warm one here at once: one Gemini session per call once the stream starts.
import type { Config } from '../config.ts';
import type {
  AnswerInfo,
  CallContext,
  CallMediaHandler,
  CallRouter,
  HangupInfo,
  MigrateOutcome,
  PhoneLeg,
  StreamStartInfo,
} from '../contract/call.ts';
import { errorMessage } from '../errors.ts';
import { profileForModel } from '../gemini/profiles.ts';
import type { Logger } from '../log.ts';
import { callLogger, childLogger } from '../log.ts';
import type { PlivoApi } from '../plivo/api-types.ts';
import { countSetupFailure } from '../probes/counters.ts';
import type { CallbackRequest, CallRecord, CallStore } from '../store/types.ts';
import { toolsFor } from '../tools/index.ts';
import { ToolRegistry } from '../tools/registry.ts';
import type { ToolDefinition } from '../tools/types.ts';
import type { CallTiming, LatencyProbe, SessionFactory } from './call.ts';
import { Call, DEFAULT_TIMING } from './call.ts';
import type { CallEventListener } from './events.ts';
import { FILLER_WAV, loadPromptAudio } from './prompt-audio.ts';
import { buildSystemPrompt, buildTurnPrompt, type PromptOptions, promptDirection } from './prompts.ts';
import { applyHangup, withStatus } from './status-updates.ts';

export interface CallManagerOptions {
  config: Config;
  store: CallStore;
  /** Opens a Gemini Live session (src/gemini/live-session.ts `createLiveSession` in production). */
  createSession: SessionFactory;
  plivoApi?: PlivoApi | undefined;
  tools?: readonly ToolDefinition<unknown>[] | undefined;
  /** Wired to the outbound dialer: a callback was requested during a call. */
  onCallbackScheduled?: ((record: CallRecord, request: CallbackRequest) => void | Promise<void>) | undefined;
  /** How long a session opened at the answer webhook waits for its stream. */
  warmSessionTtlMs?: number | undefined;
  timing?: Partial<CallTiming> | undefined;
  latency?: LatencyProbe | undefined;
  /** Observes what happens in calls (demo transcript, tests); never called per audio frame. */
  onEvent?: CallEventListener | undefined;
  /** Called for every call once it has ended and its record is written (tests, demo). */
  onCallEnded?: ((call: Call) => void) | undefined;
}

const DEFAULT_WARM_TTL_MS = 30_000;

export class CallManager implements CallRouter {
  readonly #opts: CallManagerOptions;
  readonly #tools: ToolRegistry;
  readonly #timing: CallTiming;
  readonly #calls = new Map<string, Call>();
  readonly #warmTimers = new Map<string, NodeJS.Timeout>();
  readonly #log: Logger = childLogger({ component: 'call-manager' });
  #closing = false;
  #idle: (() => void) | undefined;

  constructor(opts: CallManagerOptions) {
    this.#opts = opts;
    this.#tools = new ToolRegistry(opts.tools ?? toolsFor(opts.config), opts.config.tools.timeoutMs);
    this.#timing = { ...DEFAULT_TIMING, ...opts.timing };
    // Fail at start, not on the first call, if a prompt or the bundled audio is missing.
    buildSystemPrompt({ callId: 'startup-check', direction: 'inbound', from: '', to: '' }, this.#promptOpts());
    buildSystemPrompt({ callId: 'startup-check', direction: 'outbound', from: '', to: '' }, this.#promptOpts());
    for (const kind of ['opening-inbound', 'opening-outbound', 'voicemail', 'reprompt'] as const) {
      buildTurnPrompt(kind, { callId: 'startup-check', direction: 'outbound', from: '', to: '' }, this.#promptOpts());
    }
    loadPromptAudio();
    loadPromptAudio(FILLER_WAV);
    const model = opts.config.gemini.model;
    const { profile, known } = profileForModel(model);
    if (known) this.#log.info({ model, profile: profile.name }, 'gemini model profile');
    else {
      this.#log.warn(
        { model, profile: profile.name },
        'GEMINI_MODEL is not in the model table (src/gemini/profiles.ts): using the most conservative profile ' +
          '(opening and re-prompts as realtimeInput.text, reconnect context in the system instruction)',
      );
    }
  }

  get tools(): ToolRegistry {
    return this.#tools;
  }

  /** The live Call for a Plivo CallUUID on this replica. */
  call(callId: string): Call | undefined {
    return this.#calls.get(callId);
  }

  /**
   * Calls whose audio stream is attached here. A warm session opened at the answer webhook is not a call on this
   * replica until its stream arrives: with several replicas the stream may land elsewhere, and counting it here would
   * inflate `gateway_active_calls` (the HPA signal) on (N-1)/N of the replicas (issue 9).
   */
  activeCalls(): number {
    let n = 0;
    for (const call of this.#calls.values()) if (call.phase !== 'warming') n++;
    return n;
  }

  /** Sessions opened at the answer webhook still waiting for their stream (closed after the warm TTL). */
  warmSessions(): number {
    return this.#calls.size - this.activeCalls();
  }

  async onAnswer(info: AnswerInfo, base: CallContext): Promise<CallContext> {
    const log = callLogger(base.callId);
    let ctx = base;
    let recordId = base.callId;
    const now = new Date().toISOString();
    try {
      if (base.direction === 'outbound') {
        const stored =
          (await this.#opts.store.getByPlivoUuid(base.callId)) ??
          (base.outboundId ? await this.#opts.store.get(base.outboundId) : undefined);
        if (stored) {
          recordId = stored.id;
          ctx = enrich(base, stored);
          await this.#opts.store.update(stored.id, (r) => markAnswered(r, base.callId, info.machine, now));
          if (stored.plivoCallUuid !== base.callId) await this.#opts.store.linkPlivoUuid(stored.id, base.callId);
        } else {
          log.warn('outbound call without a stored record; continuing with what the webhook says');
        }
      }
      if (recordId === base.callId && !(await this.#opts.store.get(recordId))) {
        await this.#opts.store.create(newRecord(ctx, now, info.machine));
      }
    } catch (err) {
      // A store outage must not drop a live call: the agent still answers, the record may be incomplete.
      log.error({ err: errorMessage(err) }, 'call record not created at answer');
    }
    if (!this.#closing && !this.#calls.has(ctx.callId)) {
      const call = this.#open(ctx, recordId, true);
      if (info.machine === true && ctx.direction === 'outbound') call.onMachineDetected();
    }
    return ctx;
  }

  attachStream(ctx: CallContext, leg: PhoneLeg, start: StreamStartInfo): CallMediaHandler {
    this.#clearWarmTimer(ctx.callId);
    let call = this.#calls.get(ctx.callId);
    if (!call) {
      // Answered on another replica (or warm session expired): open a session here; the record should exist.
      call = this.#open(ctx, ctx.outboundId ?? ctx.callId, false);
      void this.#ensureRecord(call);
    }
    call.log.info({ streamId: start.streamId, format: start.format.encoding }, 'stream attached');
    return call.attach(leg);
  }

  streamElsewhere(callId: string): void {
    const call = this.#calls.get(callId);
    if (call === undefined || call.phase !== 'warming' || call.leg !== undefined) return;
    this.#clearWarmTimer(callId);
    call.log.info('stream attached on another replica; closing the warm session');
    void call.handOverWarm();
  }

  async onHangup(info: HangupInfo): Promise<void> {
    const call = this.#calls.get(info.callId);
    this.#clearWarmTimer(info.callId);
    if (call) await call.finish(`hangup-${info.status}`);
    try {
      // The same idempotent mapping the outbound side applies: whichever runs first sets the final status.
      await applyHangup(this.#opts.store, info);
    } catch (err) {
      callLogger(info.callId).warn({ err: errorMessage(err) }, 'hangup not recorded');
    }
  }

  async onCallback(kind: 'machine' | 'stream-status' | 'ring', params: Record<string, string>): Promise<void> {
    const callId = params.CallUUID;
    if (!callId) return;
    if (kind === 'machine') {
      const machine = (params.Machine ?? '').toLowerCase() === 'true';
      const record = await this.#opts.store.getByPlivoUuid(callId).catch(() => undefined);
      if (record) await this.#opts.store.update(record.id, (r) => ({ ...r, machine })).catch(() => undefined);
      if (machine) this.#calls.get(callId)?.onMachineDetected();
    }
  }

  async migrateCalls(urlFor: (ctx: CallContext, handle: string) => string): Promise<MigrateOutcome> {
    const plivo = this.#opts.plivoApi;
    const outcomes = await Promise.all(
      [...this.#calls.values()].map((call) =>
        call.migrate(
          async (url) => {
            if (!plivo) throw new Error('no Plivo API client');
            await plivo.transferCall(call.ctx.callId, url);
          },
          (handle) => urlFor(call.ctx, handle),
        ),
      ),
    );
    const outcome: MigrateOutcome = { migrated: 0, hungUp: 0 };
    for (const o of outcomes) {
      if (o === 'migrated') outcome.migrated++;
      else if (o === 'hung_up') outcome.hungUp++;
    }
    this.#log.info(outcome, 'drain deadline: calls moved');
    return outcome;
  }

  async close(): Promise<void> {
    this.#closing = true;
    for (const [callId, timer] of this.#warmTimers) {
      clearTimeout(timer);
      this.#warmTimers.delete(callId);
      const call = this.#calls.get(callId);
      if (call && !call.leg) void call.finish('shutdown');
    }
    if (this.#calls.size > 0) {
      const drained = new Promise<void>((resolve) => {
        this.#idle = resolve;
      });
      const timeout = new Promise<void>((resolve) => {
        setTimeout(resolve, this.#opts.config.server.drainTimeoutS * 1000).unref();
      });
      await Promise.race([drained, timeout]);
    }
    await Promise.all([...this.#calls.values()].map((c) => c.finish('shutdown')));
  }

  #open(ctx: CallContext, recordId: string, warm: boolean): Call {
    const call = new Call(ctx, recordId, {
      config: this.#opts.config,
      store: this.#opts.store,
      plivo: this.#opts.plivoApi,
      tools: this.#tools,
      createSession: this.#opts.createSession,
      systemPrompt: buildSystemPrompt(ctx, this.#promptOpts()),
      prompts: {
        opening: buildTurnPrompt(
          promptDirection(ctx) === 'inbound' ? 'opening-inbound' : 'opening-outbound',
          ctx,
          this.#promptOpts(),
        ),
        voicemail: buildTurnPrompt('voicemail', ctx, this.#promptOpts()),
        reprompt: buildTurnPrompt('reprompt', ctx, this.#promptOpts()),
      },
      technicalDifficultyAudio: () => loadPromptAudio(),
      fillerAudio: () => loadPromptAudio(FILLER_WAV),
      timing: this.#timing,
      latency: this.#opts.latency,
      onCallbackScheduled: this.#opts.onCallbackScheduled,
      onEvent: this.#opts.onEvent,
      onFinished: (c) => this.#forget(c),
    });
    this.#calls.set(ctx.callId, call);
    this.#opts.onEvent?.(ctx.callId, { type: 'session-opened', warm });
    if (warm) {
      const ttl = this.#opts.warmSessionTtlMs ?? DEFAULT_WARM_TTL_MS;
      const timer = setTimeout(() => {
        this.#warmTimers.delete(ctx.callId);
        if (!call.leg && call.phase === 'warming') {
          call.log.warn({ ttlMs: ttl }, 'no stream arrived for the warm session; closing it');
          countSetupFailure('no-stream');
          void call.finish('no-stream');
        }
      }, ttl);
      timer.unref();
      this.#warmTimers.set(ctx.callId, timer);
    }
    return call;
  }

  async #ensureRecord(call: Call): Promise<void> {
    try {
      if (await this.#opts.store.get(call.recordId)) return;
      await this.#opts.store.create(newRecord(call.ctx, new Date().toISOString(), undefined));
    } catch (err) {
      call.log.warn({ err: errorMessage(err) }, 'call record not ensured');
    }
  }

  #forget(call: Call): void {
    if (this.#calls.get(call.ctx.callId) === call) this.#calls.delete(call.ctx.callId);
    this.#clearWarmTimer(call.ctx.callId);
    this.#opts.onCallEnded?.(call);
    if (this.#calls.size === 0) this.#idle?.();
  }

  #clearWarmTimer(callId: string): void {
    const timer = this.#warmTimers.get(callId);
    if (timer) {
      clearTimeout(timer);
      this.#warmTimers.delete(callId);
    }
  }

  #promptOpts(): PromptOptions {
    return { dir: this.#opts.config.gemini.promptsDir, inboundText: this.#opts.config.gemini.inboundPromptText };
  }

  logger(): Logger {
    return this.#log;
  }
}

function enrich(base: CallContext, r: CallRecord): CallContext {
  return {
    ...base,
    outboundId: base.outboundId ?? r.id,
    campaignId: base.campaignId ?? r.campaignId,
    openingReason: base.openingReason ?? r.openingReason,
    objective: base.objective ?? r.objective,
    context: base.context ?? r.context,
    variables: base.variables ?? r.variables,
  };
}

export function newRecord(ctx: CallContext, now: string, machine: boolean | undefined): CallRecord {
  const record: CallRecord = {
    id: ctx.outboundId ?? ctx.callId,
    plivoCallUuid: ctx.callId,
    direction: ctx.direction,
    from: ctx.from,
    to: ctx.to,
    campaignId: ctx.campaignId,
    openingReason: ctx.openingReason,
    objective: ctx.objective,
    context: ctx.context,
    variables: ctx.variables,
    status: 'in-progress',
    timeline: [{ status: 'in-progress', at: now }],
    createdAt: now,
    answeredAt: now,
    transcript: [],
    toolCalls: [],
    callbacks: [],
    reconnects: 0,
  };
  if (machine !== undefined) record.machine = machine;
  return record;
}

function markAnswered(r: CallRecord, callUuid: string, machine: boolean | undefined, now: string): CallRecord {
  const out: CallRecord = {
    ...withStatus(r, 'in-progress', Date.parse(now)),
    plivoCallUuid: callUuid,
    answeredAt: r.answeredAt ?? now,
  };
  if (machine !== undefined) out.machine = machine;
  return out;
}

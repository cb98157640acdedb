// One call: one Gemini Live session + (once the stream lands) one PhoneLeg + one call record. The session may be
// opened before the stream exists (warm start at the answer webhook); agent audio that arrives before the leg is
// buffered (bounded) and replayed on attach.
//
// Audio paths are synchronous pass-throughs: caller audio → session.sendAudio, agent audio → leg.playAgentAudio.
// Tools run as detached promises and answer Gemini when they finish; nothing on the frame path awaits.
import type { Config } from '../config.ts';
import type { CallContext, CallMediaHandler, PhoneLeg, StreamEndReason } from '../contract/call.ts';
import { AGENT_INPUT_RATE, AGENT_OUTPUT_RATE } from '../contract/media.ts';
import type {
  LiveSession,
  LiveSessionEvents,
  LiveSessionOptions,
  ToolCallRequest,
  UsageInfo,
} from '../gemini/types.ts';
import type { Logger } from '../log.ts';
import { callLogger } from '../log.ts';
import type { PlivoApi } from '../plivo/api-types.ts';
import { probes } from '../probes/channels.ts';
import { countSetupFailure } from '../probes/counters.ts';
import type { CallbackRequest, CallRecord, CallStore, ToolCallRecord } from '../store/types.ts';
import type { ToolRegistry } from '../tools/registry.ts';
import type { CallControl } from '../tools/types.ts';
import type { CallEvent, CallEventListener } from './events.ts';
import { PlayoutTracker } from './playout.ts';
import { promptDirection } from './prompts.ts';
import { RecordWriter } from './record-writer.ts';
import { Transcript } from './transcript.ts';

export type SessionFactory = (config: Config['gemini'], options: LiveSessionOptions) => LiveSession;

/** Optional timing hooks for benchmarks (the frame path reads `performance.now()` only when set). */
export interface LatencyProbe {
  /** From the session's `interrupted` to `clearAgentAudio` returning (clearAudio handed to the socket), ms. */
  interruptToClear?(callId: string, ms: number): void;
  /** From a Gemini audio chunk's arrival to `playAgentAudio` returning, ms. */
  audioToPlay?(callId: string, ms: number): void;
}

export interface CallTiming {
  /** A checkpoint every this much agent audio within long turns. */
  checkpointEveryMs: number;
  /** After end_call: with no agent audio for this long, the goodbye is over. */
  goodbyeSettleMs: number;
  /** After the last checkpoint: hang up anyway this long after the pending audio should have played. */
  hangupGraceMs: number;
  /** Coalescing interval of call record writes. */
  recordFlushMs: number;
  /** Agent audio kept while no leg is attached. */
  maxEarlyAudioMs: number;
  /** Drain deadline: how long a call waits for a resumable point (model quiet, no tool pending) before it moves. */
  migrateWaitMs: number;
}

export const DEFAULT_TIMING: CallTiming = {
  checkpointEveryMs: 500,
  goodbyeSettleMs: 1200,
  hangupGraceMs: 3000,
  recordFlushMs: 1000,
  maxEarlyAudioMs: 15_000,
  migrateWaitMs: 5000,
};

export interface CallDeps {
  config: Config;
  store: CallStore;
  plivo: PlivoApi | undefined;
  tools: ToolRegistry;
  createSession: SessionFactory;
  systemPrompt: string;
  /** Client text turns of this call, rendered from prompts/ (src/calls/prompts.ts). */
  prompts: { opening: string; voicemail: string; reprompt: string };
  technicalDifficultyAudio: () => Int16Array;
  /** "One moment, please.": played while Gemini is still connecting (issue 15 D7). */
  fillerAudio: () => Int16Array;
  timing: CallTiming;
  latency?: LatencyProbe | undefined;
  onCallbackScheduled?: ((record: CallRecord, request: CallbackRequest) => void | Promise<void>) | undefined;
  onEvent?: CallEventListener | undefined;
  /** The call has finished (record written): the manager forgets it. */
  onFinished(call: Call): void;
}

type Phase = 'warming' | 'live' | 'ending' | 'ended';
/**
 * `waiting`: the voicemail message was asked for and has not started; `waiting-old`: …and an agent turn from before
 * is still open, so its audio is not the message. `settling`: the last words are arriving; `played`: checkpoint sent.
 */
type HangupStage = 'waiting' | 'waiting-old' | 'settling' | 'played';
type HangupWait = { kind: 'goodbye' | 'fatal'; reason: string; stage: HangupStage; name: string };
/** Outbound opening: `pending` (not started yet), `waiting` (listening for "Hello?" + pause), `sent`, `skipped`. */
type OpeningState = 'pending' | 'waiting' | 'sent' | 'skipped';

/** Agent audio (PCM16 at the contract's output rate) and caller audio (its input rate), samples per ms. */
const SAMPLES_PER_MS = AGENT_OUTPUT_RATE / 1000;
const CALLER_SAMPLES_PER_MS = AGENT_INPUT_RATE / 1000;
/** Callee speech: mean absolute PCM16 level of a frame (about -40 dBFS) and how long it must last. */
const HELLO_LEVEL = 330;
const HELLO_MIN_MS = 100;
/** Outbound: the opening goes at the latest this long after the silence deadline, even if the callee keeps talking. */
const OPENING_MAX_EXTRA_MS = 6000;
/** VOICEMAIL=message: hang up anyway when the message has not played after this long. */
const VOICEMAIL_MAX_MS = 30_000;
/** Wrapper of prompts/voicemail.md: the model says the message, not a conversation. */
const VOICEMAIL_INSTRUCTION =
  '(An answering machine took this call; nobody is listening live. Say the following message now, word for word, ' +
  'and nothing else:)\n\n';

export class Call implements CallMediaHandler, CallControl {
  readonly ctx: CallContext;
  readonly recordId: string;
  readonly log: Logger;
  readonly transcript = new Transcript();
  readonly startedAt = Date.now();
  phase: Phase = 'warming';
  leg: PhoneLeg | undefined;
  endReason: string | undefined;
  outcome: string | undefined;
  interruptions = 0;

  readonly #deps: CallDeps;
  readonly #session: LiveSession;
  readonly #playout: PlayoutTracker;
  readonly #writer: RecordWriter;
  readonly #runs = new Map<string, AbortController>();
  readonly #toolCalls: ToolCallRecord[] = [];
  readonly #callbacks: CallbackRequest[] = [];
  #early: Array<Int16Array | 'turn-end'> = [];
  #earlySamples = 0;
  #earlyDropped = 0;
  #reconnects = 0;
  #usage: { last: Record<string, unknown>; sum: { prompt: number; response: number; total: number } } | undefined;
  #hangup: HangupWait | undefined;
  #hangupTimer: NodeJS.Timeout | undefined;
  #hangupSeq = 0;
  #fatal: Error | undefined;
  #finishing: Promise<void> | undefined;
  #opening: OpeningState = 'pending';
  #openingTimers: NodeJS.Timeout[] = [];
  #helloLoudMs = 0;
  #helloQuietMs = 0;
  #helloHeard = false;
  /** Gemini audio reached this call (the model is talking). */
  #agentSpoke = false;
  #fillerTimer: NodeJS.Timeout | undefined;
  #machine = false;
  /** Being transferred to another replica: the record stays open for it (no end fields written here). */
  #moving = false;
  /** Transferred: the replica the call moved to owns the record now; this one writes nothing more to it. */
  #handedOff = false;
  /**
   * A call moved here from a draining replica: what that replica recorded (transcript, tools, callbacks, usage),
   * taken from the record on this call's first write and kept ahead of this replica's own, so the operator sees one
   * call. Undefined until then (and for calls that were not moved).
   */
  #prior: { usage: { prompt: number; response: number; total: number } } | undefined;
  #sessionReady = false;

  constructor(ctx: CallContext, recordId: string, deps: CallDeps) {
    this.ctx = ctx;
    this.recordId = recordId;
    this.#deps = deps;
    this.log = callLogger(ctx.callId, { direction: ctx.direction });
    this.#playout = new PlayoutTracker(deps.timing.checkpointEveryMs);
    this.#writer = new RecordWriter(deps.store, recordId, (r) => this.#applyTo(r), deps.timing.recordFlushMs, this.log);
    this.#session = deps.createSession(deps.config.gemini, {
      callId: ctx.callId,
      systemPrompt: deps.systemPrompt,
      tools: deps.tools.declarations(),
      events: this.#events(),
      logger: this.log,
      transcriptForContext: () => this.transcript.contextText(),
      firstConnectBudgetMs: deps.config.conversation.firstConnectBudgetMs,
      repromptText: deps.prompts.reprompt,
      silentTurnPeak: deps.config.conversation.silentTurnPeak,
      resumeHandle: ctx.resumeHandle,
    });
    this.#session.ready().then(
      () => {
        this.#sessionReady = true;
      },
      () => {
        // onFatal reports a failed first connect; this only keeps the rejection handled.
      },
    );
    // The real native-audio models wait for input (googleapis/python-genai#1533; pipecat#4931 "caller hears silence
    // until they speak"): the agent starts the conversation. Inbound: at once (the session sends it when ready, and
    // audio that comes before the stream is kept for it). Outbound: once the callee has answered (see attach).
    // A call moved from a draining replica resumes a conversation already under way: no new opening.
    if (ctx.resumeHandle !== undefined) {
      this.#opening = 'skipped';
      // Take over the record now: the earlier replica's turns come first, and re-seed a fresh reconnect's context.
      void this.#writer.flush();
    } else if (promptDirection(ctx) === 'inbound') this.#sendOpening('inbound');
  }

  #emit(event: CallEvent): void {
    const listener = this.#deps.onEvent;
    if (!listener) return;
    try {
      listener(this.ctx.callId, event);
    } catch (err) {
      this.log.warn({ err }, 'call event listener failed');
    }
  }

  get session(): LiveSession {
    return this.#session;
  }

  get toolCalls(): readonly ToolCallRecord[] {
    return this.#toolCalls;
  }

  // ── phone leg ───────────────────────────────────────────────────────────────────────────────────────────────

  attach(leg: PhoneLeg): CallMediaHandler {
    if (this.phase === 'ended') {
      leg.close('hangup');
      return this;
    }
    if (this.leg && this.leg !== leg) this.leg.close('socket-closed');
    this.leg = leg;
    if (this.phase === 'warming') this.phase = 'live';
    this.#emit({ type: 'stream-attached' });
    const early = this.#early;
    this.#early = [];
    this.#earlySamples = 0;
    for (const item of early) {
      if (item === 'turn-end') this.#agentTurnEnd();
      else this.#playAgent(item);
    }
    if (this.#earlyDropped > 0)
      this.log.warn({ droppedMs: this.#earlyDropped / SAMPLES_PER_MS }, 'early agent audio dropped');
    if (this.#fatal) this.#playFatalPrompt();
    else if (this.#hangup?.stage === 'settling') this.#armGoodbye();
    if (this.#opening === 'pending' && !this.#machine) this.#watchForHello();
    this.#armFiller();
    return this;
  }

  // ── opening turn ────────────────────────────────────────────────────────────────────────────────────────────

  /**
   * Outbound: speak once the callee has said their first words ("Hello?") and paused, so the greeting does not cut
   * them off, or after OUTBOUND_OPENING_SILENCE_MS if they say nothing.
   */
  #watchForHello(): void {
    const conv = this.#deps.config.conversation;
    this.#opening = 'waiting';
    const silence = setTimeout(() => {
      if (!this.#helloHeard) this.#sendOpening('silence');
    }, conv.openingSilenceMs);
    const cap = setTimeout(() => this.#sendOpening('max-wait'), conv.openingSilenceMs + OPENING_MAX_EXTRA_MS);
    silence.unref();
    cap.unref();
    this.#openingTimers.push(silence, cap);
  }

  /** Per caller frame while the outbound opening waits: a small energy VAD, no allocation. */
  #listenForHello(pcm: Int16Array): void {
    let sum = 0;
    for (let i = 0; i < pcm.length; i++) {
      const v = pcm[i]!;
      sum += v < 0 ? -v : v;
    }
    const ms = pcm.length / CALLER_SAMPLES_PER_MS;
    if (pcm.length > 0 && sum / pcm.length >= HELLO_LEVEL) {
      this.#helloLoudMs += ms;
      this.#helloQuietMs = 0;
      if (this.#helloLoudMs >= HELLO_MIN_MS) this.#helloHeard = true;
      return;
    }
    this.#helloQuietMs += ms;
    if (!this.#helloHeard) this.#helloLoudMs = 0;
    else if (this.#helloQuietMs >= this.#deps.config.conversation.openingPauseMs) this.#sendOpening('hello-then-pause');
  }

  #sendOpening(why: string): void {
    if (this.#opening === 'sent' || this.#opening === 'skipped' || this.phase === 'ended') return;
    this.#clearOpeningTimers();
    if (this.#agentSpoke || this.#machine) {
      // The model already answered the callee's "Hello?" by itself: a second greeting would talk over it.
      this.#opening = 'skipped';
      this.#emit({ type: 'opening', why: this.#machine ? 'machine' : 'agent-already-speaking', sent: false });
      return;
    }
    this.#opening = 'sent';
    this.log.info({ why }, 'opening turn sent');
    this.#session.sendText(this.#deps.prompts.opening);
    this.#emit({ type: 'opening', why, sent: true });
  }

  #clearOpeningTimers(): void {
    for (const t of this.#openingTimers) clearTimeout(t);
    this.#openingTimers = [];
  }

  /** Gemini still connecting a moment after the caller got through: say something rather than nothing. */
  #armFiller(): void {
    const after = this.#deps.config.conversation.fillerAfterMs;
    if (after <= 0 || this.#fillerTimer !== undefined || this.#session.state !== 'connecting') return;
    this.#fillerTimer = setTimeout(() => {
      const leg = this.leg;
      if (!leg || this.phase !== 'live' || this.#fatal || this.#agentSpoke) return;
      if (this.#session.state !== 'connecting') return;
      let pcm: Int16Array;
      try {
        pcm = this.#deps.fillerAudio();
      } catch (err) {
        this.log.warn({ err }, 'filler prompt unavailable');
        return;
      }
      this.log.info({ afterMs: after }, 'gemini not ready yet; playing the filler prompt');
      leg.playAgentAudio(pcm);
      leg.flushAgentAudio();
      this.#emit({ type: 'filler' });
    }, after);
    this.#fillerTimer.unref();
  }

  // ── machine detection ───────────────────────────────────────────────────────────────────────────────────────

  /** Plivo's machine detection said an answering machine took the call: follow VOICEMAIL. */
  onMachineDetected(): void {
    if (this.phase === 'ended' || this.#machine || this.#fatal) return;
    this.#machine = true;
    this.#clearOpeningTimers();
    if (this.#opening === 'pending' || this.#opening === 'waiting') this.#opening = 'skipped';
    const action = this.#deps.config.conversation.voicemail;
    this.outcome = 'voicemail';
    this.endReason ??= 'voicemail';
    this.log.info({ action }, 'answering machine detected');
    this.#emit({ type: 'machine', action });
    this.#writer.markDirty();
    if (action === 'hangup') {
      void this.#hangUpNow('voicemail');
      return;
    }
    const openTurn = this.transcript.hasOpenAgentTurn() || this.#playout.turn !== undefined;
    if (this.leg && this.#agentSpoke) this.leg.clearAgentAudio();
    clearTimeout(this.#hangupTimer);
    this.#hangup = { kind: 'goodbye', reason: 'voicemail', stage: openTurn ? 'waiting-old' : 'waiting', name: '' };
    this.#session.sendText(VOICEMAIL_INSTRUCTION + this.#deps.prompts.voicemail);
    this.#hangupTimer = setTimeout(() => {
      this.log.warn('voicemail message did not play in time; hanging up');
      void this.#hangUpNow('voicemail');
    }, VOICEMAIL_MAX_MS);
    this.#hangupTimer.unref();
  }

  onCallerAudio(pcm16k: Int16Array): void {
    if (this.phase !== 'live') return;
    this.#session.sendAudio(pcm16k);
    if (this.#opening === 'waiting') this.#listenForHello(pcm16k);
  }

  onDtmf(digit: string): void {
    this.log.debug({ digit }, 'dtmf');
  }

  onPlayed(name: string): void {
    if (this.#playout.played(name)) return;
    const wait = this.#hangup;
    if (wait && wait.stage === 'played' && name === wait.name) void this.#hangUpNow(wait.reason);
  }

  onCleared(): void {}

  /**
   * Drain deadline: move this call to a ready replica (Plivo transfer to `urlFor(handle)`), after waiting up to
   * `waitMs` for a resumable point. No handle, or a failed transfer: the technical-difficulty prompt, then hang-up.
   */
  async migrate(
    plivoTransfer: (url: string) => Promise<void>,
    urlFor: (handle: string) => string,
    waitMs = this.#deps.timing.migrateWaitMs,
  ): Promise<'migrated' | 'hung_up' | 'not-live'> {
    if (this.phase === 'ended' || !this.leg) return 'not-live';
    // Already saying goodbye or apologising: it hangs up by itself.
    if (this.#hangup || this.#fatal) return 'hung_up';
    const end = Date.now() + waitMs;
    let handle = this.#session.resumptionHandle?.();
    while (handle === undefined && Date.now() < end && !this.#ended()) {
      await new Promise((r) => setTimeout(r, 100));
      handle = this.#session.resumptionHandle?.();
    }
    if (this.#ended()) return 'not-live';
    let url: string | undefined;
    try {
      if (handle !== undefined) url = urlFor(handle);
    } catch (err) {
      this.log.warn({ err }, 'resume URL not minted');
    }
    if (url === undefined) {
      this.#onFatal(new Error('drain deadline: no resumable point to move the call'), 'moved-no-handle');
      return 'hung_up';
    }
    this.#moving = true;
    // The service refuses a resume while the old connection of the session is open: close it first. A close we
    // asked for is not a Gemini failure: no onFatal, no reconnect, nothing counted (live-session.ts close()).
    await this.#session.close().catch(() => undefined);
    // Everything this replica knows goes to the record before the call lands elsewhere: the other replica takes
    // the record over on its first write (see #applyTo), and nothing is written here after the transfer.
    this.transcript.close();
    await this.#writer.flush();
    try {
      await plivoTransfer(url);
      this.#handedOff = true;
      this.endReason = 'moved';
      this.log.info('call moved to another replica');
      this.#emit({ type: 'moved' });
      return 'migrated';
    } catch (err) {
      this.#moving = false;
      this.#onFatal(new Error(`drain deadline: transfer failed: ${(err as Error).message}`), 'moved-transfer-failed');
      return 'hung_up';
    }
  }

  /**
   * A session opened at the answer webhook whose stream another replica took: that replica has its own session and
   * owns the record, so this one closes without writing anything (no end fields, not a failure).
   */
  handOverWarm(): Promise<void> {
    if (this.phase !== 'warming' || this.leg) return Promise.resolve();
    this.#handedOff = true;
    this.endReason = 'stream-elsewhere';
    return this.finish('stream-elsewhere');
  }

  /** This call was transferred to another replica (its record is owned there now). */
  get moved(): boolean {
    return this.#handedOff;
  }

  /** Not narrowed by TypeScript across awaits (phase changes while migrate waits). */
  #ended(): boolean {
    return this.phase === 'ended';
  }

  onStreamEnd(reason: StreamEndReason): void {
    this.leg = undefined;
    const why = this.outcome === 'transferred' ? 'transferred' : (this.endReason ?? `stream-${reason}`);
    void this.finish(why);
  }

  // ── Gemini events ───────────────────────────────────────────────────────────────────────────────────────────

  #events(): LiveSessionEvents {
    return {
      onAudio: (pcm) => this.#onAgentAudio(pcm),
      onInterrupted: () => this.#onInterrupted(),
      onTurnComplete: () => this.#onTurnComplete(),
      onInputTranscript: (text) => {
        this.transcript.caller(text);
        this.#writer.markDirty();
        this.#emit({ type: 'caller-text', text });
      },
      onOutputTranscript: (text) => {
        this.transcript.agent(text);
        this.#writer.markDirty();
        this.#emit({ type: 'agent-text', text });
      },
      onToolCall: (calls) => {
        for (const c of calls) this.#startTool(c);
      },
      onToolCallCancellation: (ids) => {
        for (const id of ids) this.#runs.get(id)?.abort(new Error('cancelled by Gemini'));
      },
      onUsage: (u) => this.#onUsage(u),
      onReconnect: (info) => {
        this.#reconnects++;
        this.log.info(info, 'gemini session reconnected');
        this.#writer.markDirty();
        this.#emit({ type: 'reconnect', kind: info.kind, reason: info.reason });
      },
      onFatal: (err) => this.#onFatal(err),
      onSilentTurn: (info) => this.#emit({ type: 'silent-turn', action: info.action }),
    };
  }

  #onAgentAudio(pcm: Int16Array): void {
    if (this.phase === 'ended' || this.#fatal) return;
    this.#agentSpoke = true;
    if (this.#opening === 'waiting') this.#sendOpening('agent-spoke');
    if (this.#hangup?.stage === 'waiting') this.#hangup.stage = 'settling';
    if (this.#hangup?.stage === 'settling') this.#armGoodbye();
    if (!this.leg) {
      this.#keepEarly(pcm);
      return;
    }
    const probe = this.#deps.latency?.audioToPlay;
    const t0 = probe ? performance.now() : 0;
    this.#playAgent(pcm);
    if (probe) probe(this.ctx.callId, performance.now() - t0);
  }

  #playAgent(pcm: Int16Array): void {
    const leg = this.leg!;
    const turn = this.transcript.agentTurn();
    if (this.#playout.turn !== turn) this.#playout.begin(turn);
    leg.playAgentAudio(pcm);
    const checkpoint = this.#playout.audio(pcm.length);
    if (checkpoint !== undefined) leg.checkpoint(checkpoint);
  }

  #keepEarly(pcm: Int16Array): void {
    if (this.#earlySamples + pcm.length > this.#deps.timing.maxEarlyAudioMs * SAMPLES_PER_MS) {
      this.#earlyDropped += pcm.length;
      return;
    }
    this.#early.push(pcm.slice());
    this.#earlySamples += pcm.length;
  }

  #onInterrupted(): void {
    const leg = this.leg;
    if (!leg) {
      // Not attached yet: nothing was played, drop what was kept of the interrupted turn.
      this.#early = [];
      this.#earlySamples = 0;
      this.transcript.endAgentTurn();
      return;
    }
    const t0 = performance.now();
    const pendingMs = leg.pendingPlayoutMs();
    leg.clearAgentAudio();
    const ms = performance.now() - t0;
    this.#deps.latency?.interruptToClear?.(this.ctx.callId, ms);
    this.interruptions++;
    const cut = this.#playout.interrupt(pendingMs, this.transcript.hasOpenAgentTurn());
    if (cut) this.transcript.markInterrupted(cut.turn, cut.heardMs);
    else this.transcript.endAgentTurn();
    this.#writer.markDirty();
    this.#emit({ type: 'interrupted', heardMs: cut?.heardMs, clearMs: ms });
    if (this.#hangup?.stage === 'waiting-old') this.#hangup.stage = 'waiting';
    if (this.#hangup?.stage === 'played' && this.#hangup.kind === 'goodbye') {
      // The goodbye was cut off, so its checkpoint will never be confirmed: wait for the model to finish again.
      this.#hangup.stage = 'settling';
      this.#armGoodbye();
    }
  }

  #onTurnComplete(): void {
    if (this.#hangup?.stage === 'waiting-old') this.#hangup.stage = 'waiting';
    if (!this.leg) {
      if (this.#earlySamples > 0) this.#early.push('turn-end');
      return;
    }
    this.#agentTurnEnd();
    if (this.#hangup?.stage === 'settling') this.#sendHangupCheckpoint();
  }

  #agentTurnEnd(): void {
    const leg = this.leg!;
    if (this.transcript.hasOpenAgentTurn()) this.#emit({ type: 'agent-turn-end' });
    const checkpoint = this.#playout.end();
    if (checkpoint !== undefined) {
      leg.flushAgentAudio();
      leg.checkpoint(checkpoint);
    }
    this.transcript.endAgentTurn();
    this.#writer.markDirty();
  }

  #onUsage(u: UsageInfo): void {
    const sum = this.#usage?.sum ?? { prompt: 0, response: 0, total: 0 };
    sum.prompt += u.promptTokenCount ?? 0;
    sum.response += u.responseTokenCount ?? 0;
    sum.total += u.totalTokenCount ?? 0;
    this.#usage = { last: u.raw, sum };
    if (probes.usage.hasSubscribers) probes.usage.publish({ callId: this.ctx.callId, raw: u.raw });
    this.#writer.markDirty();
  }

  // ── tools ───────────────────────────────────────────────────────────────────────────────────────────────────

  #startTool(request: ToolCallRequest): void {
    if (this.phase === 'ended') return;
    const rec: ToolCallRecord = {
      id: request.id,
      name: request.name,
      args: request.args ?? {},
      startedAt: new Date().toISOString(),
      outcome: 'pending',
    };
    this.#toolCalls.push(rec);
    const controller = new AbortController();
    this.#runs.set(request.id, controller);
    this.log.info({ tool: request.name, toolCallId: request.id }, 'tool call');
    this.#writer.markDirty();
    this.#emit({ type: 'tool-start', id: request.id, name: request.name, args: rec.args });
    const ctx = {
      callId: this.ctx.callId,
      call: this.ctx,
      config: this.#deps.config,
      plivo: this.#deps.plivo,
      control: this as CallControl,
      logger: this.log,
      now: () => new Date(),
    };
    void this.#deps.tools.run(request, ctx, controller.signal).then((result) => {
      this.#runs.delete(request.id);
      rec.endedAt = new Date().toISOString();
      rec.outcome = result.outcome;
      if (result.outcome === 'ok') rec.result = result.response;
      else rec.error = result.error;
      this.log.info(
        { tool: request.name, toolCallId: request.id, outcome: result.outcome, ms: Math.round(result.durationMs) },
        'tool result',
      );
      this.#writer.markDirty();
      this.#emit({
        type: 'tool-end',
        id: request.id,
        name: request.name,
        outcome: result.outcome,
        ms: result.durationMs,
        response: result.response,
      });
      // A cancelled call is gone from the model's side: answering it would be an error.
      if (result.outcome === 'cancelled' || this.phase === 'ended') return;
      try {
        this.#session.sendToolResponses([{ id: request.id, name: request.name, response: result.response }]);
      } catch (err) {
        this.log.warn({ err, tool: request.name }, 'tool response not sent');
      }
    });
  }

  // CallControl, used by tools.

  endAfterGoodbye(reason: string): void {
    if (this.#hangup || this.phase === 'ended') return;
    this.outcome ??= 'completed';
    this.#hangup = { kind: 'goodbye', reason, stage: 'settling', name: '' };
    this.log.info({ reason }, 'hang-up requested by the agent');
    this.#emit({ type: 'hangup-requested', reason });
    if (this.leg) this.#armGoodbye();
  }

  async scheduleCallback(request: CallbackRequest): Promise<void> {
    this.#callbacks.push(request);
    this.outcome = 'callback-scheduled';
    const record = await this.#writer.flush();
    const hook = this.#deps.onCallbackScheduled;
    if (hook && record) {
      try {
        await hook(record, request);
      } catch (err) {
        this.log.warn({ err }, 'callback hook failed; the request stays in the call record');
      }
    }
  }

  markTransferred(target: string): void {
    this.outcome = 'transferred';
    this.endReason = 'transferred';
    this.phase = this.phase === 'ended' ? 'ended' : 'ending';
    this.log.info({ targetSuffix: target.slice(-4) }, 'transferred');
    this.#writer.markDirty();
  }

  setOutcome(outcome: string): void {
    this.outcome = outcome;
    this.#writer.markDirty();
  }

  // ── ending ──────────────────────────────────────────────────────────────────────────────────────────────────

  /** (Re)starts the wait for the end of the goodbye: it is over after a quiet spell or at the turn's end. */
  #armGoodbye(): void {
    clearTimeout(this.#hangupTimer);
    this.#hangupTimer = setTimeout(() => this.#sendHangupCheckpoint(), this.#deps.timing.goodbyeSettleMs);
    this.#hangupTimer.unref();
  }

  #sendHangupCheckpoint(): void {
    const wait = this.#hangup;
    const leg = this.leg;
    if (!wait || !leg || wait.stage !== 'settling') return;
    clearTimeout(this.#hangupTimer);
    this.#agentTurnEnd();
    wait.stage = 'played';
    wait.name = `${wait.kind}-${++this.#hangupSeq}`;
    leg.flushAgentAudio();
    leg.checkpoint(wait.name);
    // Plivo may never confirm (socket trouble, a clear): hang up once the audio should have played anyway.
    const fallback = leg.pendingPlayoutMs() + this.#deps.timing.hangupGraceMs;
    this.#hangupTimer = setTimeout(() => {
      this.log.warn({ checkpoint: wait.name }, 'no playedStream for the last audio; hanging up anyway');
      void this.#hangUpNow(wait.reason);
    }, fallback);
    this.#hangupTimer.unref();
  }

  #onFatal(err: Error, endReason = 'gemini-unavailable'): void {
    if (this.phase === 'ended' || this.#fatal) return;
    this.#fatal = err;
    this.endReason = endReason;
    if (!this.#sessionReady && endReason === 'gemini-unavailable') countSetupFailure('gemini-connect');
    this.outcome ??= 'failed';
    this.log.error({ err }, 'gemini session lost; playing the technical-difficulty prompt');
    this.#emit({ type: 'fatal', message: err.message });
    for (const c of this.#runs.values()) c.abort(new Error('session lost'));
    if (this.leg) this.#playFatalPrompt();
  }

  #playFatalPrompt(): void {
    const leg = this.leg!;
    this.#early = [];
    leg.clearAgentAudio();
    this.transcript.endAgentTurn();
    let pcm: Int16Array;
    try {
      pcm = this.#deps.technicalDifficultyAudio();
    } catch (err) {
      this.log.error({ err }, 'technical-difficulty prompt unavailable');
      void this.#hangUpNow('gemini-unavailable');
      return;
    }
    leg.playAgentAudio(pcm);
    clearTimeout(this.#hangupTimer);
    this.#hangup = { kind: 'fatal', reason: 'gemini-unavailable', stage: 'settling', name: '' };
    this.#sendHangupCheckpoint();
  }

  async #hangUpNow(reason: string): Promise<void> {
    if (this.phase === 'ended' || this.#finishing) return;
    clearTimeout(this.#hangupTimer);
    this.#hangup = undefined;
    this.endReason ??= reason;
    const plivo = this.#deps.plivo;
    this.#emit({ type: 'hung-up', reason });
    if (plivo) {
      try {
        await plivo.hangupCall(this.ctx.callId);
      } catch (err) {
        this.log.warn({ err }, 'hang-up through the Plivo API failed; closing the stream');
      }
    }
    this.leg?.close('hangup');
    await this.finish(this.endReason);
  }

  /** Ends everything for this call once: session, tools, timers, final record write, summary log. */
  finish(reason: string): Promise<void> {
    this.#finishing ??= this.#finish(reason);
    return this.#finishing;
  }

  async #finish(reason: string): Promise<void> {
    this.endReason ??= reason;
    this.phase = 'ended';
    clearTimeout(this.#hangupTimer);
    clearTimeout(this.#fillerTimer);
    this.#clearOpeningTimers();
    for (const c of this.#runs.values()) c.abort(new Error('call ended'));
    this.#early = [];
    this.transcript.close();
    const stats = this.#session.stats();
    await this.#session.close().catch((err: unknown) => this.log.warn({ err }, 'gemini session close failed'));
    const record = await this.#writer.close();
    this.log.info(
      {
        endReason: this.endReason,
        outcome: this.outcome,
        durationS: Math.round((Date.now() - this.startedAt) / 100) / 10,
        turns: this.transcript.turns.length,
        interruptions: this.interruptions,
        toolCalls: this.#toolCalls.map((t) => `${t.name}:${t.outcome}`),
        reconnects: stats.reconnects,
        droppedAudioMs: stats.droppedAudioMs,
        recordWrites: this.#writer.writes,
        recordSaved: record !== undefined,
      },
      'call ended',
    );
    this.#emit({ type: 'ended', reason: this.endReason ?? reason });
    this.#deps.onFinished(this);
  }

  /** What this call owns in its record; other fields (status, hangup details) belong to the webhooks. */
  #applyTo(r: CallRecord): CallRecord {
    if (this.#handedOff) return r;
    if (this.ctx.resumeHandle !== undefined && this.#prior === undefined) this.#takeOver(r);
    const out: CallRecord = {
      ...r,
      transcript: this.transcript.turns.map((t) => ({ ...t })),
      toolCalls: this.#toolCalls.map((t) => ({ ...t })),
      callbacks: [...this.#callbacks],
      reconnects: Math.max(r.reconnects, this.#reconnects),
    };
    if (this.#usage) {
      const prior = this.#prior?.usage;
      out.usage = {
        promptTokenCount: this.#usage.sum.prompt + (prior?.prompt ?? 0),
        responseTokenCount: this.#usage.sum.response + (prior?.response ?? 0),
        totalTokenCount: this.#usage.sum.total + (prior?.total ?? 0),
        last: this.#usage.last,
      };
    }
    if (this.outcome !== undefined) out.outcome = this.outcome;
    if (this.phase === 'ended' && !this.#moving) {
      out.endReason = this.endReason;
      out.endedAt ??= new Date().toISOString();
    }
    return out;
  }

  /** A moved call's first write: the earlier replica's part of the record goes ahead of this replica's. */
  #takeOver(r: CallRecord): void {
    const n = (v: unknown) => (typeof v === 'number' ? v : 0);
    const u = r.usage ?? {};
    this.#prior = {
      usage: { prompt: n(u.promptTokenCount), response: n(u.responseTokenCount), total: n(u.totalTokenCount) },
    };
    this.transcript.turns.unshift(...r.transcript.map((t) => ({ ...t })));
    this.#toolCalls.unshift(...r.toolCalls.map((t) => ({ ...t })));
    this.#callbacks.unshift(...r.callbacks);
    this.#reconnects += r.reconnects;
    this.outcome ??= r.outcome;
    this.log.info({ turns: r.transcript.length }, 'moved call: record taken over from the earlier replica');
  }
}

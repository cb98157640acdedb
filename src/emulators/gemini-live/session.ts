// One emulated BidiGenerateContent connection, the wire side: the socket, the dispatch of client messages (their
// shape is checked in wire.ts and setup-check.ts, what each model generation accepts in profiles.ts), closes with
// the service's codes, goAway, the connection lifetime and resumption updates. What the agent says and when is the
// TurnEngine's (turns.ts); the conversation state lives in a Conversation so that a resumed connection can carry on
// where the previous one stopped.

import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Logger } from '../../log.ts';
import { CLOSE, type CloseSpec, clampReason } from './close-codes.ts';
import { Conversation, type HandleStore } from './conversation.ts';
import type { SessionFaults } from './faults.ts';
import { bytesToInt16 } from './pcm.ts';
import type { ParsedScenario } from './scenario.ts';
import { type CheckedSetup, checkSetup } from './setup-check.ts';
import type { SpeechMode } from './speech.ts';
import { AUDIO_TOKENS_PER_S, type FunctionResponseIn, TurnEngine } from './turns.ts';
import type { EmulatedSession, EmulatedToolCall, ReceivedMessage } from './types.ts';
import { EnergyVad } from './vad.ts';
import {
  clientContentText,
  durationString,
  isObj,
  type Obj,
  parseClientFrame,
  realtimeAudio,
  summariseRealtime,
  summariseServerContent,
} from './wire.ts';
import type { ServerSocket } from './ws-server.ts';

export interface SessionContext {
  scenario: ParsedScenario;
  baseDir: string;
  /** Scenarios picked by the setup's systemInstruction (GeminiLiveEmulatorOptions.scenarioRoutes). */
  scenarioRoutes: ReadonlyArray<{ needle: string; scenario: ParsedScenario; baseDir: string }>;
  speech: SpeechMode;
  models: readonly string[] | 'any';
  handles: HandleStore;
  log: Logger;
  timing: { realtime: boolean; chunkMs: number; speedup: number; leadMs: number };
  vad: { thresholdDbfs?: number; minSpeechMs?: number; endSilenceMs?: number };
  faults: SessionFaults;
  /** Connection lifetime (0 = none) and how long before its end goAway comes. */
  limits: { connectionMs: number; goAwayLeadMs: number };
  resumption: { rejectWhileConnected: boolean; updateEveryMs: number };
  binaryFrames: boolean;
  setupTimeoutMs: number;
  /** Keep `received`/`sent` logs (off for load tests). */
  record: boolean;
  /** Whether this connection should be dropped abruptly, and when (ms after open). */
  takeDropSlot(): number | undefined;
  /** Whether the scenario's connection lifetime applies to this (set-up) connection. */
  takeLifetimeSlot(): boolean;
}

// Bounded logs: at thousands of sessions (bench) per-frame records would dominate memory.
const MAX_LOG = 5_000;
const MAX_AUDIO_LOG = 100;
const REALTIME_FIELDS = new Set([
  'audio',
  'mediaChunks',
  'video',
  'text',
  'activityStart',
  'activityEnd',
  'audioStreamEnd',
]);
const SCHEDULING = new Set(['SCHEDULING_UNSPECIFIED', 'SILENT', 'WHEN_IDLE', 'INTERRUPT']);

export class EmulatedSessionImpl extends EventEmitter implements EmulatedSession {
  readonly id: string;
  readonly index: number;
  readonly received: ReceivedMessage[] = [];
  readonly sent: ReceivedMessage[] = [];
  readonly toolCalls: EmulatedToolCall[] = [];
  readonly toolResponses: Array<{ id: string; name: string; response: unknown }> = [];
  readonly turns: string[] = [];
  readonly handles: string[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;

  private readonly ws: ServerSocket;
  private readonly ctx: SessionContext;
  readonly apiVersion: string;
  private readonly openedAt = Date.now();
  private readonly log: Logger;
  private setupMsg: Obj | undefined;
  private checked: CheckedSetup | undefined;
  private resumedHandle: string | undefined;
  private conv: Conversation | undefined;
  private ready = false;
  private isClosed = false;
  private closeSpec: CloseSpec | undefined;
  private resolveClosed!: (v: { code: number; reason: string }) => void;
  private audioBytesIn = 0;
  private audioMsIn = 0;
  private audioInLogged = 0;
  private audioOutLogged = 0;
  private vad: EnergyVad | undefined;
  private engine: TurnEngine | undefined;
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly immediates = new Set<NodeJS.Immediate>();
  private goAwaySent = false;
  /**
   * Whether the window for initial history has closed (profiles with `clientContent: 'initial-history'`): it closes
   * with the first realtimeInput, toolResponse or agent turn (livekit/agents#5251: "after the first model turn").
   */
  private historyClosed = false;

  constructor(ws: ServerSocket, index: number, apiVersion: string, ctx: SessionContext) {
    super();
    this.ws = ws;
    this.index = index;
    this.apiVersion = apiVersion;
    this.ctx = ctx;
    this.id = `emu-${index}-${randomBytes(4).toString('hex')}`;
    this.log = ctx.log.child({ session: this.id });
    this.closed = new Promise((r) => {
      this.resolveClosed = r;
    });
    // A listener-less 'error' would throw; tests that do not care about session events must not crash.
    this.on('error', () => {});
  }

  get setup(): Record<string, unknown> | undefined {
    return this.setupMsg;
  }
  get resumedFrom(): string | undefined {
    return this.resumedHandle;
  }
  get conversationId(): string | undefined {
    return this.conv?.id;
  }
  get audioInMs(): number {
    return this.audioMsIn;
  }
  /** For Conversation.owner: a resume must not steal a conversation whose socket is still open. */
  get isOpen(): boolean {
    return !this.isClosed && this.ws.readyState === this.ws.OPEN;
  }

  /** Wire the socket; `reject` closes right away (auth and capacity faults decided at upgrade time). */
  start(reject?: CloseSpec): void {
    this.ws.on('message', (data, isBinary) => this.onFrame(data, isBinary));
    this.ws.on('close', (code, reason) => this.onSocketClose(code, reason.toString('utf8')));
    this.ws.on('error', (err) => this.log.debug({ err }, 'emulator socket error'));
    if (reject) {
      this.closeWith(reject);
      return;
    }
    this.later(this.ctx.setupTimeoutMs, () => {
      if (!this.setupMsg) this.closeWith(CLOSE.deadline);
    });
    const dropAt = this.ctx.takeDropSlot();
    if (dropAt !== undefined) this.later(dropAt, () => this.drop());
  }

  // ---- test controls -------------------------------------------------------------------------------------------

  goAway(timeLeftMs: number): void {
    if (this.isClosed || this.goAwaySent) return;
    this.goAwaySent = true;
    this.send({ goAway: { timeLeft: durationString(timeLeftMs) } });
    // Seen in the wild: after goAway the service may stop answering until it closes.
    if (this.ctx.faults.silentAfterGoAway) this.engine?.cancel();
    this.later(timeLeftMs, () => this.closeWith(CLOSE.deadline));
  }

  interrupt(): void {
    this.engine?.interrupt();
  }

  quotaExceeded(): void {
    this.closeWith(CLOSE.quota);
  }

  drop(code?: number): void {
    if (this.isClosed) return;
    if (code === undefined) {
      this.closeSpec = { code: 1006, reason: '' };
      this.ws.terminate();
      return;
    }
    const reasons: Record<number, string> = {
      1007: CLOSE.invalidArgument.reason,
      1008: CLOSE.notSupported.reason,
      1011: CLOSE.internal.reason,
    };
    this.closeWith({ code, reason: reasons[code] ?? '' });
  }

  // ---- inbound -------------------------------------------------------------------------------------------------

  private onFrame(data: Buffer, _isBinary: boolean): void {
    // After our close frame, the rest of the client's in-flight frames are read and ignored, like the service does.
    if (this.isClosed || this.closeSpec) return;
    const frame = parseClientFrame(data);
    if (!frame) {
      this.closeWith(CLOSE.invalidArgument);
      return;
    }
    const { msg, key, body } = frame;
    this.record(this.received, msg, key, body);
    this.emit('message', msg);
    if (!this.setupMsg) {
      if (key !== 'setup') {
        this.closeWith(CLOSE.invalidArgument);
        return;
      }
      this.onSetup(body);
      return;
    }
    if (key === 'setup' || !this.ready) {
      // A second setup, or anything before setupComplete: the service wants setup first and only once.
      this.closeWith(CLOSE.invalidArgument);
      return;
    }
    switch (key) {
      case 'realtimeInput': {
        this.onRealtimeInput(body);
        return;
      }
      case 'clientContent': {
        this.onClientContent(body);
        return;
      }
      case 'toolResponse': {
        this.onToolResponse(body);
        return;
      }
      case 'contextUpdate':
        if (!isObj(body)) {
          this.closeWith(CLOSE.invalidArgument);
          return;
        }
        return;
    }
  }

  private record(log: ReceivedMessage[], msg: Obj, key: string, body: unknown): void {
    if (!this.ctx.record || log.length >= MAX_LOG) return;
    const at = Date.now() - this.openedAt;
    if (key === 'realtimeInput' && isObj(body) && (body.audio !== undefined || body.mediaChunks !== undefined)) {
      if (this.audioInLogged >= MAX_AUDIO_LOG) return;
      this.audioInLogged++;
      log.push({ at, msg: { realtimeInput: summariseRealtime(body) } });
      return;
    }
    if (key === 'serverContent' && isObj(body) && isObj(body.modelTurn)) {
      if (this.audioOutLogged >= MAX_AUDIO_LOG) return;
      this.audioOutLogged++;
      log.push({ at, msg: { ...msg, serverContent: summariseServerContent(body) } });
      return;
    }
    log.push({ at, msg });
  }

  private onSetup(body: unknown): void {
    this.setupMsg = isObj(body) ? body : {};
    const r = checkSetup(body, this.ctx.models);
    if (!r.ok) {
      this.closeWith(r.close);
      return;
    }
    const setup = r.value;
    this.checked = setup;

    if (setup.resumeHandle !== undefined) {
      this.resumedHandle = setup.resumeHandle;
      if (this.ctx.faults.refuseResumption) {
        this.closeWith(CLOSE.invalidArgument);
        return;
      }
      const existing = this.ctx.handles.peek(setup.resumeHandle);
      if (!existing) {
        this.closeWith(CLOSE.invalidArgument);
        return;
      }
      if (existing.model !== setup.model) {
        this.closeWith(CLOSE.invalidArgument);
        return;
      }
      if (this.ctx.resumption.rejectWhileConnected && existing.owner?.isOpen) {
        this.closeWith(CLOSE.internal);
        return;
      }
      this.conv = this.ctx.handles.redeem(setup.resumeHandle);
    } else {
      const si = JSON.stringify(this.setupMsg.systemInstruction ?? '');
      const route = this.ctx.scenarioRoutes.find((r) => si.includes(r.needle));
      this.conv = new Conversation(`conv-${randomBytes(6).toString('hex')}`, setup.model, route);
      this.conv.contextTokens = Math.ceil(si.length / 4);
    }
    if (!this.conv) {
      this.closeWith(CLOSE.invalidArgument);
      return;
    }
    this.conv.owner = this;
    const conv = this.conv;
    // The conversation's own scenario when a route picked one (kept across resumptions), else the default.
    const ctx = conv.script === undefined ? this.ctx : { ...this.ctx, ...conv.script };
    const engine = new TurnEngine(
      {
        log: this.log,
        turns: this.turns,
        toolCalls: this.toolCalls,
        toolResponses: this.toolResponses,
        live: () => this.ready && !this.isClosed && !this.closeSpec,
        send: (m) => this.send(m),
        later: (ms, fn) => {
          this.later(ms, fn);
        },
        soon: (fn) => this.soon(fn),
        emit: (event, ...args) => this.emit(event, ...args),
        fail: (spec) => this.closeWith(spec),
        resumptionUpdate: () => {
          if (setup.resumptionEnabled) this.resumptionUpdate();
        },
        goAway: (ms) => this.goAway(ms),
        speechMs: () => this.vad?.currentSpeechMs ?? 0,
      },
      ctx,
      setup,
      conv,
    );
    this.engine = engine;
    this.vad = this.makeVad(setup, engine);
    for (const name of new Set(ctx.scenario.turns.flatMap((t) => t.toolCalls.map((c) => c.name)))) {
      if (!setup.toolNames.has(name)) this.log.warn({ tool: name }, 'scenario calls a tool the client did not declare');
    }
    // A resumed conversation is past its initial history.
    if (this.conv.position > 0) this.historyClosed = true;
    const complete = (): void => {
      if (this.isClosed) return;
      this.ready = true;
      this.send({ setupComplete: {} });
      if (setup.resumptionEnabled) {
        this.resumptionUpdate();
        if (this.ctx.resumption.updateEveryMs > 0)
          this.every(this.ctx.resumption.updateEveryMs, () => this.resumptionUpdate());
      }
      this.scheduleLifetime();
      // Nothing is said until the client speaks or sends a text turn: the real models wait for input.
    };
    // Fault: the socket stays open, setupComplete never comes (SDK 3.x connect() has no timeout of its own).
    if (this.ctx.faults.takeSetupStall()) return;
    if (this.ctx.faults.setupDelayMs > 0) this.later(this.ctx.faults.setupDelayMs, complete);
    else complete();
  }

  private makeVad(setup: CheckedSetup, engine: TurnEngine): EnergyVad {
    const o = this.ctx.vad;
    const sens =
      setup.startSensitivity === 'START_SENSITIVITY_LOW'
        ? 6
        : setup.startSensitivity === 'START_SENSITIVITY_HIGH'
          ? -6
          : 0;
    return new EnergyVad(
      {
        thresholdDbfs: o.thresholdDbfs ?? -40 + sens,
        minSpeechMs: o.minSpeechMs ?? Math.max(20, setup.prefixPaddingMs ?? 100),
        endSilenceMs: o.endSilenceMs ?? setup.silenceDurationMs ?? 500,
      },
      { onSpeechStart: () => engine.onSpeechStart(), onSpeechEnd: (ms) => engine.onSpeechEnd(ms) },
    );
  }

  private onRealtimeInput(body: unknown): void {
    const checked = this.checked!;
    if (!isObj(body)) {
      this.closeWith(CLOSE.invalidArgument);
      return;
    }
    for (const k in body) {
      if (!REALTIME_FIELDS.has(k)) {
        this.closeWith(CLOSE.invalidArgument);
        return;
      }
    }
    const blobs = realtimeAudio(body, checked.profile);
    if (!blobs || (body.text !== undefined && typeof body.text !== 'string')) {
      this.closeWith(CLOSE.invalidArgument);
      return;
    }
    this.historyClosed = true;
    for (const b of blobs) {
      this.onAudio(b.bytes, b.rate);
      if (this.isClosed || this.closeSpec) return;
    }
    // Text is a client turn on every profile (3.1 takes text only this way): it can start the opening, or carry the
    // re-seeded context of a fresh session.
    if (typeof body.text === 'string' && body.text.trim() !== '') this.engine!.onCallerText(body.text, true);
    if (body.activityStart !== undefined) {
      if (!this.checked?.manualActivity) {
        this.closeWith(CLOSE.invalidArgument);
        return;
      }
      this.vad?.forceStart();
    }
    if (body.activityEnd !== undefined) {
      if (!this.checked?.manualActivity) {
        this.closeWith(CLOSE.invalidArgument);
        return;
      }
      this.vad?.flush();
    }
    if (body.audioStreamEnd === true) {
      if (this.checked?.manualActivity) {
        this.closeWith(CLOSE.invalidArgument);
        return;
      }
      this.vad?.flush();
    }
  }

  private onAudio(bytes: Buffer, rate: number): void {
    const engine = this.engine!;
    if (
      engine.phase === 'awaiting-tool' &&
      this.ctx.faults.abortOnAudioDuringToolCall &&
      engine.blockingCallPending()
    ) {
      this.closeWith(CLOSE.aborted);
      return;
    }
    this.audioBytesIn += bytes.length;
    this.audioMsIn += (bytes.length / 2 / rate) * 1000;
    if (this.conv) this.conv.contextTokens += ((bytes.length / 2 / rate) * AUDIO_TOKENS_PER_S) | 0;
    if (!this.checked?.manualActivity) this.vad?.push(bytesToInt16(bytes), rate);
    if (engine.transcribing && this.vad?.inSpeech) engine.transcribeInput(false);
  }

  private onClientContent(body: unknown): void {
    const checked = this.checked!;
    const text = isObj(body) ? clientContentText(body) : undefined;
    const extra = isObj(body) && Object.keys(body).some((k) => k !== 'turns' && k !== 'turnComplete');
    if (text === undefined || extra || (body as Obj).turnComplete === null) {
      this.closeWith(CLOSE.invalidArgument);
      return;
    }
    // 3.1: initial history only, right after setup, and only when the setup asked for it (livekit/agents#5251).
    const historyOnly = checked.profile.clientContent === 'initial-history';
    if (historyOnly && (!checked.initialHistory || this.historyClosed || this.engine!.started > 0)) {
      this.closeWith(CLOSE.invalidArgument);
      return;
    }
    if (this.conv) this.conv.contextTokens += Math.ceil(text.length / 4);
    if (text.trim() === '') return;
    // Initial history never starts a generation (the strict reading; the service's answer to turnComplete there is
    // not documented). Elsewhere, context without turnComplete only moves the script forward, and a complete turn
    // is a client turn: the model answers it.
    if (!historyOnly && (body as Obj).turnComplete === true) this.engine!.onCallerText(text, true);
    else this.engine!.seekByContext(text, false);
  }

  private onToolResponse(body: unknown): void {
    if (!isObj(body) || !Array.isArray(body.functionResponses)) {
      this.closeWith(CLOSE.invalidArgument);
      return;
    }
    this.historyClosed = true;
    const responses: FunctionResponseIn[] = [];
    for (const fr of body.functionResponses) {
      if (
        !isObj(fr) ||
        typeof fr.id !== 'string' ||
        fr.id === '' ||
        (fr.scheduling !== undefined && !SCHEDULING.has(fr.scheduling as string)) ||
        (fr.willContinue !== undefined && typeof fr.willContinue !== 'boolean')
      ) {
        this.closeWith(CLOSE.invalidArgument);
        return;
      }
      responses.push({ id: fr.id, name: typeof fr.name === 'string' ? fr.name : undefined, response: fr.response });
    }
    if (!this.engine!.onToolResponses(responses)) this.closeWith(CLOSE.invalidArgument);
  }

  private resumptionUpdate(): void {
    if (!this.conv || this.isClosed || !this.ready) return;
    if (this.engine?.phase !== 'idle') {
      this.send({ sessionResumptionUpdate: { resumable: false } });
      return;
    }
    const handle = this.ctx.handles.issue(this.conv);
    this.handles.push(handle);
    this.send({ sessionResumptionUpdate: { newHandle: handle, resumable: true } });
  }

  /**
   * goAway `timeLeft` before the connection's end, then close 1011 "Deadline expired…": about 10 min with about
   * 60 s of notice (https://ai.google.dev/gemini-api/docs/live-session; firebase …/live-api/sessions). A scenario's
   * `lifetime` overrides the limit for the connections it applies to.
   */
  private scheduleLifetime(): void {
    const lt = this.ctx.scenario.lifetime;
    const elapsed = Date.now() - this.openedAt;
    if (lt && this.ctx.takeLifetimeSlot()) {
      this.later(Math.max(0, lt.goAwayAtMs - elapsed), () => this.goAway(lt.timeLeftMs));
      return;
    }
    const { connectionMs, goAwayLeadMs } = this.ctx.limits;
    if (connectionMs <= 0) return;
    const lead = Math.min(goAwayLeadMs, connectionMs);
    this.later(Math.max(0, connectionMs - lead - elapsed), () => this.goAway(lead));
  }

  // ---- outbound and lifecycle ----------------------------------------------------------------------------------

  private send(msg: Obj): void {
    if (this.isClosed || this.ws.readyState !== this.ws.OPEN) return;
    if (this.goAwaySent && this.ctx.faults.silentAfterGoAway && msg.goAway === undefined) return;
    const json = JSON.stringify(msg);
    if (this.ctx.binaryFrames) this.ws.send(Buffer.from(json, 'utf8'), { binary: true });
    else this.ws.send(json, { binary: false });
    const key = Object.keys(msg)[0] ?? '';
    this.record(this.sent, msg, key, msg[key]);
    this.emit('sent', msg);
  }

  private closeWith(spec: CloseSpec): void {
    if (this.isClosed) return;
    this.closeSpec = spec;
    this.log.debug({ code: spec.code, reason: spec.reason }, 'emulator closing session');
    this.stopAll();
    try {
      this.ws.close(spec.code, clampReason(spec.reason));
    } catch {
      this.ws.terminate();
    }
    // A client that never answers the close frame must not keep the socket (and the test) alive.
    const t = setTimeout(() => this.ws.terminate(), 2_000);
    t.unref();
  }

  private onSocketClose(code: number, reason: string): void {
    const spec = this.closeSpec ?? { code, reason };
    this.stopAll();
    this.isClosed = true;
    if (this.conv?.owner === this) this.conv.owner = undefined;
    this.emit('close', spec);
    this.resolveClosed(spec);
  }

  private stopAll(): void {
    this.engine?.cancel();
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const i of this.immediates) clearImmediate(i);
    this.immediates.clear();
  }

  /** Close from the emulator's own shutdown. */
  shutdown(): void {
    if (this.isClosed) return;
    this.closeWith({ code: 1001, reason: 'Server shutting down.' });
  }

  private later(ms: number, fn: () => void): NodeJS.Timeout {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
    return t;
  }

  private every(ms: number, fn: () => void): void {
    const t = setInterval(fn, ms);
    this.timers.add(t);
  }

  private soon(fn: () => void): void {
    const i = setImmediate(() => {
      this.immediates.delete(i);
      fn();
    });
    this.immediates.add(i);
  }
}

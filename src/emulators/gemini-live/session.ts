// One emulated BidiGenerateContent connection: the dispatch of client messages (their shape is checked in wire.ts
// and setup-check.ts, what each model generation accepts in profiles.ts), the scripted turn engine, barge-in, tool
// calls, goAway and resumption updates, and the faults of faults.ts. The conversation state lives in a Conversation
// so that a resumed connection can carry on where the previous one stopped.
import { EventEmitter } from 'node:events';
import { randomBytes } from 'node:crypto';
import type { Logger } from '../../log.ts';
import { CLOSE, type CloseSpec, clampReason } from './close-codes.ts';
import { Conversation, type HandleStore } from './conversation.ts';
import { nearZero, type SessionFaults } from './faults.ts';
import { bytesToInt16, int16ToBytes } from './pcm.ts';
import { type ParsedScenario, renderText, type Turn } from './scenario.ts';
import { type CheckedSetup, checkSetup } from './setup-check.ts';
import { OUTPUT_RATE, renderAudio, type SpeechMode } from './speech.ts';
import type { ServerSocket } from './ws-server.ts';
import type { EmulatedSession, EmulatedToolCall, ReceivedMessage } from './types.ts';
import { EnergyVad } from './vad.ts';
import {
  clientContentText,
  durationString,
  isObj,
  newCallId,
  normalise,
  type Obj,
  parseClientFrame,
  realtimeAudio,
  summariseRealtime,
  summariseServerContent,
} from './wire.ts';

export interface SessionContext {
  scenario: ParsedScenario;
  baseDir: string;
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

type Phase = 'idle' | 'speaking' | 'awaiting-tool' | 'playing';

// Bounded logs: at thousands of sessions (bench) per-frame records would dominate memory.
const MAX_LOG = 5_000;
const MAX_AUDIO_LOG = 100;
/** Audio tokens per second, as the Live API bills them. */
const AUDIO_TOKENS_PER_S = 32;
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
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly immediates = new Set<NodeJS.Immediate>();

  // Turn engine.
  private phase: Phase = 'idle';
  /** Bumped to cancel whatever the current turn still has scheduled. */
  private turnToken = 0;
  private currentTurn: Turn | undefined;
  private responseAudioMs = 0;
  private pendingTools = new Map<string, string>();
  private readonly cancelledTools = new Set<string>();
  private callerTurnQueued = false;
  private inputWords: string[] | undefined;
  private inputWordsSent = 0;
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
    if (this.ctx.faults.silentAfterGoAway) this.turnToken++;
    this.later(timeLeftMs, () => this.closeWith(CLOSE.deadline));
  }

  interrupt(): void {
    this.interruptTurn();
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
      this.conv = new Conversation(`conv-${randomBytes(6).toString('hex')}`, setup.model);
      const si = JSON.stringify(this.setupMsg.systemInstruction ?? '');
      this.conv.contextTokens = Math.ceil(si.length / 4);
    }
    if (!this.conv) {
      this.closeWith(CLOSE.invalidArgument);
      return;
    }
    this.conv.owner = this;
    this.vad = this.makeVad(setup);
    for (const name of new Set(this.ctx.scenario.turns.flatMap((t) => t.toolCalls.map((c) => c.name)))) {
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

  private makeVad(setup: CheckedSetup): EnergyVad {
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
      { onSpeechStart: () => this.onSpeechStart(), onSpeechEnd: (ms) => this.onSpeechEnd(ms) },
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
    if (typeof body.text === 'string' && body.text.trim() !== '') this.onCallerText(body.text, true);
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
    if (this.phase === 'awaiting-tool' && this.ctx.faults.abortOnAudioDuringToolCall && this.blockingCallPending()) {
      this.closeWith(CLOSE.aborted);
      return;
    }
    this.audioBytesIn += bytes.length;
    this.audioMsIn += (bytes.length / 2 / rate) * 1000;
    if (this.conv) this.conv.contextTokens += ((bytes.length / 2 / rate) * AUDIO_TOKENS_PER_S) | 0;
    if (!this.checked?.manualActivity) this.vad?.push(bytesToInt16(bytes), rate);
    if (this.inputWords && this.vad?.inSpeech) this.transcribeInput(false);
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
    if (historyOnly && (!checked.initialHistory || this.historyClosed)) {
      this.closeWith(CLOSE.invalidArgument);
      return;
    }
    if (this.conv) this.conv.contextTokens += Math.ceil(text.length / 4);
    if (text.trim() === '') return;
    // Initial history never starts a generation (the strict reading; the service's answer to turnComplete there is
    // not documented). Elsewhere, context without turnComplete only moves the script forward, and a complete turn
    // is a client turn: the model answers it.
    if (!historyOnly && (body as Obj).turnComplete === true) this.onCallerText(text, true);
    else this.seekByContext(text, false);
  }

  private onToolResponse(body: unknown): void {
    if (!isObj(body) || !Array.isArray(body.functionResponses)) {
      this.closeWith(CLOSE.invalidArgument);
      return;
    }
    this.historyClosed = true;
    const accepted: Array<{ id: string; name: string; response: unknown }> = [];
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
      // A response that crossed our cancellation on the wire is dropped, not an error.
      if (this.cancelledTools.has(fr.id)) continue;
      const name = this.pendingTools.get(fr.id);
      if (name === undefined) {
        this.closeWith(CLOSE.invalidArgument);
        return;
      }
      accepted.push({ id: fr.id, name: typeof fr.name === 'string' ? fr.name : name, response: fr.response });
    }
    for (const a of accepted) {
      this.pendingTools.delete(a.id);
      this.toolResponses.push(a);
      this.conv?.toolResponses.set(a.name, a.response);
      if (this.conv) this.conv.contextTokens += Math.ceil(JSON.stringify(a.response ?? null).length / 4);
      this.emit('toolResponse', a);
    }
    if (accepted.length > 0 && this.pendingTools.size === 0 && this.phase === 'awaiting-tool')
      this.continueAfterTools();
  }

  // ---- caller turns --------------------------------------------------------------------------------------------

  private onSpeechStart(): void {
    this.emit('speechStart');
    if (this.phase !== 'idle' && !this.checked?.noInterruption && this.currentTurn?.interruptible !== false) {
      this.interruptTurn();
    }
    // The words this utterance will be transcribed as: the caller text of the turn it is expected to trigger.
    const next = this.conv && !this.conv.ended ? this.ctx.scenario.turns[this.conv.position] : undefined;
    const words =
      this.checked?.inputTranscription &&
      (next?.trigger === 'caller-speech' || next?.trigger === 'opening') &&
      next.callerText
        ? next.callerText.split(/\s+/).filter((w) => w.length > 0)
        : [];
    this.inputWords = words.length > 0 ? words : undefined;
    this.inputWordsSent = 0;
  }

  private onSpeechEnd(speechMs: number): void {
    this.emit('speechEnd', speechMs);
    this.transcribeInput(true);
    this.callerTurnEnded();
  }

  /** Streams the expected caller words while the caller speaks (about one per 300 ms), like the service's partials. */
  private transcribeInput(final: boolean): void {
    const words = this.inputWords;
    if (!words || !this.vad) return;
    const due = final ? words.length : Math.min(words.length - 1, Math.floor(this.vad.currentSpeechMs / 300));
    if (due <= this.inputWordsSent) return;
    const text = (this.inputWordsSent === 0 ? '' : ' ') + words.slice(this.inputWordsSent, due).join(' ');
    this.inputWordsSent = due;
    this.send({ serverContent: { inputTranscription: final ? { text, finished: true } : { text } } });
    if (final) this.inputWords = undefined;
  }

  /** A client text turn: the caller's words, or the re-seeded context of a fresh session. */
  private onCallerText(text: string, isContext: boolean): void {
    const conv = this.conv;
    if (!conv || !this.ready) return;
    // Text with turnComplete interrupts any generation in progress.
    if (this.phase !== 'idle') this.interruptTurn();
    if (isContext) {
      const jumped = this.seekByContext(text, true);
      if (jumped) return;
    }
    this.callerTurnEnded();
  }

  /**
   * A fresh session re-seeded with the conversation so far: find the furthest scripted turn that the context quotes
   * and continue after it, so the scenario does not start over with a second greeting.
   */
  private seekByContext(text: string, respond: boolean): boolean {
    const conv = this.conv!;
    const turns = this.ctx.scenario.turns;
    const hay = normalise(text);
    let found = -1;
    for (let i = turns.length - 1; i >= conv.position; i--) {
      const said = normalise(turns[i]!.text.split('{{')[0] ?? '').slice(0, 40);
      if (said.length >= 8 && hay.includes(said)) {
        found = i;
        break;
      }
    }
    if (found < 0) return false;
    let pos = found + 1;
    while (turns[pos]?.trigger === 'tool-response') pos++;
    conv.position = pos;
    const next = turns[pos];
    const asked = next?.callerText ? normalise(next.callerText).slice(0, 40) : '';
    if (respond && next?.trigger === 'caller-speech' && asked.length >= 8 && hay.includes(asked)) this.runTurn(pos);
    return true;
  }

  private callerTurnEnded(): void {
    const conv = this.conv;
    if (!conv || !this.ready || this.isClosed) return;
    if (this.phase !== 'idle') {
      this.callerTurnQueued = true;
      return;
    }
    if (conv.ended) return;
    const pos = conv.position;
    const next = this.ctx.scenario.turns[pos];
    // The opening waits for exactly this: the client's first text turn or the end of the caller's first utterance.
    if (next?.trigger === 'caller-speech' || next?.trigger === 'opening') this.runTurn(pos);
  }

  // ---- agent turns ---------------------------------------------------------------------------------------------

  private runTurn(index: number): void {
    const conv = this.conv!;
    const turn = this.ctx.scenario.turns[index];
    if (!turn || this.isClosed || this.closeSpec) return;
    this.historyClosed = true;
    const silent = this.ctx.faults.takeSilentTurn();
    // A silent turn did not deliver the scripted answer: the position stays, so a re-prompt gets it again.
    if (!silent) conv.position = index + 1;
    const token = ++this.turnToken;
    if (this.phase === 'idle') this.responseAudioMs = 0;
    this.phase = 'speaking';
    this.currentTurn = turn;
    const label = turn.id ?? String(index);
    this.turns.push(silent ? `${label}:silent` : label);
    this.emit('turnStart', { index, id: label, silent });
    const text = renderText(turn.text, conv.toolResponses);
    const delay = (turn.delayMs ?? this.ctx.scenario.responseDelayMs) / this.ctx.timing.speedup;
    const rendering = renderAudio(turn.audio, text, {
      mode: this.ctx.speech,
      voice: this.ctx.scenario.voice,
      baseDir: this.ctx.baseDir,
    });
    const delayed = new Promise<void>((r) => this.later(delay, r));
    Promise.all([rendering, delayed]).then(
      ([pcm]) => {
        if (token !== this.turnToken || this.isClosed) return;
        if (!silent) {
          this.stream(token, index, turn, text, pcm);
          return;
        }
        // Fault (python-genai#2117; gemini-live-api-examples#40): turnComplete with no audio, or with audio that
        // is near zero for the whole turn; no transcript, no tool calls.
        const hollow: Turn = { ...turn, toolCalls: [], end: false, goAway: undefined };
        if (this.ctx.faults.silentTurnAudio === 'near-zero')
          this.stream(token, index, hollow, '', nearZero(pcm.length));
        else this.afterAudio(token, index, hollow, Date.now());
      },
      (err: unknown) => {
        if (token !== this.turnToken || this.isClosed) return;
        this.log.error({ err, turn: label }, 'emulator could not render turn audio');
        this.closeWith(CLOSE.internal);
      },
    );
  }

  private stream(token: number, index: number, turn: Turn, text: string, pcm: Int16Array): void {
    const { realtime, chunkMs, speedup, leadMs } = this.ctx.timing;
    const chunk = Math.max(1, Math.round((OUTPUT_RATE * chunkMs) / 1000));
    const words = text.split(/\s+/).filter((w) => w.length > 0);
    const transcribe = this.checked?.outputTranscription === true && words.length > 0;
    const bundle = this.conv!.model.startsWith('gemini-3');
    const totalMs = (pcm.length / OUTPUT_RATE) * 1000;
    const started = Date.now();
    let offset = 0;
    let wordsSent = 0;
    const pump = (): void => {
      if (token !== this.turnToken || this.isClosed) return;
      const allowedMs = realtime ? (Date.now() - started) * speedup + leadMs : Number.POSITIVE_INFINITY;
      let burst = 0;
      while (offset < pcm.length) {
        if (realtime && (offset / OUTPUT_RATE) * 1000 >= allowedMs) break;
        // Without pacing, still yield now and then so that barge-in and tool responses get read.
        if (!realtime && burst >= 16) break;
        const end = Math.min(offset + chunk, pcm.length);
        const data = int16ToBytes(pcm.subarray(offset, end)).toString('base64');
        offset = end;
        burst++;
        const part = { inlineData: { mimeType: `audio/pcm;rate=${OUTPUT_RATE}`, data } };
        let piece: string | undefined;
        if (transcribe) {
          const due = end >= pcm.length ? words.length : Math.floor((words.length * end) / pcm.length);
          if (due > wordsSent) {
            piece = (wordsSent === 0 ? '' : ' ') + words.slice(wordsSent, due).join(' ');
            wordsSent = due;
          }
        }
        if (bundle && piece !== undefined) {
          this.send({ serverContent: { modelTurn: { parts: [part] }, outputTranscription: { text: piece } } });
        } else {
          this.send({ serverContent: { modelTurn: { parts: [part] } } });
          if (piece !== undefined) this.send({ serverContent: { outputTranscription: { text: piece } } });
        }
      }
      if (offset >= pcm.length) {
        this.responseAudioMs += totalMs;
        this.afterAudio(token, index, turn, started + totalMs / speedup);
        return;
      }
      if (realtime) this.later(chunkMs / speedup, pump);
      else this.soon(pump);
    };
    pump();
  }

  private blockingCallPending(): boolean {
    for (const name of this.pendingTools.values()) if (!this.checked?.nonBlockingTools.has(name)) return true;
    return false;
  }

  private afterAudio(token: number, index: number, turn: Turn, playbackEndsAt: number): void {
    if (turn.toolCalls.length > 0) {
      const calls = turn.toolCalls.map((c) => ({ id: newCallId(), name: c.name, args: c.args }));
      for (const c of calls) {
        this.pendingTools.set(c.id, c.name);
        this.toolCalls.push(c);
      }
      this.phase = 'awaiting-tool';
      this.send({ toolCall: { functionCalls: calls } });
      for (const c of calls) this.emit('toolCall', c);
      if (this.checked?.resumptionEnabled) this.send({ sessionResumptionUpdate: { resumable: false } });
      return;
    }
    this.send({ serverContent: { generationComplete: true } });
    this.phase = 'playing';
    const wait = this.ctx.timing.realtime ? Math.max(0, playbackEndsAt - Date.now()) : 0;
    const finish = (): void => {
      if (token !== this.turnToken || this.isClosed) return;
      this.completeTurn(index, turn);
    };
    if (wait > 0) this.later(wait, finish);
    else finish();
  }

  private continueAfterTools(): void {
    const conv = this.conv!;
    const next = this.ctx.scenario.turns[conv.position];
    if (next?.trigger === 'tool-response') {
      this.runTurn(conv.position);
      return;
    }
    // No scripted follow-up: the model acknowledges silently and ends its turn.
    const index = conv.position - 1;
    const turn = this.currentTurn!;
    this.send({ serverContent: { generationComplete: true } });
    this.completeTurn(index, turn);
  }

  private completeTurn(index: number, turn: Turn): void {
    const conv = this.conv!;
    this.turnToken++;
    this.phase = 'idle';
    this.currentTurn = undefined;
    this.sendTurnComplete();
    this.emit('turnEnd', { index, id: turn.id ?? String(index), interrupted: false });
    if (turn.end) conv.ended = true;
    if (this.checked?.resumptionEnabled) this.resumptionUpdate();
    if (turn.goAway && !conv.goAwaysSent.has(index)) {
      conv.goAwaysSent.add(index);
      this.goAway(turn.goAway.timeLeftMs);
    }
    if (this.callerTurnQueued) {
      this.callerTurnQueued = false;
      this.callerTurnEnded();
    }
  }

  private sendTurnComplete(): void {
    const conv = this.conv!;
    const responseTokens = Math.round((this.responseAudioMs / 1000) * AUDIO_TOKENS_PER_S);
    const prompt = conv.contextTokens;
    conv.contextTokens += responseTokens;
    this.responseAudioMs = 0;
    this.send({
      serverContent: { turnComplete: true },
      usageMetadata: {
        promptTokenCount: prompt,
        responseTokenCount: responseTokens,
        totalTokenCount: prompt + responseTokens,
        promptTokensDetails: [{ modality: 'AUDIO', tokenCount: prompt }],
        responseTokensDetails: [{ modality: 'AUDIO', tokenCount: responseTokens }],
      },
    });
  }

  private interruptTurn(): void {
    if (this.phase === 'idle' || this.isClosed || !this.conv) return;
    const conv = this.conv;
    const turn = this.currentTurn;
    this.turnToken++;
    this.send({ serverContent: { interrupted: true } });
    if (this.pendingTools.size > 0) {
      const ids = [...this.pendingTools.keys()];
      for (const id of ids) this.cancelledTools.add(id);
      this.pendingTools.clear();
      this.send({ toolCallCancellation: { ids } });
      // The scripted follow-ups of cancelled calls will never be triggered.
      while (this.ctx.scenario.turns[conv.position]?.trigger === 'tool-response') conv.position++;
    }
    this.phase = 'idle';
    this.currentTurn = undefined;
    this.sendTurnComplete();
    const index = conv.position - 1;
    this.emit('turnEnd', { index, id: turn?.id ?? String(index), interrupted: true });
    if (turn?.end) conv.ended = true;
    if (this.checked?.resumptionEnabled) this.resumptionUpdate();
  }

  private resumptionUpdate(): void {
    if (!this.conv || this.isClosed || !this.ready) return;
    if (this.phase !== 'idle') {
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
    this.turnToken++;
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

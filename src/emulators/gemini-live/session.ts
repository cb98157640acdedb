// One emulated BidiGenerateContent connection: protocol checks, the scripted turn engine, barge-in, tool calls,
// goAway and resumption updates. The conversation state lives in a Conversation so that a resumed connection can
// carry on where the previous one stopped.
import { EventEmitter } from 'node:events';
import { randomBytes } from 'node:crypto';
import type { Logger } from '../../log.ts';
import { CLOSE, type CloseSpec, clampReason } from './close-codes.ts';
import { Conversation, type HandleStore } from './conversation.ts';
import { bytesToInt16, int16ToBytes } from './pcm.ts';
import { type ParsedScenario, renderText, type Turn } from './scenario.ts';
import { type CheckedSetup, checkSetup } from './setup-check.ts';
import { OUTPUT_RATE, renderAudio, type SpeechMode } from './speech.ts';
import type { ServerSocket } from './ws-server.ts';
import type { EmulatedSession, EmulatedToolCall, ReceivedMessage } from './types.ts';
import { EnergyVad } from './vad.ts';

export interface SessionContext {
  scenario: ParsedScenario;
  baseDir: string;
  speech: SpeechMode;
  models: readonly string[] | 'any';
  handles: HandleStore;
  log: Logger;
  timing: { realtime: boolean; chunkMs: number; speedup: number; leadMs: number };
  vad: { thresholdDbfs?: number; minSpeechMs?: number; endSilenceMs?: number };
  faults: {
    refuseResumption: boolean;
    setupDelayMs: number;
    abortOnAudioDuringToolCall: boolean;
    silentAfterGoAway: boolean;
  };
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
type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

// Bounded logs: at thousands of sessions (bench) per-frame records would dominate memory.
const MAX_LOG = 5_000;
const MAX_AUDIO_LOG = 100;
/** Audio tokens per second, as the Live API bills them. */
const AUDIO_TOKENS_PER_S = 32;
const CLIENT_KEYS = new Set(['setup', 'clientContent', 'realtimeInput', 'toolResponse', 'contextUpdate']);

let callSeq = 0;

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
  private readonly apiVersion: string;
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
  private startTimer: NodeJS.Timeout | undefined;
  private goAwaySent = false;

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
    let msg: unknown;
    try {
      msg = JSON.parse(data.toString('utf8'));
    } catch {
      this.closeWith(CLOSE.invalidArgument);
      return;
    }
    if (!isObj(msg)) {
      this.closeWith(CLOSE.invalidArgument);
      return;
    }
    const keys = Object.keys(msg);
    const key = keys[0];
    if (keys.length !== 1 || key === undefined || !CLIENT_KEYS.has(key)) {
      this.closeWith(CLOSE.invalidArgument);
      return;
    }
    const body = msg[key];
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
    if (key === 'setup') {
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
    const r = checkSetup(body, this.ctx.models, this.apiVersion);
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
      this.scheduleSessionStart();
    };
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
    if (!isObj(body)) {
      this.closeWith(CLOSE.invalidArgument);
      return;
    }
    const blobs: unknown[] = [];
    if (body.audio !== undefined) blobs.push(body.audio);
    if (body.mediaChunks !== undefined) {
      if (!Array.isArray(body.mediaChunks)) {
        this.closeWith(CLOSE.invalidArgument);
        return;
      }
      blobs.push(...body.mediaChunks);
    }
    for (const blob of blobs) {
      if (!isObj(blob) || typeof blob.data !== 'string' || typeof blob.mimeType !== 'string') {
        this.closeWith(CLOSE.invalidArgument);
        return;
      }
      const m = /^audio\/pcm(?:;\s*rate=(\d+))?$/i.exec(blob.mimeType);
      if (!m) {
        // Images and video are legal Live input; the emulator only has no use for them.
        if (/^(image|video)\//.test(blob.mimeType)) continue;
        this.closeWith(CLOSE.invalidArgument);
        return;
      }
      const rate = m[1] ? Number(m[1]) : 16_000;
      if (rate < 8_000 || rate > 48_000 || !/^[A-Za-z0-9+/_-]*={0,2}$/.test(blob.data)) {
        this.closeWith(CLOSE.invalidArgument);
        return;
      }
      const bytes = Buffer.from(blob.data, 'base64');
      if (bytes.length % 2 !== 0) {
        this.closeWith(CLOSE.invalidArgument);
        return;
      }
      this.onAudio(bytes, rate);
      if (this.isClosed) return;
    }
    if (body.text !== undefined) {
      if (typeof body.text !== 'string') {
        this.closeWith(CLOSE.invalidArgument);
        return;
      }
      if (body.text.trim() !== '') this.onCallerText(body.text, false);
    }
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
    if (this.phase === 'awaiting-tool' && this.ctx.faults.abortOnAudioDuringToolCall) {
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
    if (!isObj(body)) {
      this.closeWith(CLOSE.invalidArgument);
      return;
    }
    let text = '';
    if (body.turns !== undefined) {
      if (!Array.isArray(body.turns)) {
        this.closeWith(CLOSE.invalidArgument);
        return;
      }
      for (const t of body.turns) {
        if (!isObj(t) || !Array.isArray(t.parts)) {
          this.closeWith(CLOSE.invalidArgument);
          return;
        }
        for (const p of t.parts) {
          if (!isObj(p)) {
            this.closeWith(CLOSE.invalidArgument);
            return;
          }
          if (typeof p.text === 'string') text += `${p.text}\n`;
        }
      }
    }
    if (this.conv) this.conv.contextTokens += Math.ceil(text.length / 4);
    if (text.trim() === '' || !this.ready) return;
    // Context without turnComplete only moves the script forward; the model answers once the turn is complete.
    if (body.turnComplete === true) this.onCallerText(text, true);
    else this.seekByContext(text, false);
  }

  private onToolResponse(body: unknown): void {
    if (!isObj(body) || !Array.isArray(body.functionResponses)) {
      this.closeWith(CLOSE.invalidArgument);
      return;
    }
    const accepted: Array<{ id: string; name: string; response: unknown }> = [];
    for (const fr of body.functionResponses) {
      if (!isObj(fr) || typeof fr.id !== 'string' || fr.id === '') {
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
      this.checked?.inputTranscription && next?.trigger === 'caller-speech' && next.callerText
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

  /** Text from the client: caller words (realtimeInput.text) or, with clientContent, possibly re-seeded context. */
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
    this.cancelStartTimer();
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
    this.cancelStartTimer();
    if (conv.ended) return;
    const pos = conv.position;
    const next = this.ctx.scenario.turns[pos];
    if (!next) return;
    if (next.trigger === 'caller-speech') {
      this.runTurn(pos);
    } else if (next.trigger === 'session-start') {
      this.runTurn(pos);
    }
  }

  // ---- agent turns ---------------------------------------------------------------------------------------------

  private scheduleSessionStart(): void {
    const conv = this.conv!;
    if (this.ctx.scenario.turns[conv.position]?.trigger !== 'session-start') return;
    this.startTimer = this.later(this.ctx.scenario.startDelayMs / this.ctx.timing.speedup, () => {
      this.startTimer = undefined;
      if (this.phase === 'idle' && this.ctx.scenario.turns[conv.position]?.trigger === 'session-start') {
        this.runTurn(conv.position);
      }
    });
  }

  private cancelStartTimer(): void {
    if (this.startTimer) {
      clearTimeout(this.startTimer);
      this.timers.delete(this.startTimer);
      this.startTimer = undefined;
    }
  }

  private runTurn(index: number): void {
    const conv = this.conv!;
    const turn = this.ctx.scenario.turns[index];
    if (!turn || this.isClosed || this.closeSpec) return;
    conv.position = index + 1;
    const token = ++this.turnToken;
    if (this.phase === 'idle') this.responseAudioMs = 0;
    this.phase = 'speaking';
    this.currentTurn = turn;
    const label = turn.id ?? String(index);
    this.turns.push(label);
    this.emit('turnStart', { index, id: label });
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
        this.stream(token, index, turn, text, pcm);
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

  private scheduleLifetime(): void {
    const lt = this.ctx.scenario.lifetime;
    if (!lt) return;
    if (!this.ctx.takeLifetimeSlot()) return;
    const elapsed = Date.now() - this.openedAt;
    this.later(Math.max(0, lt.goAwayAtMs - elapsed), () => this.goAway(lt.timeLeftMs));
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
    this.startTimer = undefined;
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

function newCallId(): string {
  callSeq = (callSeq + 1) % 1_000_000;
  // Shaped like the service's ids ("function-call-<digits>"), unique across sessions.
  return `function-call-${Date.now()}${String(callSeq).padStart(6, '0')}${randomBytes(2).readUInt16BE(0)}`;
}

/** Protobuf JSON Duration: "50s", "0.500s". */
export function durationString(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${(ms / 1000).toFixed(3)}s`;
}

function normalise(s: string): string {
  return s
    .toLowerCase()
    .replace(/[^\p{L}\p{N}]+/gu, ' ')
    .trim();
}

function summariseRealtime(body: Obj): Obj {
  const out: Obj = { ...body };
  const sum = (b: unknown): unknown =>
    isObj(b) && typeof b.data === 'string'
      ? {
          mimeType: b.mimeType,
          bytes: Math.floor((b.data.length * 3) / 4) - (b.data.endsWith('==') ? 2 : b.data.endsWith('=') ? 1 : 0),
        }
      : b;
  if (body.audio !== undefined) out.audio = sum(body.audio);
  if (Array.isArray(body.mediaChunks)) out.mediaChunks = body.mediaChunks.map(sum);
  return out;
}

function summariseServerContent(body: Obj): Obj {
  const mt = body.modelTurn as Obj;
  const parts = Array.isArray(mt.parts)
    ? mt.parts.map((p: unknown) => {
        const d = isObj(p) && isObj(p.inlineData) ? p.inlineData : undefined;
        return d && typeof d.data === 'string'
          ? { inlineData: { mimeType: d.mimeType, bytes: Buffer.byteLength(d.data, 'base64') } }
          : p;
      })
    : mt.parts;
  return { ...body, modelTurn: { ...mt, parts } };
}

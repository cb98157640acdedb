// The behaviour of one emulated connection: the scripted turn engine. It decides when the agent speaks (never
// first: the opening waits for a client turn or caller speech), streams the turn's audio and transcript, makes the
// tool calls, handles barge-in and a re-seeded context, and plays the silent-turn fault. The wire side (parsing,
// validation, the socket, timers, closes) is session.ts; the engine reaches it only through TurnHost.
import type { Logger } from '../../log.ts';
import { CLOSE, type CloseSpec } from './close-codes.ts';
import type { Conversation } from './conversation.ts';
import { nearZero, type SessionFaults } from './faults.ts';
import { int16ToBytes } from './pcm.ts';
import { type ParsedScenario, renderText, type Turn } from './scenario.ts';
import type { CheckedSetup } from './setup-check.ts';
import { OUTPUT_RATE, renderAudio, type SpeechMode } from './speech.ts';
import type { EmulatedToolCall } from './types.ts';
import { newCallId, normalise, type Obj } from './wire.ts';

export type Phase = 'idle' | 'speaking' | 'awaiting-tool' | 'playing';

/** Audio tokens per second, as the Live API bills them. */
export const AUDIO_TOKENS_PER_S = 32;

export interface TurnContext {
  scenario: ParsedScenario;
  baseDir: string;
  speech: SpeechMode;
  timing: { realtime: boolean; chunkMs: number; speedup: number; leadMs: number };
  faults: SessionFaults;
}

/** What the engine needs from its connection. */
export interface TurnHost {
  readonly log: Logger;
  readonly turns: string[];
  readonly toolCalls: EmulatedToolCall[];
  readonly toolResponses: Array<{ id: string; name: string; response: unknown }>;
  /** Set up, not closed and not closing. */
  live(): boolean;
  send(msg: Obj): void;
  later(ms: number, fn: () => void): void;
  soon(fn: () => void): void;
  emit(event: string, ...args: unknown[]): boolean;
  fail(spec: CloseSpec): void;
  resumptionUpdate(): void;
  goAway(timeLeftMs: number): void;
  /** How long the caller's current utterance has lasted (VAD). */
  speechMs(): number;
}

export interface FunctionResponseIn {
  id: string;
  name: string | undefined;
  response: unknown;
}

export class TurnEngine {
  phase: Phase = 'idle';
  /** Agent turns started on this connection (the 3.1 initial-history window closes with the first). */
  started = 0;
  private readonly host: TurnHost;
  private readonly ctx: TurnContext;
  private readonly checked: CheckedSetup;
  private readonly conv: Conversation;
  /** Bumped to cancel whatever the current turn still has scheduled. */
  private turnToken = 0;
  private currentTurn: Turn | undefined;
  private responseAudioMs = 0;
  private readonly pendingTools = new Map<string, string>();
  private readonly cancelledTools = new Set<string>();
  private callerTurnQueued = false;
  private inputWords: string[] | undefined;
  private inputWordsSent = 0;

  constructor(host: TurnHost, ctx: TurnContext, checked: CheckedSetup, conv: Conversation) {
    this.host = host;
    this.ctx = ctx;
    this.checked = checked;
    this.conv = conv;
  }

  /** Stops whatever the current turn still has scheduled (close, or silence after goAway). */
  cancel(): void {
    this.turnToken++;
  }

  /** Whether the caller's words are being transcribed right now (partials follow the audio). */
  get transcribing(): boolean {
    return this.inputWords !== undefined;
  }

  /**
   * Function responses, shape already checked: a response that crossed our cancellation on the wire is dropped, an
   * id never issued is an error (false: the caller closes with 1007).
   */
  onToolResponses(responses: FunctionResponseIn[]): boolean {
    const accepted: Array<{ id: string; name: string; response: unknown }> = [];
    for (const fr of responses) {
      if (this.cancelledTools.has(fr.id)) continue;
      const name = this.pendingTools.get(fr.id);
      if (name === undefined) return false;
      accepted.push({ id: fr.id, name: fr.name ?? name, response: fr.response });
    }
    for (const a of accepted) {
      this.pendingTools.delete(a.id);
      this.host.toolResponses.push(a);
      this.conv.toolResponses.set(a.name, a.response);
      this.conv.contextTokens += Math.ceil(JSON.stringify(a.response ?? null).length / 4);
      this.host.emit('toolResponse', a);
    }
    if (accepted.length > 0 && this.pendingTools.size === 0 && this.phase === 'awaiting-tool')
      this.continueAfterTools();
    return true;
  }

  // ---- caller turns --------------------------------------------------------------------------------------------

  onSpeechStart(): void {
    this.host.emit('speechStart');
    if (this.phase !== 'idle' && !this.checked.noInterruption && this.currentTurn?.interruptible !== false) {
      this.interrupt();
    }
    // The words this utterance will be transcribed as: the caller text of the turn it is expected to trigger.
    const next = this.conv.ended ? undefined : this.ctx.scenario.turns[this.conv.position];
    const words =
      this.checked.inputTranscription &&
      (next?.trigger === 'caller-speech' || next?.trigger === 'opening') &&
      next.callerText
        ? next.callerText.split(/\s+/).filter((w) => w.length > 0)
        : [];
    this.inputWords = words.length > 0 ? words : undefined;
    this.inputWordsSent = 0;
  }

  onSpeechEnd(speechMs: number): void {
    this.host.emit('speechEnd', speechMs);
    this.transcribeInput(true);
    this.callerTurnEnded();
  }

  /** Streams the expected caller words while the caller speaks (about one per 300 ms), like the service's partials. */
  transcribeInput(final: boolean): void {
    const words = this.inputWords;
    if (!words) return;
    const due = final ? words.length : Math.min(words.length - 1, Math.floor(this.host.speechMs() / 300));
    if (due <= this.inputWordsSent) return;
    const text = (this.inputWordsSent === 0 ? '' : ' ') + words.slice(this.inputWordsSent, due).join(' ');
    this.inputWordsSent = due;
    this.host.send({ serverContent: { inputTranscription: final ? { text, finished: true } : { text } } });
    if (final) this.inputWords = undefined;
  }

  /** A client text turn: the caller's words, or the re-seeded context of a fresh session. */
  onCallerText(text: string, isContext: boolean): void {
    if (!this.host.live()) return;
    // Text with turnComplete interrupts any generation in progress.
    if (this.phase !== 'idle') this.interrupt();
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
  seekByContext(text: string, respond: boolean): boolean {
    const conv = this.conv;
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
    if (!this.host.live()) return;
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
    const conv = this.conv;
    const turn = this.ctx.scenario.turns[index];
    if (!turn || !this.host.live()) return;
    this.started++;
    const silent = this.ctx.faults.takeSilentTurn();
    // A silent turn did not deliver the scripted answer: the position stays, so a re-prompt gets it again.
    if (!silent) conv.position = index + 1;
    const token = ++this.turnToken;
    if (this.phase === 'idle') this.responseAudioMs = 0;
    this.phase = 'speaking';
    this.currentTurn = turn;
    const label = turn.id ?? String(index);
    this.host.turns.push(silent ? `${label}:silent` : label);
    this.host.emit('turnStart', { index, id: label, silent });
    const text = renderText(turn.text, conv.toolResponses);
    const delay = (turn.delayMs ?? this.ctx.scenario.responseDelayMs) / this.ctx.timing.speedup;
    const rendering = renderAudio(turn.audio, text, {
      mode: this.ctx.speech,
      voice: this.ctx.scenario.voice,
      baseDir: this.ctx.baseDir,
    });
    const delayed = new Promise<void>((r) => this.host.later(delay, r));
    Promise.all([rendering, delayed]).then(
      ([pcm]) => {
        if (token !== this.turnToken || !this.host.live()) return;
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
        if (token !== this.turnToken || !this.host.live()) return;
        this.host.log.error({ err, turn: label }, 'emulator could not render turn audio');
        this.host.fail(CLOSE.internal);
      },
    );
  }

  private stream(token: number, index: number, turn: Turn, text: string, pcm: Int16Array): void {
    const { realtime, chunkMs, speedup, leadMs } = this.ctx.timing;
    const chunk = Math.max(1, Math.round((OUTPUT_RATE * chunkMs) / 1000));
    const words = text.split(/\s+/).filter((w) => w.length > 0);
    const transcribe = this.checked.outputTranscription === true && words.length > 0;
    const bundle = this.checked.profile.bundled;
    const totalMs = (pcm.length / OUTPUT_RATE) * 1000;
    const started = Date.now();
    let offset = 0;
    let wordsSent = 0;
    const pump = (): void => {
      if (token !== this.turnToken || !this.host.live()) return;
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
          this.host.send({ serverContent: { modelTurn: { parts: [part] }, outputTranscription: { text: piece } } });
        } else {
          this.host.send({ serverContent: { modelTurn: { parts: [part] } } });
          if (piece !== undefined) this.host.send({ serverContent: { outputTranscription: { text: piece } } });
        }
      }
      if (offset >= pcm.length) {
        this.responseAudioMs += totalMs;
        this.afterAudio(token, index, turn, started + totalMs / speedup);
        return;
      }
      if (realtime) this.host.later(chunkMs / speedup, pump);
      else this.host.soon(pump);
    };
    pump();
  }

  blockingCallPending(): boolean {
    for (const name of this.pendingTools.values()) if (!this.checked.nonBlockingTools.has(name)) return true;
    return false;
  }

  private afterAudio(token: number, index: number, turn: Turn, playbackEndsAt: number): void {
    if (turn.toolCalls.length > 0) {
      const calls = turn.toolCalls.map((c) => ({ id: newCallId(), name: c.name, args: c.args }));
      for (const c of calls) {
        this.pendingTools.set(c.id, c.name);
        this.host.toolCalls.push(c);
      }
      this.phase = 'awaiting-tool';
      this.host.send({ toolCall: { functionCalls: calls } });
      for (const c of calls) this.host.emit('toolCall', c);
      if (this.checked.resumptionEnabled) this.host.send({ sessionResumptionUpdate: { resumable: false } });
      return;
    }
    this.host.send({ serverContent: { generationComplete: true } });
    this.phase = 'playing';
    const wait = this.ctx.timing.realtime ? Math.max(0, playbackEndsAt - Date.now()) : 0;
    const finish = (): void => {
      if (token !== this.turnToken || !this.host.live()) return;
      this.completeTurn(index, turn);
    };
    if (wait > 0) this.host.later(wait, finish);
    else finish();
  }

  private continueAfterTools(): void {
    const conv = this.conv;
    const next = this.ctx.scenario.turns[conv.position];
    if (next?.trigger === 'tool-response') {
      this.runTurn(conv.position);
      return;
    }
    // No scripted follow-up: the model acknowledges silently and ends its turn.
    const index = conv.position - 1;
    const turn = this.currentTurn!;
    this.host.send({ serverContent: { generationComplete: true } });
    this.completeTurn(index, turn);
  }

  private completeTurn(index: number, turn: Turn): void {
    const conv = this.conv;
    this.turnToken++;
    this.phase = 'idle';
    this.currentTurn = undefined;
    this.sendTurnComplete();
    this.host.emit('turnEnd', { index, id: turn.id ?? String(index), interrupted: false });
    if (turn.end) conv.ended = true;
    if (this.checked.resumptionEnabled) this.host.resumptionUpdate();
    if (turn.goAway && !conv.goAwaysSent.has(index)) {
      conv.goAwaysSent.add(index);
      this.host.goAway(turn.goAway.timeLeftMs);
    }
    if (this.callerTurnQueued) {
      this.callerTurnQueued = false;
      this.callerTurnEnded();
    }
  }

  private sendTurnComplete(): void {
    const conv = this.conv;
    const responseTokens = Math.round((this.responseAudioMs / 1000) * AUDIO_TOKENS_PER_S);
    const prompt = conv.contextTokens;
    conv.contextTokens += responseTokens;
    this.responseAudioMs = 0;
    this.host.send({
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

  interrupt(): void {
    if (this.phase === 'idle' || !this.host.live()) return;
    const conv = this.conv;
    const turn = this.currentTurn;
    this.turnToken++;
    this.host.send({ serverContent: { interrupted: true } });
    if (this.pendingTools.size > 0) {
      const ids = [...this.pendingTools.keys()];
      for (const id of ids) this.cancelledTools.add(id);
      this.pendingTools.clear();
      this.host.send({ toolCallCancellation: { ids } });
      // The scripted follow-ups of cancelled calls will never be triggered.
      while (this.ctx.scenario.turns[conv.position]?.trigger === 'tool-response') conv.position++;
    }
    this.phase = 'idle';
    this.currentTurn = undefined;
    this.sendTurnComplete();
    const index = conv.position - 1;
    this.host.emit('turnEnd', { index, id: turn?.id ?? String(index), interrupted: true });
    if (turn?.end) conv.ended = true;
    if (this.checked.resumptionEnabled) this.host.resumptionUpdate();
  }
}

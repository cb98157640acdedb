// One Gemini Live conversation per phone call, over as many connections as it takes. The call manager sees one
// continuous session (src/gemini/types.ts); connects, goAway rotations, resumption and fresh reconnects are hidden
// here. See ./README.md for the reconnect policy and what happens to pending tool calls.
import type { GoogleGenAI, Session } from '@google/genai';
import type { Config } from '../config.ts';
import { base64DecodeInto } from '../contract/base64.ts';
import { AGENT_INPUT_RATE } from '../contract/media.ts';
import { errorMessage, GatewayError } from '../errors.ts';
import { reconnectCounters, silentTurnCounters, uplinkCounters } from '../probes/counters.ts';
import { clientForCredential } from './client.ts';
import { describeGeminiClose } from './close-reasons.ts';
import { type CredentialLease, credentialPool } from './credentials.ts';
import { type ModelProfile, profileForModel } from './profiles.ts';
import {
  buildContextInstruction,
  buildLiveConnectConfig,
  buildResumeContext,
  DEFAULT_MAX_CONTEXT_CHARS,
  parseDurationMs,
} from './setup.ts';
import { attemptContext, type ConnectAttempt, type GuardedSocket } from './transport.ts';
import type {
  LiveSession,
  LiveSessionOptions,
  LiveSessionState,
  ReconnectKind,
  ToolCallRequest,
  ToolCallResponse,
} from './types.ts';
import { UplinkBuffer } from './uplink-buffer.ts';
import {
  type AudioCut,
  AudioInputWriter,
  clientTextTurn,
  decodeServerMessage,
  realtimeTextTurn,
  ServerMessageView,
  toolResponse,
  type WireFunctionCall,
  type WireFunctionResponse,
} from './wire.ts';

/** Knobs with production defaults; tests shrink the delays. Not part of the call manager's contract. */
export interface LiveSessionTuning {
  /** Use this client instead of the process-wide one. */
  client?: GoogleGenAI | undefined;
  /** Build (and cache) the client with this base URL: how tests reach an emulator. See client.ts. */
  baseUrl?: string | undefined;
  /** First retry delay; doubles per attempt (with jitter) up to backoffMaxMs. */
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  /** Fresh connection attempts per reconnect (after a failed resume) and for the first connection. */
  maxFreshAttempts?: number;
  /** A connection that lived less than this counts as a quick drop; quick drops in a row back off, then fail. */
  stableConnectionMs?: number;
  maxQuickDrops?: number;
  /** How long to wait for the old socket's close handshake before terminating it. */
  closeWaitMs?: number;
  /** After goAway, rotate at the latest this long before the announced end, even mid-turn or with tools pending. */
  goAwayMarginMs?: number;
  /** …and at the latest this long after the goAway (the service sometimes goes silent until it closes). */
  goAwayMaxWaitMs?: number;
  /**
   * Hold caller audio (buffered, bounded by prebufferMs) while a tool call is unanswered, and send it after the
   * response. Some models close the connection (1008 "The operation was aborted.") when audio streams during a
   * BLOCKING call; the price is that the caller cannot barge in while a tool runs. Default false.
   */
  holdAudioDuringToolCalls?: boolean;
  maxContextChars?: number;
  /** Uplink bytes queued in the socket beyond which audio chunks are dropped (a stalled connection). */
  maxSocketBufferedBytes?: number;
}

// Gemini Live takes PCM16 16 kHz and answers in PCM16 24 kHz: exactly the agent rates of the call contract.
const SAMPLES_PER_MS = AGENT_INPUT_RATE / 1000;
const UPLINK_MIME = `audio/pcm;rate=${AGENT_INPUT_RATE}`;

/**
 * Uplink scratch shared by every session of the process: a chunk is read out of a session's ring, encoded and handed
 * to ws (which copies it into the masked frame) in one synchronous step, so one buffer serves every call instead of
 * about 10 KiB each. Sized for the largest chunk the configuration allows (GEMINI_UPLINK_SILENCE_CHUNK_MS ≤ 1000).
 */
const UPLINK_MAX_SAMPLES = 1000 * SAMPLES_PER_MS;
const UPLINK_PCM = Buffer.allocUnsafeSlow(UPLINK_MAX_SAMPLES * 2);
const UPLINK_MESSAGE = new AudioInputWriter(UPLINK_MIME, UPLINK_PCM.length);
const MAX_KEPT_SCRATCH = 256 * 1024; // about 5 s of 24 kHz audio per message
/**
 * Downlink: base64 decodes straight into this aligned scratch (no per-message buffer, no copy), shared by every
 * session like the uplink's: the PCM handed to onAudio is valid only during the callback (LiveSessionEvents).
 */
let downScratch = Buffer.allocUnsafeSlow(8192);

/**
 * The downlink decode target for `need` bytes: the shared scratch, grown for ordinary chunks; a rare huge bundled
 * event gets a one-off buffer so the process does not keep it.
 */
function downTarget(need: number): Buffer {
  if (need <= downScratch.length) return downScratch;
  const target = Buffer.allocUnsafeSlow(need <= MAX_KEPT_SCRATCH ? nextPow2(need) : need);
  if (need <= MAX_KEPT_SCRATCH) downScratch = target;
  return target;
}
const NO_RETRY_CODES = new Set([1007, 1008]); // invalid argument / policy: retrying the same setup cannot help
const DEFAULT_SILENT_TURN_PEAK = 200;
/** A first-connect attempt gets at least this long, however small the budget is split. */
const MIN_ATTEMPT_MS = 2000;

interface Live {
  session: Session;
  socket: GuardedSocket;
  gen: number;
  connectedAt: number;
}

class ConnectError extends GatewayError {
  readonly closeCode: number | undefined;
  constructor(message: string, callId: string, closeCode: number | undefined, cause?: unknown) {
    super('GW_ERR_GEMINI', message, {
      callId,
      retryable: closeCode === undefined || !NO_RETRY_CODES.has(closeCode),
      cause,
      detail: closeCode === undefined ? undefined : { closeCode },
    });
    this.name = 'GeminiConnectError';
    this.closeCode = closeCode;
  }
}

export function createLiveSession(
  config: Config['gemini'],
  opts: LiveSessionOptions,
  tuning: LiveSessionTuning = {},
): LiveSession {
  const session = new GeminiLiveSession(config, opts, tuning);
  session.start();
  return session;
}

class GeminiLiveSession implements LiveSession {
  private readonly config: Config['gemini'];
  private readonly opts: LiveSessionOptions;
  private readonly callId: string;
  /** tuning.client (tests); otherwise each connection takes a client for a credential of the pool. */
  private readonly fixedClient: GoogleGenAI | undefined;
  private readonly baseUrl: string | undefined;
  /** What this model generation accepts (src/gemini/profiles.ts). */
  readonly profile: ModelProfile;
  private readonly t: Required<Omit<LiveSessionTuning, 'client' | 'baseUrl'>>;

  private _state: LiveSessionState = 'connecting';
  private closed = false;
  private closePromise: Promise<void> | undefined;
  private readonly readyPromise: Promise<void>;
  private resolveReady: () => void = () => {};
  private rejectReady: (err: Error) => void = () => {};

  /** Callbacks of any connection but the current one are ignored. */
  private gen = 0;
  private live: Live | undefined;
  private pendingAttempt: ConnectAttempt | undefined;
  private handle: string | undefined;
  /** Something happened (model turn, tool call) since the last resumable handle: resuming now would lose it. */
  private handleStale = false;
  private modelTurnActive = false;
  private readonly pendingTools = new Set<string>();
  /** Ids we made up because the server sent none (Vertex); never sent back. */
  private readonly syntheticIds = new Set<string>();
  private syntheticSeq = 0;
  private rotationRequested = false;
  private goAwayTimer: NodeJS.Timeout | undefined;
  private sleepTimer: NodeJS.Timeout | undefined;
  private wakeSleeper: (() => void) | undefined;
  private quickDrops = 0;
  private malformedFrames = 0;
  /** A client text turn waiting for the session to be ready. */
  private pendingText: string | undefined;

  // Silent-turn detection: what the current agent turn has had so far.
  private turnAudioPeak = -1; // -1: no audio part yet
  private turnHadTool = false;
  private turnInterrupted = false;
  private silentStreak = 0;
  private readonly silentPeak: number;

  // Uplink: everything goes through `pending`, then out in chunks of `chunkSamples` through the shared scratch
  // (UPLINK_PCM, UPLINK_MESSAGE).
  private readonly pending: UplinkBuffer;
  private readonly prebufferSamples: number;
  private readonly chunkSamples: number;
  private readonly chunkView: Int16Array;
  // Quiet uplink (config.uplinkSilence): a caller quiet for `hangoverSamples` is sent in `quietChunkSamples`
  // pieces, because every uplink message costs a TLS record and a socket write whatever its size
  // (docs/ARCHITECTURE.md, "Quiet uplink"). Speech, and the silence right after it that ends the caller's turn,
  // keep the short chunks; the first loud frame after a quiet stretch flushes what waits.
  private readonly quietChunkSamples: number;
  private readonly quietView: Int16Array;
  private readonly loudMeanSquare: number;
  private readonly hangoverSamples: number;
  /** Caller samples since the last loud one (saturates at hangoverSamples). */
  private sinceLoud = 0;
  /** Refilled by every server message (src/gemini/wire.ts). */
  private readonly inbound = new ServerMessageView();
  private socketDropped = 0;

  private reconnects = 0;
  private resumed = 0;
  private fresh = 0;

  constructor(config: Config['gemini'], opts: LiveSessionOptions, tuning: LiveSessionTuning) {
    this.config = config;
    this.opts = opts;
    this.callId = opts.callId;
    this.fixedClient = tuning.client;
    this.baseUrl = tuning.baseUrl;
    this.profile = profileForModel(config.model).profile;
    this.silentPeak = opts.silentTurnPeak ?? DEFAULT_SILENT_TURN_PEAK;
    this.t = {
      backoffBaseMs: tuning.backoffBaseMs ?? 250,
      backoffMaxMs: tuning.backoffMaxMs ?? 4000,
      maxFreshAttempts: tuning.maxFreshAttempts ?? 3,
      stableConnectionMs: tuning.stableConnectionMs ?? 10_000,
      maxQuickDrops: tuning.maxQuickDrops ?? 5,
      closeWaitMs: tuning.closeWaitMs ?? 1000,
      goAwayMarginMs: tuning.goAwayMarginMs ?? 5000,
      goAwayMaxWaitMs: tuning.goAwayMaxWaitMs ?? 10_000,
      holdAudioDuringToolCalls: tuning.holdAudioDuringToolCalls ?? false,
      maxContextChars: tuning.maxContextChars ?? DEFAULT_MAX_CONTEXT_CHARS,
      maxSocketBufferedBytes: tuning.maxSocketBufferedBytes ?? 512 * 1024,
    };
    this.chunkSamples = config.uplinkChunkMs * SAMPLES_PER_MS;
    this.prebufferSamples = config.prebufferMs * SAMPLES_PER_MS;
    const quiet = config.uplinkSilence;
    this.quietChunkSamples = Math.max(this.chunkSamples, quiet.chunkMs * SAMPLES_PER_MS);
    this.hangoverSamples = quiet.hangoverMs * SAMPLES_PER_MS;
    this.loudMeanSquare = (32768 * 10 ** (quiet.dbfs / 20)) ** 2;
    if (this.quietChunkSamples > UPLINK_MAX_SAMPLES)
      throw new RangeError(`uplink chunks above ${UPLINK_MAX_SAMPLES / SAMPLES_PER_MS} ms are not supported`);
    this.chunkView = new Int16Array(UPLINK_PCM.buffer, UPLINK_PCM.byteOffset, this.chunkSamples);
    this.quietView = new Int16Array(UPLINK_PCM.buffer, UPLINK_PCM.byteOffset, this.quietChunkSamples);
    // Room for a quiet chunk plus a frame, so quiet mode does not grow and shrink the ring every chunk.
    this.pending = new UplinkBuffer(Math.max(this.chunkSamples * 4, this.quietChunkSamples + this.chunkSamples));
    this.readyPromise = new Promise<void>((resolve, reject) => {
      this.resolveReady = resolve;
      this.rejectReady = reject;
    });
    // ready() is optional for the caller: a rejection nobody awaits must not become an unhandled rejection.
    this.readyPromise.catch(() => {});
  }

  get state(): LiveSessionState {
    return this._state;
  }

  ready(): Promise<void> {
    return this.readyPromise;
  }

  stats(): { reconnects: number; resumed: number; fresh: number; droppedAudioMs: number } {
    return {
      reconnects: this.reconnects,
      resumed: this.resumed,
      fresh: this.fresh,
      droppedAudioMs: Math.round((this.pending.dropped + this.socketDropped) / SAMPLES_PER_MS),
    };
  }

  resumptionHandle(): string | undefined {
    if (this.closed || this.handleStale || this.pendingTools.size > 0) return undefined;
    return this.handle;
  }

  start(): void {
    void this.connectFirst();
  }

  // ---------------------------------------------------------------- uplink (hot path)

  sendAudio(pcm16k: Int16Array): void {
    if (this.closed) return;
    let onset = false;
    if (this.quietChunkSamples > this.chunkSamples) {
      if (meanSquare(pcm16k) > this.loudMeanSquare) {
        onset = this.sinceLoud >= this.hangoverSamples;
        this.sinceLoud = 0;
      } else if (this.sinceLoud < this.hangoverSamples) {
        this.sinceLoud += pcm16k.length;
      }
    }
    if (this._state === 'ready' && !this.holdingAudio()) {
      // Never drops: the buffer holds less than one (quiet) chunk between frames.
      this.pending.push(pcm16k, Math.max(this.prebufferSamples, this.quietChunkSamples) + pcm16k.length);
      this.drainUplink(onset);
    } else {
      this.pending.push(pcm16k, this.prebufferSamples);
    }
  }

  private holdingAudio(): boolean {
    return this.t.holdAudioDuringToolCalls && this.pendingTools.size > 0;
  }

  /**
   * Sends what is buffered: whole chunks (quiet chunks while the caller is quiet), a backlog in pieces of up to one
   * quiet chunk (it is old audio: one message costs less than several and delays nothing), and with `flushAll` (the
   * caller just started to speak) everything, so the onset never waits for a chunk to fill.
   */
  private drainUplink(flushAll = false): void {
    if (this.holdingAudio()) return;
    const live = this.live;
    // Not open: the close event is on its way; keep the audio for the next connection instead of losing it.
    if (live === undefined || !live.socket.isOpen) return;
    const min = this.sinceLoud >= this.hangoverSamples ? this.quietChunkSamples : this.chunkSamples;
    while (this.pending.size >= min || (flushAll && this.pending.size > 0)) {
      const n = Math.min(this.pending.size, this.quietChunkSamples);
      this.pending.read(this.viewOf(n));
      if (live.socket.bufferedAmount > this.t.maxSocketBufferedBytes) {
        this.socketDropped += n;
        continue;
      }
      try {
        live.socket.sendText(UPLINK_MESSAGE.write(UPLINK_PCM, n * 2));
        if (min !== this.chunkSamples && n === min) uplinkCounters.quiet++;
        else uplinkCounters.chunk++;
      } catch (err) {
        // Only if the socket is not open; its close event drives the reconnect.
        this.opts.logger.debug({ err: errorMessage(err) }, 'gemini audio send failed');
        return;
      }
    }
  }

  /** The first `n` samples of the uplink scratch; the two sizes the stream uses are kept, others are rare. */
  private viewOf(n: number): Int16Array {
    if (n === this.chunkSamples) return this.chunkView;
    if (n === this.quietChunkSamples) return this.quietView;
    return new Int16Array(UPLINK_PCM.buffer, UPLINK_PCM.byteOffset, n);
  }

  // ---------------------------------------------------------------- client text turns

  sendText(text: string): void {
    if (this.closed || text.trim() === '') return;
    if (this._state === 'ready' && this.live !== undefined) this.sendTextNow(text);
    else this.pendingText = text;
  }

  /** One client turn, the way this generation takes it (profile `openingTurn`). */
  private sendTextNow(text: string): void {
    const live = this.live;
    if (live === undefined) {
      this.pendingText = text;
      return;
    }
    try {
      if (this.profile.openingTurn === 'client-content') {
        live.session.sendClientContent(clientTextTurn(text));
      } else {
        live.session.sendRealtimeInput(realtimeTextTurn(text));
      }
    } catch (err) {
      // Only if the socket is not open: keep it for the next connection.
      this.pendingText = text;
      this.opts.logger.debug({ err: errorMessage(err) }, 'gemini text turn not sent');
    }
  }

  // ---------------------------------------------------------------- tools

  sendToolResponses(responses: ToolCallResponse[]): void {
    if (this.closed) return;
    const live = this.live;
    const functionResponses: WireFunctionResponse[] = [];
    for (const r of responses) {
      if (!this.pendingTools.delete(r.id)) {
        // Cancelled by the server, or lost with a connection (we reported it cancelled): the session that would
        // accept this id is gone, and an unknown id gets the connection closed.
        this.opts.logger.warn({ toolCallId: r.id, tool: r.name }, 'gemini tool response for a call no longer pending');
        continue;
      }
      if (this.syntheticIds.delete(r.id)) functionResponses.push({ name: r.name, response: r.response });
      else functionResponses.push({ id: r.id, name: r.name, response: r.response });
    }
    if (functionResponses.length === 0 || live === undefined || this._state !== 'ready') return;
    try {
      live.session.sendToolResponse(toolResponse(functionResponses));
    } catch (err) {
      this.opts.logger.warn({ err: errorMessage(err) }, 'gemini tool response send failed');
    }
    this.drainUplink();
    this.maybeRotate();
  }

  // ---------------------------------------------------------------- connections

  /**
   * The first connection spends a budget (GEMINI_FIRST_CONNECT_BUDGET_MS), not attempts × the full timeout: a
   * service that accepts the socket but never completes setup (or a blackholed TCP connection) must reach the
   * caller's apology within seconds (issue 15 D7). Each attempt gets its share, at least MIN_ATTEMPT_MS, never past
   * the deadline; the call plays a filler prompt meanwhile (src/calls/call.ts).
   */
  private async connectFirst(): Promise<void> {
    let lastErr: unknown;
    const budget = this.opts.firstConnectBudgetMs;
    // Without a budget: every attempt gets the full per-attempt timeout (the previous behaviour).
    const deadline = budget === undefined ? Number.POSITIVE_INFINITY : Date.now() + budget;
    const share =
      budget === undefined
        ? this.config.connectTimeoutMs
        : Math.min(
            this.config.connectTimeoutMs,
            Math.max(MIN_ATTEMPT_MS, Math.floor(budget / this.t.maxFreshAttempts)),
          );
    for (let attempt = 1; attempt <= this.t.maxFreshAttempts; attempt++) {
      if (attempt > 1 && !(await this.sleep(Math.min(this.backoff(attempt - 2), deadline - Date.now())))) return;
      const left = deadline - Date.now();
      if (attempt > 1 && left < MIN_ATTEMPT_MS / 4) break;
      // A moved call resumes its session once; a refused handle will not work on the next attempt either, so
      // the next attempts start fresh with the conversation so far, as a fresh reconnect does.
      const handle = attempt === 1 ? this.opts.resumeHandle : undefined;
      const movedFresh = attempt > 1 && this.opts.resumeHandle !== undefined;
      const timeoutMs = Math.min(share, Math.max(left, 1));
      try {
        if (movedFresh && this.profile.context === 'system-instruction') {
          const context = this.contextTranscript();
          const prompt = buildContextInstruction(this.opts.systemPrompt, context, this.t.maxContextChars);
          await this.connectOnce(undefined, prompt, timeoutMs);
        } else {
          await this.connectOnce(handle, undefined, timeoutMs);
          if (movedFresh) this.sendContext(this.contextTranscript());
        }
        if (handle !== undefined) this.resumed++;
        this.resolveReady();
        this.afterConnected();
        return;
      } catch (err) {
        if (this.closed) return;
        lastErr = err;
        this.opts.logger.warn(
          { err: errorMessage(err), attempt, budgetLeftMs: deadline - Date.now() },
          'gemini connect failed',
        );
        // A refused resume handle (1007) is final for the handle only: the fresh attempt follows.
        if (err instanceof ConnectError && !err.retryable && handle === undefined) break;
      }
    }
    this.fatal(
      new GatewayError('GW_ERR_GEMINI', `could not connect to Gemini Live: ${errorMessage(lastErr)}`, {
        callId: this.callId,
        retryable: false,
        cause: lastErr,
      }),
    );
  }

  /**
   * Open one connection (resuming `handle` when given) and make it current. Rejects on failure or timeout.
   * `systemPrompt` replaces the call's (a fresh reconnect with its context in the instruction).
   */
  private async connectOnce(
    handle: string | undefined,
    systemPrompt?: string,
    timeoutMs: number = this.config.connectTimeoutMs,
  ): Promise<void> {
    // Several credentials (src/gemini/credentials.ts): this connection holds one until it ends; a quota close
    // cools it down, so the retry or reconnect goes to the next.
    let lease: CredentialLease | undefined;
    let client = this.fixedClient;
    if (client === undefined) {
      try {
        lease = credentialPool(this.config).acquire();
      } catch (err) {
        throw new ConnectError(errorMessage(err), this.callId, undefined, err);
      }
      client = clientForCredential(this.config, lease.credential, { baseUrl: this.baseUrl });
    }
    const gen = ++this.gen;
    const attempt: ConnectAttempt = {
      socket: undefined,
      aborted: false,
      closeCode: undefined,
      closeReason: undefined,
      onMalformed: () => this.onMalformed(gen),
      cancel: () => {},
    };
    this.pendingAttempt = attempt;
    let established = false;
    const connecting = attemptContext.run(attempt, () =>
      client.live.connect({
        model: this.config.model,
        config: buildLiveConnectConfig(this.config, {
          systemPrompt: systemPrompt ?? this.opts.systemPrompt,
          tools: this.opts.tools,
          resumeHandle: handle,
        }),
        callbacks: {
          // Frames that arrive before connect() resolves (the SDK queues them) come here; later ones are direct.
          onmessage: (msg) => this.onServerMessage(gen, msg),
          onerror: () => {},
          onclose: (e: unknown) => {
            const { code, reason } = (e ?? {}) as { code?: unknown; reason?: unknown };
            const c = typeof code === 'number' ? code : undefined;
            const r = typeof reason === 'string' ? reason : undefined;
            lease?.end(c, r);
            if (c === 1007 || c === 1008 || c === 1011) {
              this.opts.logger.warn(
                {
                  code: c,
                  reason: r,
                  credential: lease?.credential.label,
                  explanation: describeGeminiClose(c, r ?? ''),
                },
                'gemini closed the connection',
              );
            }
            if (established) this.onConnectionClosed(gen, e);
          },
        },
      }),
    );
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      const abort = (message: string): void => {
        clearTimeout(timer);
        attempt.aborted = true;
        attempt.socket?.terminate();
        reject(new ConnectError(message, this.callId, undefined));
      };
      timer = setTimeout(() => abort(`no setupComplete within ${timeoutMs} ms`), timeoutMs);
      // close() must not wait for the SDK (Vertex auth may still be pending, with no socket to terminate yet).
      attempt.cancel = () => abort('session closed while connecting');
    });
    // If the timeout wins, the SDK's promise settles later: it must not leak a session or an unhandled rejection.
    connecting.then(
      (s) => {
        if (attempt.aborted || this.closed || gen !== this.gen) s.conn.close();
      },
      () => {},
    );
    let session: Session;
    try {
      session = await Promise.race([connecting, timeout]);
    } catch (err) {
      attempt.aborted = true;
      attempt.socket?.terminate();
      lease?.end(attempt.closeCode, attempt.closeReason);
      if (err instanceof ConnectError) throw err;
      throw new ConnectError(errorMessage(err), this.callId, attempt.closeCode, err);
    } finally {
      clearTimeout(timer);
      if (this.pendingAttempt === attempt) this.pendingAttempt = undefined;
    }
    const socket = attempt.socket;
    if (this.closed || gen !== this.gen || socket === undefined) {
      attempt.aborted = true;
      socket?.terminate();
      throw new ConnectError('session closed while connecting', this.callId, undefined);
    }
    socket.setDirect((msg, cut) => this.onServerMessage(gen, msg, cut));
    established = true;
    // A close that raced the resolution (socket already gone) would otherwise go unnoticed.
    if (!socket.isOpen) {
      established = false;
      throw new ConnectError('connection closed right after setup', this.callId, attempt.closeCode);
    }
    this.live = { session, socket, gen, connectedAt: Date.now() };
  }

  private afterConnected(): void {
    this._state = 'ready';
    const text = this.pendingText;
    this.pendingText = undefined;
    if (text !== undefined) this.sendTextNow(text);
    this.drainUplink();
    // A goAway may already have come with the first frames of this connection.
    this.maybeRotate();
  }

  private onConnectionClosed(gen: number, e: unknown): void {
    if (this.closed || gen !== this.gen) return;
    const code = (e as { code?: unknown } | undefined)?.code;
    const reason = (e as { reason?: unknown } | undefined)?.reason;
    this.opts.logger.warn({ code, reason }, 'gemini connection closed unexpectedly');
    void this.reconnect(`closed:${typeof code === 'number' ? code : 'unknown'}`);
  }

  /** Replace the current connection: resume with the latest handle, else (or if refused) fresh with context. */
  private async reconnect(reason: string): Promise<void> {
    if (this.closed || this._state === 'reconnecting' || this._state === 'connecting') return;
    this._state = 'reconnecting';
    const old = this.live;
    this.live = undefined;
    this.gen++; // the old connection's callbacks are ignored from now on
    this.clearGoAway();
    this.abandonInFlight();
    try {
      // Peers found the service refuses a resume while the previous socket of the session is still open.
      if (old !== undefined) await old.socket.closeAndWait(this.t.closeWaitMs);
      if (this.closed) return;

      // A goAway is the service's planned rotation, however soon it comes: only failures count towards a storm.
      if (!reason.startsWith('goaway')) {
        const lived = old === undefined ? 0 : Date.now() - old.connectedAt;
        this.quickDrops = lived >= this.t.stableConnectionMs ? 0 : this.quickDrops + 1;
      }
      if (this.quickDrops > this.t.maxQuickDrops) {
        throw new GatewayError('GW_ERR_GEMINI', `connection keeps dropping (${this.quickDrops} in a row)`, {
          callId: this.callId,
        });
      }
      if (this.quickDrops > 1 && !(await this.sleep(this.backoff(this.quickDrops - 2)))) return;

      let attempt = 0;
      let lastErr: unknown;
      const handle = this.handle;
      if (handle !== undefined) {
        attempt++;
        try {
          await this.connectOnce(handle);
          this.completeReconnect('resume', reason, attempt);
          return;
        } catch (err) {
          if (this.closed) return;
          lastErr = err;
          // A refused handle will not work later either; new handles come with the fresh session.
          if (this.handle === handle) this.handle = undefined;
          this.opts.logger.warn({ err: errorMessage(err), reason }, 'gemini resume failed, reconnecting fresh');
        }
      }
      for (let i = 0; i < this.t.maxFreshAttempts; i++) {
        attempt++;
        if ((i > 0 || handle !== undefined) && !(await this.sleep(this.backoff(i)))) return;
        try {
          const context = this.contextTranscript();
          if (this.profile.context === 'system-instruction') {
            await this.connectOnce(
              undefined,
              buildContextInstruction(this.opts.systemPrompt, context, this.t.maxContextChars),
            );
          } else {
            await this.connectOnce(undefined);
            this.sendContext(context);
          }
          this.completeReconnect('fresh', reason, attempt);
          return;
        } catch (err) {
          if (this.closed) return;
          lastErr = err;
          this.opts.logger.warn({ err: errorMessage(err), attempt, reason }, 'gemini fresh reconnect failed');
          if (err instanceof ConnectError && !err.retryable) break;
        }
      }
      throw new GatewayError('GW_ERR_GEMINI', `reconnect failed: ${errorMessage(lastErr)}`, {
        callId: this.callId,
        cause: lastErr,
        detail: { reason, attempts: attempt },
      });
    } catch (err) {
      if (this.closed) return;
      this.fatal(err instanceof Error ? err : new Error(String(err)));
    }
  }

  private completeReconnect(kind: ReconnectKind, reason: string, attempt: number): void {
    this.reconnects++;
    if (kind === 'resume') this.resumed++;
    else this.fresh++;
    reconnectCounters[kind]++;
    this.opts.logger.info(
      { kind, reason, attempt, reconnects: this.reconnects, bufferedMs: this.pending.size / SAMPLES_PER_MS },
      'gemini reconnected',
    );
    this.emit(() => this.opts.events.onReconnect({ kind, reason, attempt }));
    if (this.closed) return;
    this.afterConnected();
  }

  private contextTranscript(): string {
    try {
      return this.opts.transcriptForContext();
    } catch (err) {
      this.opts.logger.warn({ err: errorMessage(err) }, 'transcriptForContext failed; continuing without context');
      return '';
    }
  }

  /** Profile `context: 'client-content'`: the conversation so far as a user turn the model does not answer. */
  private sendContext(transcript: string): void {
    const turns = buildResumeContext(transcript, this.t.maxContextChars);
    if (turns === undefined || this.live === undefined) return;
    this.live.session.sendClientContent({ turns, turnComplete: false });
  }

  /**
   * What was in flight on a connection that is going away. Its tool calls die with it (the next session never saw
   * them: a resumed one restarts from a handle taken before the call, since handles are not resumable while a
   * call runs), so the call manager hears they were cancelled; a cut agent turn is closed for it.
   */
  private abandonInFlight(): void {
    if (this.pendingTools.size > 0) {
      const ids = [...this.pendingTools];
      this.pendingTools.clear();
      this.syntheticIds.clear();
      this.opts.logger.warn({ toolCallIds: ids }, 'gemini tool calls lost with the connection');
      this.emit(() => this.opts.events.onToolCallCancellation(ids));
    }
    if (this.modelTurnActive) {
      this.modelTurnActive = false;
      this.emit(() => this.opts.events.onTurnComplete());
    }
    this.resetTurn();
    this.handleStale = false;
  }

  // ---------------------------------------------------------------- goAway

  private onGoAway(timeLeft: unknown): void {
    const leftMs = parseDurationMs(timeLeft) ?? 0;
    this.opts.logger.info({ timeLeftMs: leftMs }, 'gemini goAway');
    if (this.rotationRequested) return;
    this.rotationRequested = true;
    this.goAwayTimer = setTimeout(
      () => {
        this.goAwayTimer = undefined;
        void this.reconnect('goaway-deadline');
      },
      Math.max(0, Math.min(leftMs - this.t.goAwayMarginMs, this.t.goAwayMaxWaitMs)),
    );
    this.maybeRotate();
  }

  /** After goAway, switch at the first quiet moment: no agent turn playing, no tool pending, a current handle. */
  private maybeRotate(): void {
    if (!this.rotationRequested || this._state !== 'ready') return;
    if (this.modelTurnActive || this.pendingTools.size > 0) return;
    if (this.handle !== undefined && this.handleStale) return;
    void this.reconnect('goaway');
  }

  private clearGoAway(): void {
    this.rotationRequested = false;
    if (this.goAwayTimer !== undefined) clearTimeout(this.goAwayTimer);
    this.goAwayTimer = undefined;
  }

  // ---------------------------------------------------------------- downlink

  private onServerMessage(gen: number, msg: unknown, cut?: AudioCut): void {
    if (this.closed || gen !== this.gen) return;
    try {
      this.dispatch(msg, cut);
    } catch (err) {
      // A throwing event handler must not take the process down (the SDK would turn it into an unhandled rejection:
      // the upstream quirk described at the top of transport.ts, no upstream issue filed).
      this.opts.logger.error({ err: errorMessage(err) }, 'gemini message handling failed');
    }
  }

  /** Acts on one decoded server message, in the order the fields take effect (see src/gemini/wire.ts). */
  private dispatch(msg: unknown, cut?: AudioCut): void {
    const m = this.inbound;
    if (!decodeServerMessage(msg, m, cut)) {
      this.onMalformed(this.gen);
      return;
    }
    // Audio cut out of the parse (wire.ts parseServerFrame) is decoded from the frame bytes before anything acts on
    // the message. The parse is redone whole when the cut was not an audio part's data, or its base64 is not
    // canonical (then the frame means what it would have meant parsed whole, malformed included).
    let cutPcm: Int16Array | undefined;
    if (cut !== undefined && cut.start >= 0) {
      cutPcm = m.cutIndex >= 0 ? this.decodeCutAudio(cut) : undefined;
      if (cutPcm === undefined) {
        let whole: unknown;
        try {
          whole = JSON.parse(cut.bytes.toString());
        } catch {
          this.onMalformed(this.gen);
          return;
        }
        if (!decodeServerMessage(whole, m)) {
          this.onMalformed(this.gen);
          return;
        }
      }
    }
    const events = this.opts.events;
    if (m.interrupted) {
      this.modelTurnActive = false;
      this.turnInterrupted = true;
      events.onInterrupted();
      if (this.closed) return;
    }
    for (let i = 0; i < m.audioCount; i++) {
      this.modelTurnActive = true;
      this.handleStale = true;
      const pcm = i === m.cutIndex && cutPcm !== undefined ? cutPcm : this.decodeAudio(m.audio[i]!);
      if (this.turnAudioPeak <= this.silentPeak) this.turnAudioPeak = Math.max(this.turnAudioPeak, peakOf(pcm));
      if (pcm.length > 0) events.onAudio(pcm);
      if (this.closed) return;
    }
    if (m.inputText !== undefined) {
      events.onInputTranscript(m.inputText);
      if (this.closed) return;
    }
    if (m.outputText !== undefined) {
      events.onOutputTranscript(m.outputText);
      if (this.closed) return;
    }
    if (m.usage !== undefined) {
      events.onUsage(m.usage);
      if (this.closed) return;
    }
    if (m.hasToolCall) this.turnHadTool = true;
    if (m.turnComplete) {
      this.modelTurnActive = false;
      events.onTurnComplete();
      if (this.closed) return;
      this.checkSilentTurn();
      if (this.closed) return;
    }
    if (m.functionCalls.length > 0) {
      const calls = this.toToolCalls(m.functionCalls);
      this.handleStale = true;
      events.onToolCall(calls);
      if (this.closed) return;
    }
    if (m.cancelledIds.length > 0) {
      const ids: string[] = [];
      for (const id of m.cancelledIds) {
        if (this.pendingTools.delete(id)) {
          this.syntheticIds.delete(id);
          ids.push(id);
        }
      }
      if (ids.length > 0) {
        events.onToolCallCancellation(ids);
        if (this.closed) return;
        this.drainUplink();
      }
    }
    if (m.resumptionHandle !== undefined) {
      this.handle = m.resumptionHandle;
      this.handleStale = false;
    }
    if (m.goAway) this.onGoAway(m.goAwayTimeLeft);
    else this.maybeRotate();
  }

  /**
   * A turn that completes with no audio, or with audio that never rises above the silent-turn peak, reached the
   * caller as silence (near-zero audio: google-gemini/gemini-live-api-examples#40; empty turns:
   * googleapis/python-genai#2117). Turns with a tool call or cut by the caller are not judged. The first one is
   * answered by re-prompting the model once; a second in a row gives up (onFatal: the call apologises and hangs up).
   */
  private checkSilentTurn(): void {
    const peak = this.turnAudioPeak;
    const judged = !this.turnHadTool && !this.turnInterrupted;
    this.resetTurn();
    if (!judged) return;
    if (peak > this.silentPeak) {
      this.silentStreak = 0;
      return;
    }
    silentTurnCounters.silentTurns++;
    if (this.opts.repromptText === undefined) {
      // No recovery configured (a session used outside a call): only counted.
      this.opts.logger.debug({ peak: Math.max(peak, 0) }, 'gemini agent turn was silent');
      return;
    }
    this.silentStreak++;
    const retry = this.silentStreak === 1;
    const shownPeak = Math.max(peak, 0);
    this.opts.logger.warn(
      { peak: shownPeak, audio: peak >= 0, streak: this.silentStreak, action: retry ? 'reprompt' : 'give-up' },
      'gemini agent turn was silent',
    );
    const onSilent = this.opts.events.onSilentTurn;
    if (retry) {
      silentTurnCounters.reprompted++;
      if (onSilent) this.emit(() => onSilent({ action: 'reprompt', peak: shownPeak }));
      if (this.closed) return;
      this.sendTextNow(this.opts.repromptText!);
      return;
    }
    silentTurnCounters.gaveUp++;
    if (onSilent) this.emit(() => onSilent({ action: 'give-up', peak: shownPeak }));
    this.fatal(
      new GatewayError('GW_ERR_GEMINI', 'the agent answered with silence twice in a row', {
        callId: this.callId,
        retryable: false,
        detail: { peak: shownPeak },
      }),
    );
  }

  private resetTurn(): void {
    this.turnAudioPeak = -1;
    this.turnHadTool = false;
    this.turnInterrupted = false;
  }

  /**
   * The cut-out base64 (canonical, padded) → PCM16 in the shared scratch buffer, straight from the frame bytes;
   * undefined when it is not canonical base64 (the caller then parses the frame whole, as before the cut).
   */
  private decodeCutAudio(cut: AudioCut): Int16Array | undefined {
    const target = downTarget(((cut.end - cut.start) * 3) >>> 2);
    const bytes = base64DecodeInto(cut.bytes, cut.start, cut.end, target);
    if (bytes < 0) return undefined;
    return new Int16Array(target.buffer, target.byteOffset, bytes >>> 1);
  }

  /** Base64 → PCM16 in the shared scratch buffer: one decode, no allocation but the view, always aligned. */
  private decodeAudio(b64: string): Int16Array {
    const need = (b64.length * 3) >>> 2;
    const target = downTarget(need);
    const bytes = target.write(b64, 0, need, 'base64');
    return new Int16Array(target.buffer, target.byteOffset, bytes >>> 1);
  }

  /** Gives every call an id (a synthetic one when the server sent none) and marks it pending. */
  private toToolCalls(wire: readonly WireFunctionCall[]): ToolCallRequest[] {
    const calls: ToolCallRequest[] = [];
    for (const fc of wire) {
      let id = fc.id;
      if (id === undefined) {
        id = `synthetic-${++this.syntheticSeq}`;
        this.syntheticIds.add(id);
      }
      this.pendingTools.add(id);
      calls.push({ id, name: fc.name, args: fc.args });
    }
    return calls;
  }

  private onMalformed(gen: number): void {
    if (gen !== this.gen) return;
    this.malformedFrames++;
    // Bounded logging: a peer spewing garbage must not flood the logs.
    if (this.malformedFrames === 1 || this.malformedFrames % 1000 === 0) {
      this.opts.logger.warn({ malformedFrames: this.malformedFrames }, 'gemini sent a malformed frame; dropped');
    }
  }

  // ---------------------------------------------------------------- lifecycle

  private emit(fn: () => void): void {
    if (this.closed) return;
    try {
      fn();
    } catch (err) {
      this.opts.logger.error({ err: errorMessage(err) }, 'gemini session event handler threw');
    }
  }

  private fatal(err: Error): void {
    if (this.closed) return;
    this.opts.logger.error({ err: errorMessage(err) }, 'gemini session failed');
    const onFatal = this.opts.events.onFatal;
    void this.shutdown(err);
    try {
      onFatal(err);
    } catch (e) {
      this.opts.logger.error({ err: errorMessage(e) }, 'onFatal handler threw');
    }
  }

  close(): Promise<void> {
    this.closePromise ??= this.shutdown(
      new GatewayError('GW_ERR_GEMINI_CLOSED', 'session closed before it was ready', { callId: this.callId }),
    );
    return this.closePromise;
  }

  private shutdown(reason: Error): Promise<void> {
    if (this.closePromise !== undefined) return this.closePromise;
    this.closed = true;
    this._state = 'closed';
    this.gen++;
    this.clearGoAway();
    if (this.sleepTimer !== undefined) clearTimeout(this.sleepTimer);
    this.sleepTimer = undefined;
    this.wakeSleeper?.();
    this.rejectReady(reason);
    this.pendingAttempt?.cancel();
    this.pending.clear();
    this.pendingTools.clear();
    const live = this.live;
    this.live = undefined;
    this.closePromise = live === undefined ? Promise.resolve() : live.socket.closeAndWait(this.t.closeWaitMs);
    return this.closePromise;
  }

  private backoff(n: number): number {
    const base = Math.min(this.t.backoffMaxMs, this.t.backoffBaseMs * 2 ** n);
    return Math.round(base * (0.5 + Math.random() * 0.5));
  }

  /** Resolves true after `ms`, or false at once when the session closes meanwhile. */
  private sleep(ms: number): Promise<boolean> {
    if (this.closed) return Promise.resolve(false);
    return new Promise<boolean>((resolve) => {
      this.wakeSleeper = () => {
        this.wakeSleeper = undefined;
        resolve(false);
      };
      this.sleepTimer = setTimeout(() => {
        this.sleepTimer = undefined;
        this.wakeSleeper = undefined;
        resolve(!this.closed);
      }, ms);
    });
  }
}

/** Largest absolute sample value (a plain loop: this runs on every agent audio chunk until the turn is audible). */
function peakOf(pcm: Int16Array): number {
  let peak = 0;
  for (let i = 0; i < pcm.length; i++) {
    const v = pcm[i]!;
    const a = v < 0 ? -v : v;
    if (a > peak) peak = a;
  }
  return peak;
}

function nextPow2(n: number): number {
  let size = 8192;
  while (size < n) size *= 2;
  return size;
}

/** Mean of the squared samples (0 for an empty frame). */
function meanSquare(pcm: Int16Array): number {
  const n = pcm.length;
  if (n === 0) return 0;
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const v = pcm[i]!;
    sum += v * v;
  }
  return sum / n;
}

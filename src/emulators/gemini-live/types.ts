// Public types of the Gemini Live emulator (re-exported by index.ts).
import type { SilentTurnAudio } from './faults.ts';
import type { Scenario } from './scenario.ts';
import type { SpeechMode } from './speech.ts';

export interface GeminiLiveEmulatorOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0 (ephemeral). */
  port?: number;
  /**
   * Serve wss:// (and https:// for the 404s) with this PEM key and certificate, as the real service does; the
   * client must trust the certificate's CA (NODE_EXTRA_CA_CERTS). Default: plain ws://.
   */
  tls?: { key: string; cert: string };
  /**
   * If set, `?key=` (or `?access_token=`, or `x-goog-api-key`) must match; a missing or wrong key gets close 1008
   * "Method doesn't allow unregistered callers…" (the "reject key" mode).
   */
  apiKey?: string;
  /** Scenario object, or path to a JSON scenario file. */
  scenario: Scenario | string;
  /**
   * Other scenarios, chosen per conversation by the client's setup: the first whose `systemInstructionIncludes`
   * appears in the setup's systemInstruction plays; `scenario` plays when none matches. One emulator can then serve
   * an inbound and an outbound agent (`npm run dev`). A resumed conversation keeps the scenario it started with.
   */
  scenarioRoutes?: ReadonlyArray<{ systemInstructionIncludes: string; scenario: Scenario | string }>;
  timing?: {
    /** Pace audio against the wall clock (default true); false sends every chunk as fast as the socket takes it. */
    realtime?: boolean;
    /** Audio per `inlineData` chunk, default 40 ms. */
    chunkMs?: number;
    /** Playback speed factor for pacing and "thinking" delays (default 1). */
    speedup?: number;
    /** How far ahead of real time the burst may run, like the real service (default 300 ms of audio). */
    leadMs?: number;
  };
  vad?: {
    /** Default -40 dBFS (±6 dB for START_SENSITIVITY_LOW/HIGH in the setup). */
    thresholdDbfs?: number;
    /** Default: setup's prefixPaddingMs, else 100 ms. */
    minSpeechMs?: number;
    /** Default: setup's silenceDurationMs, else 500 ms. */
    endSilenceMs?: number;
  };
  faults?: {
    /** Every resume attempt is closed with 1007, so the client must fall back to a fresh session. */
    refuseResumption?: boolean;
    /** The next N connections are closed with 1011 "The service is currently unavailable." right after the upgrade. */
    refuseConnections?: number;
    /** Drop (TCP reset, client sees 1006) each of the first `dropCount` set-up connections this long after it opened. */
    dropAfterMs?: number;
    /** How many connections dropAfterMs applies to (default 1). */
    dropCount?: number;
    /** Delay before setupComplete. */
    setupDelayMs?: number;
    /** Close 1008 "The operation was aborted." when caller audio arrives while a tool call is unanswered. */
    abortOnAudioDuringToolCall?: boolean;
    /** After goAway, send nothing more until the close (the service has been seen going quiet). */
    silentAfterGoAway?: boolean;
    /**
     * The next N agent turns (across sessions; `true` = all) come out "silent": generationComplete + turnComplete
     * with no audio, or with near-zero audio (`silentTurnAudio`), no transcript and no tool calls. The scenario does
     * not move on, so a re-prompt gets the turn again.
     */
    silentTurns?: boolean | number;
    /** `none` (default): no audio at all; `near-zero`: the turn's length of audio within ±2 LSB (about -80 dBFS). */
    silentTurnAudio?: SilentTurnAudio;
    /** Accept the socket and the setup, never send setupComplete: the first N connections (`true` = all). */
    setupNeverCompletes?: boolean | number;
    /** Connections after the first N that reach the emulator are closed with the 1011 quota close. */
    quotaAfterSessions?: number;
  };
  /**
   * Serve only this model (CLI `--model`): its profile decides what the session accepts; a setup naming another
   * model gets 1008. Default: every model of the profile table (`KNOWN_MODELS`).
   */
  model?: string;
  /** Override the scenario's speech mode (tests use 'synthetic' for speed and determinism). */
  speech?: SpeechMode;
  /**
   * Model ids accepted in setup (without `models/`); 'any' accepts everything. Default: the known Live models. An id
   * outside the profile table gets the strictest profile (3.1 Flash Live's).
   */
  models?: readonly string[] | 'any';
  limits?: {
    /** Connection lifetime: goAway, then close 1011 "Deadline expired…". Default 10 min; 0 = unlimited. */
    connectionMs?: number;
    /** goAway this long before the connection's end (default 60 s). */
    goAwayLeadMs?: number;
    /**
     * Concurrent open sessions per API key (default unlimited); one more gets the 1011 quota close. The real
     * service's behaviour here is not documented (see the README).
     */
    maxSessionsPerKey?: number;
  };
  resumption?: {
    /** How long a handle stays valid (default 2 h). */
    handleTtlMs?: number;
    /** Reject (1011) a resume while the conversation's previous socket is still open (default true). */
    rejectWhileConnected?: boolean;
    /** Period of sessionResumptionUpdate messages besides the ones after each turn (default 10 s; 0 = off). */
    updateEveryMs?: number;
  };
  /** Server frames are JSON in binary frames like the real service; 'text' exercises the other client path. */
  serverFrames?: 'binary' | 'text';
  /** Close 1011 (deadline) if no setup arrives in this time (default 10 s). */
  setupTimeoutMs?: number;
  /**
   * Keep the per-session `received`/`sent` logs (default true; bounded to 5000 entries, of which at most 100 audio
   * frames each way). Turn off for load tests.
   */
  record?: boolean;
}

export interface ReceivedMessage {
  /** ms since the connection opened. */
  at: number;
  /** The message; audio payloads are replaced by `{ mimeType, bytes }`. */
  msg: Record<string, unknown>;
}

export interface EmulatedToolCall {
  id: string;
  name: string;
  args: Record<string, unknown>;
}

export type EmulatedSessionEvent =
  | 'message'
  | 'sent'
  | 'turnStart'
  | 'turnEnd'
  | 'speechStart'
  | 'speechEnd'
  | 'toolCall'
  | 'toolResponse'
  | 'close';

export interface EmulatedSession {
  readonly id: string;
  /** Position among all connections to this emulator (0-based). */
  readonly index: number;
  /** Conversation id; a resumed connection shares it with the connection it resumed. */
  readonly conversationId: string | undefined;
  readonly setup: Record<string, unknown> | undefined;
  readonly resumedFrom: string | undefined;
  readonly received: ReceivedMessage[];
  /** What the emulator sent, audio summarised the same way. */
  readonly sent: ReceivedMessage[];
  readonly audioInMs: number;
  readonly toolCalls: EmulatedToolCall[];
  readonly toolResponses: Array<{ id: string; name: string; response: unknown }>;
  /** Ids of the scenario turns started on this connection, in order (index when a turn has no id). */
  readonly turns: string[];
  /** Resumption handles issued on this connection, oldest first. */
  readonly handles: string[];
  readonly closed: Promise<{ code: number; reason: string }>;
  /** API version from the request path (v1, v1beta, v1alpha). */
  readonly apiVersion: string;
  goAway(timeLeftMs: number): void;
  interrupt(): void;
  /** Close now with the 1011 quota reason, as the service does mid-session (kazunori279/interpretab#13). */
  quotaExceeded(): void;
  /** No code: abrupt TCP drop (client sees 1006). With a code: a close frame with the service's reason for it. */
  drop(code?: number): void;
  on(event: EmulatedSessionEvent, listener: (...args: unknown[]) => void): this;
  once(event: EmulatedSessionEvent, listener: (...args: unknown[]) => void): this;
  off(event: EmulatedSessionEvent, listener: (...args: unknown[]) => void): this;
}

export interface GeminiLiveEmulator {
  readonly baseUrl: string;
  readonly port: number;
  readonly sessions: EmulatedSession[];
  on(event: 'session', listener: (s: EmulatedSession) => void): this;
  off(event: 'session', listener: (s: EmulatedSession) => void): this;
  /** Resolves with the next session (or the existing one with that index). */
  nextSession(index?: number): Promise<EmulatedSession>;
  /** While on, every new connection gets the 1011 quota close (default off). */
  setQuotaExceeded(on: boolean): void;
  /** Makes the next `n` agent turns silent (see `faults.silentTurns`). */
  silenceTurns(n: number): void;
  close(): Promise<void>;
}

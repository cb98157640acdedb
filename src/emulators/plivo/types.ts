// Public types of the Plivo emulator. Other parts of the project (tests, bench, demo) code against these names.

export interface PlivoEmulatorOptions {
  authId: string;
  authToken: string;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0 (ephemeral). */
  port?: number;
  /** How each outbound destination behaves; default: answer. */
  outbound?: (to: string) => OutboundBehaviour;
  faults?: {
    /** Fail this many REST requests (after auth) before behaving normally. */
    failFirst?: number;
    failStatus?: 429 | 500 | 503;
    /** `POST Call/` beyond this many per rolling second answers 429. */
    callsPerSecond?: number;
  };
  /** Media sent while a call has no audio queued: continuous silence like a real phone (default) or nothing. */
  idleMedia?: 'silence' | 'none';
  /** How outbound calls (from `POST Call/`) sign their webhooks (default valid). */
  outboundSignature?: 'valid' | 'invalid' | 'none';
  /** Keep what the gateway plays on outbound calls (default true; false for load runs). */
  recordPlayed?: boolean;
  /** Answer/hangup/callback fetch timeout (default 10 s). */
  webhookTimeoutMs?: number;
  /**
   * Scheme used in the URL that signs the stream WebSocket upgrade. Plivo's own stream SDK validates against the
   * http(s) form of the URL, so that is the default; 'ws' signs the ws(s):// URL as written in the XML.
   */
  wsSignatureScheme?: 'http' | 'ws';
}

export type OutboundBehaviour =
  | { kind: 'answer'; audio?: AudioSource; ringMs?: number; hangupAfterMs?: number }
  | { kind: 'machine'; audio?: AudioSource; ringMs?: number; detectMs?: number }
  | { kind: 'busy' | 'no-answer' | 'failed'; ringMs?: number };

export type AudioSource =
  | { kind: 'wav'; path: string }
  | { kind: 'pcm'; samples: Int16Array; sampleRate: number }
  /** amplitude 0..1 of full scale (default 0.3). */
  | { kind: 'tone'; hz: number; ms: number; amplitude?: number }
  | { kind: 'silence'; ms: number }
  /** White noise, deterministic for a given seed. */
  | { kind: 'noise'; ms: number; amplitude?: number; seed?: number }
  | { kind: 'sequence'; parts: AudioSource[] };

export interface RecordedRequest {
  method: string;
  /** Path without query string, e.g. /v1/Account/MA123/Call/ */
  path: string;
  /** Query and body parameters merged (body wins). Multi-valued keys keep the last value. */
  params: Record<string, string>;
  /** Date.now() */
  at: number;
  /** HTTP status the emulator answered. */
  status: number;
}

export interface SentMessage {
  src: string;
  dst: string;
  text: string;
  uuid: string;
}

export interface Application {
  app_id: string;
  app_name: string;
  answer_url: string;
  answer_method: string;
  hangup_url: string;
  hangup_method: string;
  [key: string]: string;
}

export interface ReceivedEvent {
  event: string;
  /** performance.now() when the message arrived. */
  at: number;
  msg: unknown;
}

/** One accepted playAudio, placed on the playback timeline. */
export interface PlayedChunk {
  /** performance.now() on receipt. */
  at: number;
  /** When it starts / ends playing (performance.now() ms), queued behind earlier audio. */
  startAt: number;
  endAt: number;
  /** Raw payload bytes (μ-law or L16 LE as the stream's format). Not kept at all when recordPlayed is false. */
  data: Uint8Array;
  /** Bytes actually played (less than data.length when clearAudio cut it). */
  playedBytes: number;
}

export interface InboundCallOptions {
  /** Defaults to the answer_url of the Application attached to `to` through `POST Number/{to}/`. */
  answerUrl?: string;
  answerMethod?: 'GET' | 'POST';
  hangupUrl?: string;
  from: string;
  to: string;
  callUuid?: string;
  /** Played after `start`; afterwards the call sends idle media (see idleMedia). */
  audio?: AudioSource;
  signature?: 'valid' | 'invalid' | 'none';
  /** Keep played audio (default true). */
  recordPlayed?: boolean;
  idleMedia?: 'silence' | 'none';
}

export type CallStatus =
  | 'queued'
  | 'ringing'
  | 'in-progress'
  | 'completed'
  | 'busy'
  | 'no-answer'
  | 'failed'
  | 'cancel';

export interface StreamEnd {
  code: number;
  reason: string;
  by: 'gateway' | 'emulator';
}

export interface SimulatedCall {
  readonly callUuid: string;
  readonly direction: 'inbound' | 'outbound';
  readonly from: string;
  readonly to: string;
  readonly status: CallStatus;
  /** HTTP status of the answer webhook (0 if it was never reached). */
  readonly answerStatus: number;
  readonly answerXml: string;
  readonly streamUrl: string | undefined;
  readonly streamId: string | undefined;
  /** Attributes of the `<Stream>` element as written. */
  readonly streamAttributes: Readonly<Record<string, string>>;
  /** Every message from the gateway (playAudio omitted when recordPlayed is false). */
  readonly received: ReceivedEvent[];
  /** Protocol violations seen (incorrectPayload, bad JSON, webhook failures…). */
  readonly errors: string[];
  /** Caller media totals, kept even when recordPlayed is false (load benchmarks read them). */
  readonly stats: Readonly<{
    mediaSent: number;
    /** Frames not sent because the gateway stopped reading (send buffer full). */
    mediaDropped: number;
    /** Frames skipped because the emulator itself fell more than a second behind. */
    mediaSkipped: number;
  }>;
  readonly played: readonly PlayedChunk[];
  /** Parameters of the hangup callback, once sent. */
  readonly hangupParams: Readonly<Record<string, string>> | undefined;
  /** XML fetched from aleg_url on a transfer, and the `<Dial><Number>` targets in it. */
  readonly transferXml: string | undefined;
  readonly transferredTo: readonly string[];
  /** μ-law the gateway played (in order, minus cleared audio). */
  playedUlaw(): Uint8Array;
  /** Same, decoded to 8 kHz PCM. */
  playedPcm8k(): Int16Array;
  /** Played audio at the stream's own rate (8 or 16 kHz). */
  playedPcm(): { samples: Int16Array; sampleRate: number };
  /** Paced 20 ms media frames; resolves when all are sent. */
  sendAudio(src: AudioSource): Promise<void>;
  sendDtmf(digit: string): void;
  sendRaw(data: string | Uint8Array, opts?: { binary?: boolean }): void;
  pauseReading(): void;
  resumeReading(): void;
  waitForEvent(event: string, predicate?: (msg: unknown) => boolean, timeoutMs?: number): Promise<ReceivedEvent>;
  /** stop + close + hangup callback. */
  hangup(opts?: { cause?: string }): Promise<void>;
  readonly ended: Promise<StreamEnd>;
  /** Resolves once the hangup callback has been attempted (or immediately for calls that never connected). */
  readonly completed: Promise<void>;
}

export interface PlivoEmulator {
  /** e.g. http://127.0.0.1:PORT (the gateway's PLIVO_API_BASE_URL). */
  readonly restBaseUrl: string;
  readonly requests: RecordedRequest[];
  readonly messages: SentMessage[];
  readonly calls: Map<string, SimulatedCall>;
  readonly applications: Map<string, Application>;
  /** The account's phone numbers (digits only) → app_id ('' = on the account, no application attached). */
  readonly numbers: Map<string, string>;
  placeInboundCall(opts: InboundCallOptions): Promise<SimulatedCall>;
  waitForCall(predicate: (c: SimulatedCall) => boolean, timeoutMs?: number): Promise<SimulatedCall>;
  /** Idempotent; ends every call. */
  close(): Promise<void>;
}

// The contract between the phone edge (src/plivo, src/server) and whatever runs a call (src/calls with the
// Gemini bridge; a simple echo/tone agent in edge tests and benchmarks). The edge speaks Plivo; a call handler
// only sees decoded audio and typed events.
import type { PhoneAudioFormat } from './media.ts';

/** `playground`: a browser on GET /playground speaking the Plivo stream protocol (src/playground). */
export type CallDirection = 'inbound' | 'outbound' | 'playground';

/**
 * What we know about a call when Plivo asks for its XML. It travels inside the signed stream token so that any
 * replica can serve the stream without shared state or sticky sessions. Keep it small (it lives in a URL path).
 */
export interface CallContext {
  /** Plivo's CallUUID. */
  callId: string;
  direction: CallDirection;
  from: string;
  to: string;
  /** Our outbound call id (outbound API), when the call was placed by us. */
  outboundId?: string | undefined;
  campaignId?: string | undefined;
  openingReason?: string | undefined;
  objective?: string | undefined;
  /** Free text about this call from whoever placed it (the Python example's `context` parameter). */
  context?: string | undefined;
  /** Caller-visible variables for the outbound prompt (customer name…). */
  variables?: Record<string, string> | undefined;
  /** Playground calls: which system prompt the page chose. */
  prompt?: 'inbound' | 'outbound' | undefined;
  /** A call moved from a draining replica: the Gemini session resumes from this handle (no new opening turn). */
  resumeHandle?: string | undefined;
}

/** From Plivo's `start` event. */
export interface StreamStartInfo {
  streamId: string;
  callId: string;
  accountId: string;
  tracks: string[];
  format: PhoneAudioFormat;
  extraHeaders: Record<string, string>;
}

export type StreamEndReason =
  | 'stop' // Plivo sent `stop`
  | 'socket-closed' // the WebSocket closed without `stop`
  | 'protocol-error' // we closed it: bad input
  | 'backpressure' // we closed it: Plivo stopped reading
  | 'hangup' // we ended the call
  | 'shutdown'; // the gateway is going away

/** The phone side of one call, as the call handler sees it. */
export interface PhoneLeg {
  readonly callId: string;
  readonly streamId: string;
  readonly format: PhoneAudioFormat;
  /**
   * Queue agent audio (PCM16 mono 24 kHz, any length). The edge converts it to the stream's format, cuts it into
   * 20 ms frames and sends them as `playAudio` without gaps. The array may be reused by the caller after return.
   */
  playAgentAudio(pcm24k: Int16Array): void;
  /** End of an agent turn: pad and send the last partial frame. */
  flushAgentAudio(): void;
  /** Sends a `checkpoint` after everything queued so far; `onPlayed(name)` fires when Plivo reports it played. */
  checkpoint(name: string): void;
  /** Barge-in: drop every queued frame and send `clearAudio`. `onCleared` fires when Plivo confirms. */
  clearAgentAudio(): void;
  sendDtmf(digits: string): void;
  /** Milliseconds of agent audio queued here or sent but not yet confirmed played by Plivo. */
  pendingPlayoutMs(): number;
  /** Close the stream (idempotent). Does not hang up the call: use the Plivo REST client for that. */
  close(reason: StreamEndReason): void;
}

/** Events of one stream, delivered to the call handler in order. */
export interface CallMediaHandler {
  /** 20 ms of caller audio as PCM16 16 kHz (320 samples); valid only during the call, copy to keep it. */
  onCallerAudio(pcm16k: Int16Array): void;
  onDtmf(digit: string): void;
  /** Plivo's `playedStream`: the checkpoint named here has been heard by the caller. */
  onPlayed(checkpointName: string): void;
  /** Plivo's `clearedAudio`. */
  onCleared(): void;
  onStreamEnd(reason: StreamEndReason): void;
}

/** Plivo's hangup callback, parsed. */
export interface HangupInfo {
  callId: string;
  status: string; // CallStatus: completed, busy, failed, timeout, no-answer, cancel…
  hangupCause: string | undefined;
  hangupSource: string | undefined;
  durationS: number | undefined;
  billDurationS: number | undefined;
  answerTime: string | undefined;
  endTime: string | undefined;
  machine: boolean | undefined;
  raw: Record<string, string>;
}

/** Plivo's answer webhook, parsed (the parameters we use; `raw` holds all). */
export interface AnswerInfo {
  callId: string;
  direction: CallDirection;
  from: string;
  to: string;
  callStatus: string | undefined;
  machine: boolean | undefined;
  raw: Record<string, string>;
}

/**
 * What the edge calls. The gateway wires in the real CallManager (src/calls); tests may wire a simple agent.
 */
/** What moving calls at the drain deadline did (gateway_drain_deadline_calls_total{outcome}). */
export interface MigrateOutcome {
  migrated: number;
  hungUp: number;
}

export interface CallRouter {
  /**
   * The answer webhook arrived. Returns the context to embed in the stream token (enriching `base` from stored
   * outbound records). Should start warming the agent (open the Gemini session) so it is ready when media flows.
   */
  onAnswer(info: AnswerInfo, base: CallContext): Promise<CallContext> | CallContext;
  /** A stream started on this replica: returns the handler that receives its media and events. */
  attachStream(ctx: CallContext, leg: PhoneLeg, start: StreamStartInfo): CallMediaHandler;
  /** Plivo's hangup callback (may arrive on any replica, before or after the stream ends). */
  onHangup(info: HangupInfo): void | Promise<void>;
  /** Other Plivo callbacks we configure (machine detection, stream status, ring). */
  onCallback?(kind: 'machine' | 'stream-status' | 'ring', params: Record<string, string>): void | Promise<void>;
  /** Number of calls currently in progress on this replica. */
  activeCalls(): number;
  /** Stop accepting new calls and wait for active ones (graceful drain). */
  close(): Promise<void>;
  /**
   * Drain deadline: move every live call to a ready replica (see Call.migrate). Resolves with how many moved and
   * how many were hung up instead; undefined when nothing here can move calls. Optional for stand-ins.
   */
  migrateCalls?(urlFor: (ctx: CallContext, handle: string) => string): Promise<MigrateOutcome | undefined>;
  /**
   * Another replica took this call's stream (a notice through the shared store): a session opened here at the
   * answer webhook will get no stream, so it closes now instead of at its warm TTL. Optional for stand-ins.
   */
  streamElsewhere?(callId: string): void;
}

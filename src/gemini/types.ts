// Contract between the Gemini Live session wrapper (src/gemini/live-session.ts) and the call manager (src/calls).
// The session hides connects, goAway, resumption and fresh reconnects: the call manager sees one continuous
// conversation plus `onReconnect` notices, and `onFatal` only when every way back has failed.
import type { Logger } from '../log.ts';

export interface ToolDeclaration {
  name: string;
  description: string;
  /** JSON Schema of the arguments (type: object). */
  parameters: Record<string, unknown>;
}

export interface ToolCallRequest {
  id: string;
  name: string;
  args: Record<string, unknown>;
}

export interface ToolCallResponse {
  id: string;
  name: string;
  response: Record<string, unknown>;
}

export interface UsageInfo {
  promptTokenCount?: number | undefined;
  responseTokenCount?: number | undefined;
  totalTokenCount?: number | undefined;
  raw: Record<string, unknown>;
}

export type ReconnectKind = 'resume' | 'fresh';

export interface LiveSessionEvents {
  /** Agent audio, PCM16 24 kHz mono. Valid only during the callback. */
  onAudio(pcm24k: Int16Array): void;
  /** The caller barged in: drop everything queued of the current agent turn. */
  onInterrupted(): void;
  onTurnComplete(): void;
  onInputTranscript(text: string): void;
  onOutputTranscript(text: string): void;
  onToolCall(calls: ToolCallRequest[]): void;
  onToolCallCancellation(ids: string[]): void;
  onUsage(usage: UsageInfo): void;
  /** A new connection took over (after goAway or an unexpected close). */
  onReconnect(info: { kind: ReconnectKind; reason: string; attempt: number }): void;
  /** Every reconnect path failed; the call should apologise and hang up. */
  onFatal(error: Error): void;
  /**
   * An agent turn ended with no audible audio. `reprompt`: the session asked the model again; `give-up`: it was the
   * second in a row, onFatal follows.
   */
  onSilentTurn?(info: { action: 'reprompt' | 'give-up'; peak: number }): void;
}

export interface LiveSessionOptions {
  callId: string;
  systemPrompt: string;
  tools: ToolDeclaration[];
  events: LiveSessionEvents;
  logger: Logger;
  /**
   * Used for a fresh reconnect when resumption fails: returns the conversation so far as text, so the new session
   * continues where the old one stopped.
   */
  transcriptForContext(): string;
  /**
   * The whole time the first connection may take, attempts and back-off included (GEMINI_FIRST_CONNECT_BUDGET_MS).
   * Default: the per-attempt timeout times the attempts.
   */
  firstConnectBudgetMs?: number | undefined;
  /** Sent once (per the model's profile) when an agent turn comes back silent; nothing is re-prompted if unset. */
  repromptText?: string | undefined;
  /** PCM16 peak below which a whole agent turn counts as silent (SILENT_TURN_PEAK). Default 200. */
  silentTurnPeak?: number | undefined;
  /**
   * A call moved from another replica: the first connection resumes this handle (sessionResumption.handle);
   * if the service refuses it, the session connects fresh.
   */
  resumeHandle?: string | undefined;
}

export type LiveSessionState = 'connecting' | 'ready' | 'reconnecting' | 'closed';

export interface LiveSession {
  readonly state: LiveSessionState;
  /** Caller audio, PCM16 16 kHz, normally 20 ms. Buffered (bounded) until ready and during reconnects. */
  sendAudio(pcm16k: Int16Array): void;
  sendToolResponses(responses: ToolCallResponse[]): void;
  /**
   * A client text turn the model answers (the opening, the voicemail instruction), sent the way the model's profile
   * says (src/gemini/profiles.ts). Before the session is ready it is kept (the latest one) and sent on connect.
   */
  sendText(text: string): void;
  /** Resolves when the first connection's setupComplete arrives; rejects if it cannot connect. */
  ready(): Promise<void>;
  /**
   * The latest resumption handle if this is a resumable point (the service said resumable, nothing happened since:
   * the model is not speaking, no tool call pending); undefined otherwise. Used to move a call to another replica.
   */
  resumptionHandle?(): string | undefined;
  stats(): { reconnects: number; resumed: number; fresh: number; droppedAudioMs: number };
  close(): Promise<void>;
}

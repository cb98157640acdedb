// What happens in a call, for observers (the demo's live transcript, tests). Never emitted per audio frame.
import type { ToolOutcomeKind } from '../tools/registry.ts';

export type CallEvent =
  | { type: 'session-opened'; warm: boolean }
  | { type: 'stream-attached' }
  /** The opening turn went to Gemini (`why`: inbound, hello-then-pause, silence, max-wait), or was not needed. */
  | { type: 'opening'; why: string; sent: boolean }
  /** The filler prompt started because Gemini was not ready yet. */
  | { type: 'filler' }
  /** Machine detection said machine; `action` is the VOICEMAIL setting. */
  | { type: 'machine'; action: 'hangup' | 'message' }
  /** An agent turn came back silent. */
  | { type: 'silent-turn'; action: 'reprompt' | 'give-up' }
  | { type: 'caller-text'; text: string }
  | { type: 'agent-text'; text: string }
  | { type: 'agent-turn-end' }
  | { type: 'interrupted'; heardMs: number | undefined; clearMs: number }
  | { type: 'tool-start'; id: string; name: string; args: Record<string, unknown> }
  | {
      type: 'tool-end';
      id: string;
      name: string;
      outcome: ToolOutcomeKind;
      ms: number;
      response: Record<string, unknown>;
    }
  | { type: 'reconnect'; kind: string; reason: string }
  | { type: 'hangup-requested'; reason: string }
  | { type: 'fatal'; message: string }
  | { type: 'hung-up'; reason: string }
  /** Drain deadline: the call was transferred to another replica (it continues there). */
  | { type: 'moved' }
  | { type: 'ended'; reason: string };

export type CallEventListener = (callId: string, event: CallEvent) => void;

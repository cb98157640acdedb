// Records every LiveSessionEvents callback, in order, for assertions.
import type { LiveSessionEvents, ReconnectKind, ToolCallRequest, UsageInfo } from '../../../src/gemini/types.ts';

export type RecordedEvent =
  | { type: 'audio'; samples: number[] }
  | { type: 'interrupted' }
  | { type: 'turnComplete' }
  | { type: 'input'; text: string }
  | { type: 'output'; text: string }
  | { type: 'toolCall'; calls: ToolCallRequest[] }
  | { type: 'toolCancel'; ids: string[] }
  | { type: 'usage'; usage: UsageInfo }
  | { type: 'reconnect'; kind: ReconnectKind; reason: string; attempt: number }
  | { type: 'fatal'; error: Error };

export interface Recorder {
  events: RecordedEvent[];
  handlers: LiveSessionEvents;
  of<T extends RecordedEvent['type']>(type: T): Extract<RecordedEvent, { type: T }>[];
}

export function recorder(overrides: Partial<LiveSessionEvents> = {}): Recorder {
  const events: RecordedEvent[] = [];
  const handlers: LiveSessionEvents = {
    // The array is only valid during the callback: copy it.
    onAudio: (pcm) => events.push({ type: 'audio', samples: Array.from(pcm) }),
    onInterrupted: () => events.push({ type: 'interrupted' }),
    onTurnComplete: () => events.push({ type: 'turnComplete' }),
    onInputTranscript: (text) => events.push({ type: 'input', text }),
    onOutputTranscript: (text) => events.push({ type: 'output', text }),
    onToolCall: (calls) => events.push({ type: 'toolCall', calls }),
    onToolCallCancellation: (ids) => events.push({ type: 'toolCancel', ids }),
    onUsage: (usage) => events.push({ type: 'usage', usage }),
    onReconnect: (info) => events.push({ type: 'reconnect', ...info }),
    onFatal: (error) => events.push({ type: 'fatal', error }),
  };
  for (const [k, fn] of Object.entries(overrides)) {
    const base = handlers[k as keyof LiveSessionEvents] as (...a: unknown[]) => void;
    (handlers as unknown as Record<string, (...a: unknown[]) => void>)[k] = (...a: unknown[]) => {
      base(...a);
      (fn as (...a: unknown[]) => void)(...a);
    };
  }
  return {
    events,
    handlers,
    of: <T extends RecordedEvent['type']>(type: T) =>
      events.filter((e): e is Extract<RecordedEvent, { type: T }> => e.type === type),
  };
}

/** `n` samples counting up from `start` (wrapping at int16), so order and loss are visible. */
export function ramp(start: number, n: number): Int16Array {
  const a = new Int16Array(n);
  for (let i = 0; i < n; i++) a[i] = ((start + i + 32768) % 65536) - 32768;
  return a;
}

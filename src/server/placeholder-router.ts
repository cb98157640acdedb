// A CallRouter that accepts calls and does nothing with them: lets the gateway start (health, webhooks,
// streams) before a real router is wired in main.ts. Never meant to serve callers.
import type { CallMediaHandler, CallRouter } from '../calls/types.ts';

export function createPlaceholderRouter(): CallRouter {
  const active = new Set<string>();
  return {
    onAnswer: (_info, base) => base,
    attachStream(ctx): CallMediaHandler {
      active.add(ctx.callId);
      return {
        onCallerAudio() {},
        onDtmf() {},
        onPlayed() {},
        onCleared() {},
        onStreamEnd() {
          active.delete(ctx.callId);
        },
      };
    },
    onHangup(info) {
      active.delete(info.callId);
    },
    activeCalls: () => active.size,
    async close() {},
  };
}

// A ToolContext for tool tests: real config, a real PlivoApi (pointed at the Plivo emulator when given), and a
// CallControl that records what the tools asked of the call.

import { type Config, loadConfig } from '../../src/config.ts';
import type { CallContext } from '../../src/contract/call.ts';
import { emulatorEnv } from '../../src/demo/emulator-env.ts';
import { rootLogger } from '../../src/log.ts';
import type { PlivoApi } from '../../src/plivo/api-types.ts';
import type { CallbackRequest } from '../../src/store/types.ts';
import type { CallControl, ToolContext } from '../../src/tools/types.ts';

export const CALL: CallContext = {
  callId: 'call-tools-1',
  direction: 'inbound',
  from: '+14155550123',
  to: '+14155550100',
};

export function recordingControl() {
  const calls = {
    ended: [] as string[],
    callbacks: [] as CallbackRequest[],
    transferred: [] as string[],
    outcomes: [] as string[],
  };
  const control: CallControl = {
    endAfterGoodbye: (reason) => void calls.ended.push(reason),
    scheduleCallback: async (r) => void calls.callbacks.push(r),
    markTransferred: (t) => void calls.transferred.push(t),
    setOutcome: (o) => void calls.outcomes.push(o),
  };
  return { control, calls };
}

export function toolContext(
  o: { env?: Record<string, string>; plivo?: PlivoApi; call?: CallContext; now?: Date } = {},
): { ctx: Omit<ToolContext, 'signal'>; config: Config; calls: ReturnType<typeof recordingControl>['calls'] } {
  const config = loadConfig(emulatorEnv(o.env ?? {}));
  const { control, calls } = recordingControl();
  const call = o.call ?? CALL;
  return {
    ctx: {
      callId: call.callId,
      call,
      config,
      plivo: o.plivo,
      control,
      logger: rootLogger(),
      now: () => o.now ?? new Date(),
    },
    config,
    calls,
  };
}

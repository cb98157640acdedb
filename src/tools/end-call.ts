// The agent ends the call. The hang-up waits until Plivo confirms the goodbye was played (see CallControl).
import { z } from 'zod';
import { defineTool } from './registry.ts';

export const endCall = defineTool({
  name: 'end_call',
  description:
    'End the call when the conversation is finished or the caller wants to hang up. Say a short goodbye; the ' +
    'line is closed after your goodbye has been heard.',
  args: z.object({
    reason: z
      .string()
      .trim()
      .max(200)
      .optional()
      .describe('Why the call ends, e.g. "resolved", "caller request", "not interested".'),
  }),
  timeoutMs: 2000,
  async handler(a, ctx) {
    ctx.control.endAfterGoodbye(a.reason ?? 'agent ended the call');
    return { ending: true, instruction: 'Say a brief goodbye now if you have not already.' };
  },
});

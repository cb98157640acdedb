// Text the caller (and only the caller: the model never picks the destination, so it cannot be talked into
// messaging anyone else).
import { z } from 'zod';
import { customerNumber } from './phone-numbers.ts';
import { defineTool } from './registry.ts';
import { ToolFailure } from './types.ts';

export const sendSms = defineTool({
  name: 'send_sms',
  description:
    "Send a text message to the caller's phone, e.g. an order's tracking number or a summary of what was agreed. " +
    'Keep it short and factual. Tell the caller you are sending it.',
  args: z.object({
    message: z.string().trim().min(1).max(320).describe('The text to send, at most 320 characters.'),
  }),
  async handler(a, ctx) {
    if (!ctx.plivo) throw new ToolFailure('Text messages are not available right now.', ctx.callId);
    const dst = customerNumber(ctx.call);
    if (!dst) throw new ToolFailure("The caller's number cannot receive text messages.", ctx.callId);
    const result = await ctx.plivo.sendSms({ src: ctx.config.plivo.phoneNumber, dst, text: a.message }, ctx.signal);
    return { sent: true, to: maskNumber(dst), messageCount: result.messageUuids.length };
  },
});

/** The model confirms the destination by its last digits only. */
export function maskNumber(number: string): string {
  return `number ending in ${number.slice(-4)}`;
}

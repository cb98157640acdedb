// Hand the caller to a human at TRANSFER_NUMBER: Plivo fetches the XML at the aleg URL, which <Dial>s the number.
import { z } from 'zod';
import { transferXmlUrl } from '../plivo/transfer.ts';
import { defineTool } from './registry.ts';
import { ToolFailure } from './types.ts';

export const transferCall = defineTool({
  name: 'transfer_call',
  description:
    'Transfer the caller to a human agent. Use it when the caller asks for a person or when you cannot help. ' +
    'Tell the caller you are transferring them before you call this; the line switches right away.',
  args: z.object({
    reason: z
      .string()
      .trim()
      .max(500)
      .optional()
      .describe('One sentence for the human agent: why the caller is being transferred.'),
  }),
  async handler(a, ctx) {
    const target = ctx.config.tools.transferNumber;
    if (!target) throw new ToolFailure('No human agent line is configured. Offer a callback instead.', ctx.callId);
    if (!ctx.plivo)
      throw new ToolFailure('Transfers are not available right now. Offer a callback instead.', ctx.callId);
    await ctx.plivo.transferCall(
      ctx.callId,
      transferXmlUrl(ctx.callId, target, {
        publicUrl: ctx.config.server.publicUrl,
        secret: ctx.config.plivo.streamTokenSecret,
      }),
      ctx.signal,
    );
    ctx.control.markTransferred(target);
    ctx.logger.info({ reason: a.reason }, 'call transferred');
    return { transferred: true };
  },
});

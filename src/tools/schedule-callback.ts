// A callback request, stored in the call record; the outbound dialer (wired through CallManager's
// onCallbackScheduled hook) places it.
import { z } from 'zod';
import { customerNumber, E164 } from './phone-numbers.ts';
import { defineTool } from './registry.ts';
import { maskNumber } from './send-sms.ts';
import { ToolFailure } from './types.ts';

const MAX_AHEAD_MS = 30 * 24 * 3600 * 1000;
/** The model's idea of "now" comes from the prompt and may be a little behind. */
const PAST_TOLERANCE_MS = 5 * 60 * 1000;

export const scheduleCallback = defineTool({
  name: 'schedule_callback',
  description:
    'Schedule a call back from a specialist at a time the caller chooses. Confirm the time (and time zone) with ' +
    'the caller before calling this. The current date and time are in your instructions.',
  args: z.object({
    callback_time: z.iso
      .datetime({ offset: true, local: false })
      .describe('When to call back, ISO 8601 with a UTC offset, e.g. "2026-11-26T15:00:00-05:00".'),
    reason: z.string().trim().min(1).max(500).describe('What the specialist should help with.'),
    phone_number: z
      .string()
      .regex(E164, 'must be E.164 like +14155550123')
      .optional()
      .describe(
        "Only if the caller asks to be called on another number: E.164, e.g. +14155550123. Default: the caller's number.",
      ),
  }),
  async handler(a, ctx) {
    const at = new Date(a.callback_time);
    const now = ctx.now().getTime();
    if (at.getTime() < now - PAST_TOLERANCE_MS) {
      throw new ToolFailure('That time is in the past. Ask the caller for a future time.', ctx.callId);
    }
    if (at.getTime() > now + MAX_AHEAD_MS) {
      throw new ToolFailure('Callbacks can be scheduled at most 30 days ahead.', ctx.callId);
    }
    const phoneNumber = a.phone_number ?? customerNumber(ctx.call);
    if (!phoneNumber) {
      throw new ToolFailure("The caller's number is unknown; ask which number to call back on.", ctx.callId);
    }
    await ctx.control.scheduleCallback({
      at: at.toISOString(),
      phoneNumber,
      reason: a.reason,
      requestedAt: ctx.now().toISOString(),
    });
    return { scheduled: true, at: at.toISOString(), phone: maskNumber(phoneNumber) };
  },
});

// The dialer's queue worker: dial jobs (place one call of a contact, once, at the campaign's pace) and wake-ups
// (a scheduled contact is due). A draining replica stops claiming jobs and hands its slots back.

import { isTerminal } from '../calls/status-updates.ts';
import { errorMessage, PlivoApiError } from '../errors.ts';
import { attemptEnded, cancelContact, makeDue, markRecord, pump, tzOf } from './dialer-contacts.ts';
import type { DialerCtx } from './dialer-context.ts';
import type { DialJob } from './dialer-types.ts';
import { CallPlacedError, placeCall } from './place-call.ts';
import { delayUntilWindow } from './window.ts';

export async function processDial(ctx: DialerCtx, job: Extract<DialJob, { kind: 'dial' }>): Promise<void> {
  const info = await ctx.state.getCampaign(job.campaignId);
  const contact = await ctx.state.getContact(job.campaignId, job.contactId);
  if (!info || !contact || contact.callId !== job.callId || contact.status !== 'dialing') return;
  // A job of an earlier slot-taking (handed back by a pause, a drain or a reconciliation) dials nothing.
  if ((job.take ?? 0) !== (contact.takes ?? 0)) return;
  if (info.state === 'canceled') return cancelContact(ctx, info, contact);
  if (info.state === 'paused' || ctx.draining()) {
    // Hand the slot back; resume() (or a ready replica's pump, when draining) queues the contact first.
    const r = await ctx.state.updateContact(info.def.id, contact.id, (c) =>
      c.status === 'dialing' && c.callId === job.callId ? { ...c, status: 'pending' } : undefined,
    );
    if (r?.changed) {
      if (info.state !== 'paused')
        ctx.log.info({ campaignId: info.def.id, contactId: contact.id }, 'draining: contact handed back');
      await ctx.state.release(info.def.id, contact.id);
      await ctx.state.pushReady(info.def.id, [contact.id], true);
    }
    return;
  }
  const outside = delayUntilWindow(ctx.clock.now(), info.def.window, tzOf(info.def, contact));
  if (outside > 0) {
    const r = await ctx.state.updateContact(info.def.id, contact.id, (c) =>
      c.status === 'dialing' && c.callId === job.callId ? { ...c, status: 'scheduled' } : undefined,
    );
    if (r?.changed) {
      await ctx.state.release(info.def.id, contact.id);
      await makeDue(ctx, info.def, r.contact);
      await pump(ctx, info.def.id);
    }
    return;
  }
  const record = await ctx.store.get(job.callId);
  if (!record) return;
  if (record.status !== 'queued' || record.plivoCallUuid) {
    if (isTerminal(record.status)) await attemptEnded(ctx, info, contact.id, record);
    return;
  }
  // The once-only guard against dialing a contact twice, whatever the queue does (redelivery, two replicas).
  if (!(await ctx.state.claim(`dial.${job.callId}.${job.take ?? 0}.${job.dialTry}`, 86_400_000))) return;
  try {
    await placeCall(
      { publicUrl: ctx.publicUrl, store: ctx.store, plivo: ctx.deps.plivo },
      record,
      info.def.machineDetection,
      {
        linkRetryMs: ctx.linkRetryMs,
        isClosed: () => ctx.closed,
      },
    );
  } catch (err) {
    if (err instanceof PlivoApiError && err.status === 429) {
      // Not an attempt: Plivo refused before dialing. Try again later, keeping the slot.
      const delay = Math.min(ctx.rl.maxMs, ctx.rl.baseMs * 2 ** Math.min(job.dialTry, 16)) * (0.75 + Math.random() / 2);
      ctx.log.warn(
        { campaignId: job.campaignId, callId: job.callId, delayMs: Math.round(delay) },
        'plivo rate-limited a dial; retrying',
      );
      await ctx.deps.dialQueue.add(
        `${job.campaignId}.${job.contactId}.${job.callId}.${job.take ?? 0}.${job.dialTry + 1}`,
        { ...job, dialTry: job.dialTry + 1 },
        delay,
      );
      return;
    }
    if (err instanceof CallPlacedError) {
      // Plivo placed the call but we could not record it: leave the contact 'dialing' with its slot; the
      // reconciliation (or the call's hangup) settles it. Marking it failed would dial the contact again.
      ctx.log.error({ campaignId: job.campaignId, callId: job.callId, err: errorMessage(err) }, 'placed call unlinked');
      return;
    }
    ctx.log.warn({ campaignId: job.campaignId, callId: job.callId, err }, 'dial failed');
    const failed = await markRecord(ctx, job.callId, 'failed', { hangupCause: `plivo_error: ${errorMessage(err)}` });
    if (failed) await attemptEnded(ctx, info, contact.id, failed);
    return;
  }
  const placed = await ctx.state.updateContact(info.def.id, contact.id, (c) =>
    c.callId === job.callId && c.status === 'dialing'
      ? { ...c, status: 'in-progress', attempts: Math.max(c.attempts, record.attempt ?? c.attempts + 1) }
      : undefined,
  );
  if (!placed?.changed) {
    // Canceled while Plivo was placing it: end the call we just started.
    const now = await ctx.store.get(job.callId);
    if (now?.plivoCallUuid && now.status === 'canceled') {
      await ctx.deps.plivo.hangupCall(now.plivoCallUuid).catch(() => {});
    }
  }
}

export async function processWake(ctx: DialerCtx, job: Extract<DialJob, { kind: 'wake' }>): Promise<void> {
  const info = await ctx.state.getCampaign(job.campaignId);
  const contact = await ctx.state.getContact(job.campaignId, job.contactId);
  if (!info || !contact || contact.status !== 'scheduled') return;
  if (info.state === 'canceled') return cancelContact(ctx, info, contact);
  if ((contact.nextAt ?? 0) > ctx.clock.now() + 5) return; // a later wake-up is already booked
  await makeDue(ctx, info.def, { ...contact, nextAt: undefined });
  await pump(ctx, info.def.id);
}

export async function handle(ctx: DialerCtx, job: DialJob): Promise<void> {
  if (ctx.closed) return;
  if (ctx.draining()) pauseQueues(ctx);
  if (job.kind === 'dial') await processDial(ctx, job);
  else await processWake(ctx, job);
}

/** Stops this replica's workers from claiming more jobs (a drain); jobs stay queued for the ready replicas. */
export function pauseQueues(ctx: DialerCtx): void {
  if (ctx.queuesPaused) return;
  ctx.queuesPaused = true;
  ctx.log.info('draining: the dialer stops claiming work');
  void Promise.all([ctx.deps.dialQueue.pause?.(), ctx.deps.wakeQueue.pause?.()]).catch((err: unknown) =>
    ctx.log.warn({ err: errorMessage(err) }, 'could not pause the dial queues'),
  );
}

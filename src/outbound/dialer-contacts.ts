// Contact states and concurrency slots of a campaign: a contact moves pending → dialing (holds a slot) →
// in-progress → done, or back to scheduled (retry backoff, calling window, callback time) and pending when due.
// Every change goes through DialerState's atomic updates, so replicas can run these at once.

import { isTerminal, withStatus } from '../calls/status-updates.ts';
import { errorMessage } from '../errors.ts';
import type { CallRecord, CallStatus } from '../store/types.ts';
import type { DialerCtx } from './dialer-context.ts';
import type { CampaignDef, CampaignInfo, ContactState } from './dialer-types.ts';
import { newOutboundRecord } from './records.ts';
import { delayUntilWindow } from './window.ts';

export const tzOf = (def: CampaignDef, contact: ContactState) => contact.timezone ?? def.timezone;

/** Queues a contact that is due (or schedules its wake-up when it is not yet, or outside its window). */
export async function makeDue(ctx: DialerCtx, def: CampaignDef, contact: ContactState): Promise<void> {
  const now = ctx.clock.now();
  const dueIn = Math.max(0, (contact.nextAt ?? 0) - now);
  const delay = dueIn > 0 ? dueIn : delayUntilWindow(now, def.window, tzOf(def, contact));
  if (delay <= 0) {
    const r = await ctx.state.updateContact(def.id, contact.id, (c) =>
      c.status === 'scheduled' || c.status === 'pending' ? { ...c, status: 'pending', nextAt: undefined } : undefined,
    );
    if (r?.changed) await ctx.state.pushReady(def.id, [contact.id]);
    return;
  }
  const at = now + delay;
  const r = await ctx.state.updateContact(def.id, contact.id, (c) =>
    c.status === 'scheduled' || c.status === 'pending' ? { ...c, status: 'scheduled', nextAt: at } : undefined,
  );
  if (!r?.changed) return;
  await ctx.deps.wakeQueue.add(
    `${def.id}.${contact.id}.w${r.contact.attempts}.${at}`,
    { kind: 'wake', campaignId: def.id, contactId: contact.id },
    delay,
  );
}

/** Gives free slots to ready contacts and queues their dials at the campaign's pace. */
export async function pump(ctx: DialerCtx, campaignId: string): Promise<void> {
  // A draining replica takes no slots: the ready replicas' sweeps (and their callbacks) dial what is left.
  if (ctx.closed || ctx.draining()) return;
  const now = ctx.clock.now();
  const taken = await ctx.state.take(campaignId, now, ctx.leaseMs);
  if (taken.length === 0) return;
  const info = await ctx.state.getCampaign(campaignId);
  if (!info) return;
  for (const { contactId, atMs } of taken) {
    const callId = ctx.newId();
    const r = await ctx.state.updateContact(campaignId, contactId, (c) =>
      c.status === 'pending'
        ? { ...c, status: 'dialing', callId: c.callId ?? callId, takes: (c.takes ?? 0) + 1, dueAt: atMs }
        : undefined,
    );
    if (!r?.changed) {
      await ctx.state.release(campaignId, contactId);
      continue;
    }
    const contact = r.contact;
    try {
      await queueDial(ctx, info, contact, atMs);
    } catch (err) {
      // Put the contact back as it was, so that a store or queue outage does not strand it in 'dialing'.
      ctx.log.warn({ campaignId, contactId, err: errorMessage(err) }, 'could not queue a dial; contact put back');
      await ctx.state.updateContact(campaignId, contactId, (c) =>
        c.status === 'dialing' ? { ...c, status: 'pending' } : undefined,
      );
      await ctx.state.release(campaignId, contactId);
      await ctx.state.pushReady(campaignId, [contactId], true);
      throw err;
    }
  }
}

export async function queueDial(
  ctx: DialerCtx,
  info: CampaignInfo,
  contact: ContactState,
  atMs: number,
): Promise<void> {
  const campaignId = info.def.id;
  const contactId = contact.id;
  const callId = contact.callId!;
  // The record of this attempt may exist already: a contact handed back by a pause keeps its queued record.
  if (!(await ctx.store.get(callId))) {
    await ctx.store.create(
      newOutboundRecord({
        id: callId,
        from: ctx.config.plivo.phoneNumber,
        to: contact.phoneNumber,
        campaignId,
        contactId,
        openingReason: contact.openingReason ?? info.def.openingReason,
        objective: contact.objective ?? info.def.objective,
        variables: contact.variables,
        attempt: contact.attempts + 1,
        callbackOf: contact.callbackOf,
        nowMs: ctx.clock.now(),
      }),
    );
  }
  // One job id per slot taken: a re-queued contact (after a pause) gets a new job, a duplicate add does not.
  await ctx.deps.dialQueue.add(
    `${campaignId}.${contactId}.${callId}.${contact.takes ?? 0}.0`,
    { kind: 'dial', campaignId, contactId, callId, dialTry: 0, take: contact.takes ?? 0 },
    atMs - ctx.clock.now(),
  );
}

export async function finishContact(ctx: DialerCtx, campaignId: string): Promise<void> {
  const remaining = await ctx.state.finishContact(campaignId);
  if (remaining === 0 && (await ctx.state.setState(campaignId, 'completed', ['running', 'paused']))) {
    ctx.log.info({ campaignId }, 'campaign completed');
  }
}

/** The current attempt of a contact ended with `record`'s status: retry, or finish the contact. */
export async function attemptEnded(
  ctx: DialerCtx,
  info: CampaignInfo,
  contactId: string,
  record: CallRecord,
): Promise<void> {
  const { def } = info;
  const status = record.status;
  const canRetry = info.state !== 'canceled' && def.retry.retryOn.includes(status);
  const r = await ctx.state.updateContact(def.id, contactId, (c) => {
    if (c.callId !== record.id || (c.status !== 'dialing' && c.status !== 'in-progress')) return undefined;
    const attempts = Math.max(c.attempts, record.attempt ?? c.attempts);
    const base = { ...c, attempts, callId: undefined, callIds: [...c.callIds, record.id], lastStatus: status };
    if (canRetry && attempts < def.retry.maxAttempts) {
      return { ...base, status: 'scheduled' as const, nextAt: ctx.clock.now() + def.retry.backoffS * 1000 };
    }
    return { ...base, status: status === 'canceled' ? ('canceled' as const) : ('done' as const), nextAt: undefined };
  });
  if (!r?.changed) return;
  await ctx.state.release(def.id, contactId);
  if (r.contact.status === 'scheduled') await makeDue(ctx, def, r.contact);
  else await finishContact(ctx, def.id);
  await pump(ctx, def.id);
}

export async function markRecord(ctx: DialerCtx, callId: string, status: CallStatus, extra: Partial<CallRecord> = {}) {
  return ctx.store.update(callId, (rec) => {
    if (isTerminal(rec.status)) return rec;
    const now = ctx.clock.now();
    return { ...withStatus(rec, status, now), endedAt: new Date(now).toISOString(), ...extra };
  });
}

export async function cancelContact(ctx: DialerCtx, info: CampaignInfo, contact: ContactState): Promise<void> {
  const r = await ctx.state.updateContact(info.def.id, contact.id, (c) =>
    c.status === 'done' || c.status === 'canceled' || c.status === 'in-progress'
      ? undefined
      : {
          ...c,
          status: 'canceled',
          callId: undefined,
          callIds: c.callId ? [...c.callIds, c.callId] : c.callIds,
          nextAt: undefined,
          lastStatus: 'canceled',
        },
  );
  if (!r?.changed) return;
  if (contact.callId) await markRecord(ctx, contact.callId, 'canceled', { endReason: 'campaign-canceled' });
  await ctx.state.release(info.def.id, contact.id);
  await finishContact(ctx, info.def.id);
}

/** Gives a contact's slot back and queues it again (first in line). */
export async function handBack(
  ctx: DialerCtx,
  campaignId: string,
  contactId: string,
  callId: string,
  why: string,
): Promise<void> {
  const r = await ctx.state.updateContact(campaignId, contactId, (c) =>
    c.status === 'dialing' && c.callId === callId ? { ...c, status: 'pending' } : undefined,
  );
  if (!r?.changed) return;
  ctx.log.warn({ campaignId, contactId, why }, 'contact handed back');
  await ctx.state.release(campaignId, contactId);
  await ctx.state.pushReady(campaignId, [contactId], true);
}

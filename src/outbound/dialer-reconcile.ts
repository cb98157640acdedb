// Slot recovery: a slot held for a call that has ended, although its end never reached the campaign (the hangup
// was applied but the dialer step failed, or the hangup callback was lost), is given back. Plivo's call state is
// the source of truth for a placed call.

import { applyHangup, isTerminal } from '../calls/status-updates.ts';
import { errorMessage } from '../errors.ts';
import { attemptEnded, handBack } from './dialer-contacts.ts';
import type { DialerCtx } from './dialer-context.ts';

/**
 * Gives back slots held for calls that have ended although their end was never applied to the campaign: the record
 * is final already (its hangup was applied but the dialer step failed), or Plivo says the call is over (the hangup
 * callback was lost). The source of truth for a placed call is Plivo's call state.
 */
export async function reconcile(ctx: DialerCtx, campaignId: string): Promise<void> {
  const now = ctx.clock.now();
  for (const [uuid, seen] of ctx.lookedUp) if (now - seen.nextAt > 3600_000) ctx.lookedUp.delete(uuid);
  const info = await ctx.state.getCampaign(campaignId);
  if (!info || info.state === 'completed') return;
  for (const c of await ctx.state.getContacts(campaignId)) {
    if (ctx.closed) return;
    if ((c.status !== 'in-progress' && c.status !== 'dialing') || !c.callId) continue;
    const stale = ctx.clock.now() - (c.dueAt ?? 0) >= ctx.reconcileAfterMs;
    let record = await ctx.store.get(c.callId);
    if (!record) {
      // Its slot was taken but its dial never queued (the store failed in between): no call can exist.
      if (c.status === 'dialing' && stale) await handBack(ctx, info.def.id, c.id, c.callId, 'dial never queued');
      continue;
    }
    if (record.status === 'queued' && !record.plivoCallUuid) {
      // Queued but never placed: its dial job may be lost (a queue outage). Queue the same try again; the
      // once-only claim of the try keeps it from being dialled twice if the first job still runs.
      if (c.status === 'dialing' && stale) {
        await ctx.deps.dialQueue.add(
          `${campaignId}.${c.id}.${c.callId}.${c.takes ?? 0}.0.r${ctx.clock.now()}`,
          { kind: 'dial', campaignId, contactId: c.id, callId: c.callId, dialTry: 0, take: c.takes ?? 0 },
          0,
        );
      }
      continue;
    }
    if (!isTerminal(record.status)) {
      const uuid = record.plivoCallUuid;
      const last = Date.parse(record.timeline.at(-1)?.at ?? record.createdAt);
      if (!uuid || !ctx.deps.plivo.getCall || ctx.clock.now() - last < ctx.reconcileAfterMs) continue;
      // A long call is looked up again less and less often (doubling up to 15 min), not on every sweep.
      const seen = ctx.lookedUp.get(uuid);
      if (seen && ctx.clock.now() < seen.nextAt) continue;
      const n = (seen?.n ?? 0) + 1;
      ctx.lookedUp.set(uuid, {
        n,
        nextAt: ctx.clock.now() + Math.min(15 * 60_000, ctx.reconcileAfterMs * 2 ** (n - 1)),
      });
      const call = await ctx.deps.plivo.getCall(uuid).catch((err: unknown) => {
        ctx.log.warn({ callId: record?.id, err: errorMessage(err) }, 'reconcile: could not read the call from Plivo');
        return undefined;
      });
      if (!call?.endTime) continue;
      const raw: Record<string, string> = { CallUUID: uuid, Direction: 'outbound' };
      const ended = await applyHangup(
        ctx.store,
        {
          callId: uuid,
          status: call.callStatus ?? (call.answerTime ? 'completed' : 'failed'),
          hangupCause: call.hangupCause,
          hangupSource: undefined,
          durationS: call.durationS,
          billDurationS: undefined,
          answerTime: call.answerTime,
          endTime: call.endTime,
          machine: undefined,
          raw,
        },
        { now: () => ctx.clock.now(), linkWaitMs: 0 },
      );
      if (!ended || !isTerminal(ended.status)) continue;
      ctx.log.warn({ campaignId, callId: ended.id, status: ended.status }, 'reconcile: call ended without its hangup');
      record = ended;
    }
    await attemptEnded(ctx, info, c.id, record);
  }
}

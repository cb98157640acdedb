// The campaign dialer. One algorithm for one process or many replicas: all shared state goes through DialerState
// (atomic operations) and all waiting through DialQueue (delayed jobs), so it is the same code over memory or Redis.
//
// A contact moves pending → dialing (holds a concurrency slot) → in-progress (Plivo placed the call) → done, or back
// to scheduled (retry backoff, calling window, callback time) and pending again when due. A slot is taken before
// the dial job is queued and freed when the call's hangup arrives, so the campaign never has more than
// max_concurrent calls out; each dial time is paced at the campaign's calls_per_second, and the dial queue's rate
// limiter holds the Plivo account's CPS across campaigns and replicas.
//
// The pieces: dialer-context.ts (what they share, DialerDeps), dialer-contacts.ts (contact states and slots),
// dialer-worker.ts (queue jobs that place calls), dialer-reconcile.ts (slots of calls that ended unheard); this file
// is the API.

import { isTerminal } from '../calls/status-updates.ts';
import { GatewayError, InvalidStateError } from '../errors.ts';
import type { CallbackRequest, CallRecord } from '../store/types.ts';
import { blockedPrefix } from './contacts.ts';
import { attemptEnded, cancelContact, makeDue, markRecord, pump, tzOf } from './dialer-contacts.ts';
import { createDialerContext, type DialerCtx, type DialerDeps } from './dialer-context.ts';
import { reconcile } from './dialer-reconcile.ts';
import type {
  CampaignDef,
  CampaignInfo,
  ContactState,
  ContactStatus,
  MachineDetection,
  RetryPolicy,
} from './dialer-types.ts';
import { handle, pauseQueues } from './dialer-worker.ts';
import { toE164 } from './phone.ts';
import { type CallWindow, delayUntilWindow } from './window.ts';

export const CALLBACKS_CAMPAIGN = 'callbacks';

export interface CampaignContactInput {
  phoneNumber: string;
  variables?: Record<string, string> | undefined;
  timezone?: string | undefined;
}

export interface CampaignInput {
  campaignId?: string | undefined;
  contacts: CampaignContactInput[];
  openingReason: string;
  objective?: string | undefined;
  maxConcurrent: number;
  callsPerSecond?: number | undefined;
  retry?: Partial<RetryPolicy> | undefined;
  window?: CallWindow | undefined;
  timezone?: string | undefined;
  machineDetection?: MachineDetection | undefined;
}

export interface CampaignProgress {
  state: CampaignInfo['state'];
  contacts: number;
  remaining: number;
  byStatus: Record<ContactStatus, number>;
  attempts: number;
  activeSlots: number;
  maxConcurrent: number;
  callsPerSecond: number;
}

export type { DialerDeps } from './dialer-context.ts';

export interface Dialer {
  startCampaign(input: CampaignInput): Promise<CampaignDef>;
  pause(campaignId: string): Promise<CampaignInfo['state']>;
  resume(campaignId: string): Promise<CampaignInfo['state']>;
  cancel(campaignId: string): Promise<CampaignInfo['state']>;
  progress(campaignId: string): Promise<CampaignProgress | undefined>;
  contacts(campaignId: string): Promise<ContactState[]>;
  /** A call of a dialer campaign ended (its record is final): free its slot, retry or finish the contact. */
  onCallEnded(record: CallRecord): Promise<void>;
  /** A queued attempt was canceled through the API before it was placed. */
  cancelQueued(record: CallRecord): Promise<boolean>;
  /** The agent promised a callback: dial the customer at the requested time through the callbacks campaign. */
  scheduleCallback(record: CallRecord, request: CallbackRequest): Promise<ContactState | undefined>;
  /** Starts consuming the queues (every replica that should dial calls this). */
  start(): void;
  close(): Promise<void>;
}

export const DEFAULT_RETRY: RetryPolicy = { maxAttempts: 1, retryOn: ['busy', 'no-answer', 'failed'], backoffS: 300 };

const notFound = (id: string) =>
  new GatewayError('GW_ERR_NOT_FOUND', `no campaign ${id}`, { detail: { campaignId: id } });

export function createDialer(deps: DialerDeps): Dialer {
  const ctx = createDialerContext(deps);
  let sweepTimer: unknown;
  const dialer: Dialer = {
    async startCampaign(input) {
      const id = input.campaignId ?? `cmp-${ctx.newId()}`;
      if (id === CALLBACKS_CAMPAIGN) throw new InvalidStateError(`campaign id '${CALLBACKS_CAMPAIGN}' is reserved`);
      const def: CampaignDef = {
        id,
        openingReason: input.openingReason,
        objective: input.objective,
        maxConcurrent: input.maxConcurrent,
        callsPerSecond: Math.min(input.callsPerSecond ?? ctx.config.plivo.cps, ctx.config.plivo.cps),
        retry: { ...DEFAULT_RETRY, ...input.retry },
        window: input.window,
        timezone: input.timezone ?? 'UTC',
        machineDetection: input.machineDetection ?? 'true',
        createdAt: new Date(ctx.clock.now()).toISOString(),
      };
      const contacts: ContactState[] = input.contacts.map((c, i) => ({
        id: String(i),
        phoneNumber: c.phoneNumber,
        timezone: c.timezone,
        variables: c.variables,
        status: 'pending',
        attempts: 0,
        callIds: [],
      }));
      if (!(await ctx.state.createCampaign(def, contacts))) {
        throw new InvalidStateError(`campaign ${id} already exists`, { detail: { campaignId: id } });
      }
      if (contacts.length === 0) await ctx.state.setState(id, 'completed');
      const now = ctx.clock.now();
      const due: string[] = [];
      for (const c of contacts) {
        if (delayUntilWindow(now, def.window, tzOf(def, c)) === 0) due.push(c.id);
        else await makeDue(ctx, def, c);
      }
      await ctx.state.pushReady(id, due);
      ctx.log.info({ campaignId: id, contacts: contacts.length }, 'campaign started');
      await pump(ctx, id);
      return def;
    },
    async pause(campaignId) {
      const info = await ctx.state.getCampaign(campaignId);
      if (!info) throw notFound(campaignId);
      await ctx.state.setState(campaignId, 'paused', ['running']);
      return (await ctx.state.getCampaign(campaignId))!.state;
    },
    async resume(campaignId) {
      const info = await ctx.state.getCampaign(campaignId);
      if (!info) throw notFound(campaignId);
      await ctx.state.setState(campaignId, 'running', ['paused']);
      await pump(ctx, campaignId);
      return (await ctx.state.getCampaign(campaignId))!.state;
    },
    async cancel(campaignId) {
      const info = await ctx.state.getCampaign(campaignId);
      if (!info) throw notFound(campaignId);
      if (info.state === 'completed') return info.state;
      await ctx.state.setState(campaignId, 'canceled', ['running', 'paused']);
      const now = (await ctx.state.getCampaign(campaignId))!;
      // Calls already talking to a customer are left to finish; everything not yet placed stops here.
      for (const c of await ctx.state.getContacts(campaignId)) {
        if (c.status === 'pending' || c.status === 'scheduled') await cancelContact(ctx, now, c);
      }
      return now.state;
    },
    async progress(campaignId) {
      const info = await ctx.state.getCampaign(campaignId);
      if (!info) return undefined;
      const byStatus: Record<ContactStatus, number> = {
        pending: 0,
        scheduled: 0,
        dialing: 0,
        'in-progress': 0,
        done: 0,
        canceled: 0,
      };
      let attempts = 0;
      const contacts = await ctx.state.getContacts(campaignId);
      for (const c of contacts) {
        byStatus[c.status]++;
        attempts += c.attempts;
      }
      return {
        state: info.state,
        contacts: contacts.length,
        remaining: info.remaining,
        byStatus,
        attempts,
        activeSlots: await ctx.state.activeSlots(campaignId, ctx.clock.now()),
        maxConcurrent: info.def.maxConcurrent,
        callsPerSecond: info.def.callsPerSecond,
      };
    },
    contacts: (campaignId) => ctx.state.getContacts(campaignId),
    async onCallEnded(record) {
      if (!record.campaignId || record.contactId === undefined || !isTerminal(record.status)) return;
      const info = await ctx.state.getCampaign(record.campaignId);
      if (!info) return;
      await attemptEnded(ctx, info, record.contactId, record);
    },
    async cancelQueued(record) {
      if (!record.campaignId || record.contactId === undefined) return false;
      const updated = await markRecord(ctx, record.id, 'canceled', { endReason: 'canceled-before-dial' });
      if (updated?.status !== 'canceled') return false;
      const info = await ctx.state.getCampaign(record.campaignId);
      if (info) await attemptEnded(ctx, info, record.contactId, updated);
      return true;
    },
    async scheduleCallback(record, request) {
      const atMs = Date.parse(request.at);
      if (Number.isNaN(atMs)) {
        ctx.log.warn({ callId: record.id }, 'callback request has an unreadable time; ignored');
        return undefined;
      }
      const phoneNumber = toE164(request.phoneNumber ?? '') ?? record.to;
      if (blockedPrefix(phoneNumber, ctx.config.outbound.blockedPrefixes)) {
        // A caller may ask to be called back on any number; premium-rate ones are refused like in campaigns.
        ctx.log.warn({ callId: record.id }, 'callback number has a blocked prefix; not scheduled');
        return undefined;
      }
      const info = await ensureCallbacksCampaign(ctx);
      const day = new Date(Date.parse(request.requestedAt) || ctx.clock.now()).toISOString().slice(0, 10);
      const [contact] = await ctx.state.addContacts(CALLBACKS_CAMPAIGN, [
        {
          phoneNumber,
          variables: record.variables,
          openingReason: `callback you requested on ${day} about ${request.reason}`,
          objective: record.objective ?? `follow up on: ${request.reason}`,
          callbackOf: record.id,
          status: 'scheduled',
          attempts: 0,
          callIds: [],
          nextAt: atMs,
        },
      ]);
      if (!contact) return undefined;
      await makeDue(ctx, info.def, contact);
      await pump(ctx, CALLBACKS_CAMPAIGN);
      ctx.log.info({ callId: record.id, contactId: contact.id }, 'callback scheduled');
      return contact;
    },
    start() {
      ctx.deps.dialQueue.start((job) => handle(ctx, job));
      ctx.deps.wakeQueue.start((job) => handle(ctx, job));
      const sweep = () => {
        if (ctx.closed) return;
        if (ctx.draining()) pauseQueues(ctx);
        void (async () => {
          for (const id of await ctx.state.activeCampaigns()) {
            await reconcile(ctx, id);
            await pump(ctx, id);
          }
        })()
          .catch((err: unknown) => ctx.log.warn({ err }, 'dialer sweep failed'))
          .finally(() => {
            if (!ctx.closed) sweepTimer = ctx.clock.setTimeout(sweep, ctx.deps.sweepMs ?? 30_000);
          });
      };
      sweepTimer = ctx.clock.setTimeout(sweep, ctx.deps.sweepMs ?? 30_000);
    },
    async close() {
      if (ctx.closed) return;
      ctx.closed = true;
      if (sweepTimer !== undefined) ctx.clock.clearTimeout(sweepTimer);
      await ctx.deps.dialQueue.close();
      await ctx.deps.wakeQueue.close();
      await ctx.state.close();
    },
  };
  return dialer;
}

export async function ensureCallbacksCampaign(ctx: DialerCtx): Promise<CampaignInfo> {
  const existing = await ctx.state.getCampaign(CALLBACKS_CAMPAIGN);
  if (existing) {
    if (existing.state === 'completed') await ctx.state.setState(CALLBACKS_CAMPAIGN, 'running', ['completed']);
    return (await ctx.state.getCampaign(CALLBACKS_CAMPAIGN))!;
  }
  const def: CampaignDef = {
    id: CALLBACKS_CAMPAIGN,
    openingReason: 'the callback you requested',
    maxConcurrent: 10,
    callsPerSecond: ctx.config.plivo.cps,
    retry: { maxAttempts: 2, retryOn: ['busy', 'no-answer', 'failed'], backoffS: 600 },
    timezone: 'UTC',
    machineDetection: 'true',
    createdAt: new Date(ctx.clock.now()).toISOString(),
  };
  await ctx.state.createCampaign(def, []);
  return (await ctx.state.getCampaign(CALLBACKS_CAMPAIGN))!;
}

// The campaign dialer. One algorithm for one process or many replicas: all shared state goes through DialerState
// (atomic operations) and all waiting through DialQueue (delayed jobs), so it is the same code over memory or Redis.
//
// A contact moves pending → dialing (holds a concurrency slot) → in-progress (Plivo placed the call) → done, or back
// to scheduled (retry backoff, calling window, callback time) and pending again when due. A slot is taken before
// the dial job is queued and freed when the call's hangup arrives, so the campaign never has more than
// max_concurrent calls out; each dial time is paced at the campaign's calls_per_second, and the dial queue's rate
// limiter holds the Plivo account's CPS across campaigns and replicas.
import { randomUUID } from 'node:crypto';
import type { Config } from '../config.ts';
import { GatewayError, InvalidStateError, PlivoApiError, errorMessage } from '../errors.ts';
import { childLogger } from '../log.ts';
import type { PlivoApi } from '../plivo/api-types.ts';
import type { CallbackRequest, CallRecord, CallStatus, CallStore } from '../store/types.ts';
import type { Clock } from './clock.ts';
import type {
  CampaignDef,
  CampaignInfo,
  ContactState,
  ContactStatus,
  DialJob,
  DialQueue,
  DialerState,
  MachineDetection,
  RetryPolicy,
} from './dialer-types.ts';
import { blockedPrefix } from './contacts.ts';
import { toE164 } from './phone.ts';
import { CallPlacedError, placeCall } from './place-call.ts';
import { applyHangup, isTerminal, withStatus } from '../calls/status-updates.ts';
import { newOutboundRecord } from './records.ts';
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

export interface DialerDeps {
  config: Config;
  store: CallStore;
  plivo: PlivoApi;
  state: DialerState;
  /** Dial jobs; its rate limiter should be the account CPS. */
  dialQueue: DialQueue;
  /** Wake-ups of scheduled contacts; no rate limit. */
  wakeQueue: DialQueue;
  clock: Clock;
  /** Base URL Plivo calls back (default config.server.publicUrl; the gateway knows it once listening). */
  publicUrl?: () => string;
  /** A slot whose hangup never arrives is freed after this long. */
  leaseMs?: number;
  /** Backoff of a dial that Plivo rate-limited (429): base, doubling, capped. */
  rateLimitedRetryMs?: { baseMs: number; maxMs: number };
  /** How often each replica re-pumps active campaigns (recovers expired slots) and reconciles leases. */
  sweepMs?: number;
  /**
   * A call placed this long ago (since its last status change) with no final status is checked against Plivo's
   * call state on each sweep: a slot held for a call that has ended comes back even if its hangup never arrived.
   */
  reconcileAfterMs?: number;
  /** How long a dial keeps trying to record Plivo's call uuid (store down) once Plivo has placed the call. */
  linkRetryMs?: number;
  /** A draining replica claims no dial work and hands back what it had claimed. */
  isDraining?: () => boolean;
  newId?: () => string;
}

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
  const { config, store, state, clock } = deps;
  const log = childLogger({ component: 'dialer' });
  const leaseMs = deps.leaseMs ?? 4 * 3600_000;
  const rl = deps.rateLimitedRetryMs ?? { baseMs: 1000, maxMs: 30_000 };
  const newId = deps.newId ?? randomUUID;
  const publicUrl = deps.publicUrl ?? (() => config.server.publicUrl);
  const reconcileAfterMs = deps.reconcileAfterMs ?? 120_000;
  const linkRetryMs = deps.linkRetryMs ?? 15 * 60_000;
  const draining = () => deps.isDraining?.() === true;
  let sweepTimer: unknown;
  let queuesPaused = false;
  /** Plivo lookups of calls not heard from, by call uuid: how many so far and when the next one is due. */
  const lookedUp = new Map<string, { n: number; nextAt: number }>();
  let closed = false;

  const tzOf = (def: CampaignDef, c: ContactState) => c.timezone ?? def.timezone;

  /** Queues a contact that is due (or schedules its wake-up when it is not yet, or outside its window). */
  async function makeDue(def: CampaignDef, contact: ContactState): Promise<void> {
    const now = clock.now();
    const dueIn = Math.max(0, (contact.nextAt ?? 0) - now);
    const delay = dueIn > 0 ? dueIn : delayUntilWindow(now, def.window, tzOf(def, contact));
    if (delay <= 0) {
      const r = await state.updateContact(def.id, contact.id, (c) =>
        c.status === 'scheduled' || c.status === 'pending' ? { ...c, status: 'pending', nextAt: undefined } : undefined,
      );
      if (r?.changed) await state.pushReady(def.id, [contact.id]);
      return;
    }
    const at = now + delay;
    const r = await state.updateContact(def.id, contact.id, (c) =>
      c.status === 'scheduled' || c.status === 'pending' ? { ...c, status: 'scheduled', nextAt: at } : undefined,
    );
    if (!r?.changed) return;
    await deps.wakeQueue.add(
      `${def.id}.${contact.id}.w${r.contact.attempts}.${at}`,
      { kind: 'wake', campaignId: def.id, contactId: contact.id },
      delay,
    );
  }

  /** Gives free slots to ready contacts and queues their dials at the campaign's pace. */
  async function pump(campaignId: string): Promise<void> {
    // A draining replica takes no slots: the ready replicas' sweeps (and their callbacks) dial what is left.
    if (closed || draining()) return;
    const now = clock.now();
    const taken = await state.take(campaignId, now, leaseMs);
    if (taken.length === 0) return;
    const info = await state.getCampaign(campaignId);
    if (!info) return;
    for (const { contactId, atMs } of taken) {
      const callId = newId();
      const r = await state.updateContact(campaignId, contactId, (c) =>
        c.status === 'pending'
          ? { ...c, status: 'dialing', callId: c.callId ?? callId, takes: (c.takes ?? 0) + 1, dueAt: atMs }
          : undefined,
      );
      if (!r?.changed) {
        await state.release(campaignId, contactId);
        continue;
      }
      const contact = r.contact;
      try {
        await queueDial(info, contact, atMs);
      } catch (err) {
        // Put the contact back as it was, so that a store or queue outage does not strand it in 'dialing'.
        log.warn({ campaignId, contactId, err: errorMessage(err) }, 'could not queue a dial; contact put back');
        await state.updateContact(campaignId, contactId, (c) =>
          c.status === 'dialing' ? { ...c, status: 'pending' } : undefined,
        );
        await state.release(campaignId, contactId);
        await state.pushReady(campaignId, [contactId], true);
        throw err;
      }
    }
  }

  async function queueDial(info: CampaignInfo, contact: ContactState, atMs: number): Promise<void> {
    const campaignId = info.def.id;
    const contactId = contact.id;
    const callId = contact.callId!;
    // The record of this attempt may exist already: a contact handed back by a pause keeps its queued record.
    if (!(await store.get(callId))) {
      await store.create(
        newOutboundRecord({
          id: callId,
          from: config.plivo.phoneNumber,
          to: contact.phoneNumber,
          campaignId,
          contactId,
          openingReason: contact.openingReason ?? info.def.openingReason,
          objective: contact.objective ?? info.def.objective,
          variables: contact.variables,
          attempt: contact.attempts + 1,
          callbackOf: contact.callbackOf,
          nowMs: clock.now(),
        }),
      );
    }
    // One job id per slot taken: a re-queued contact (after a pause) gets a new job, a duplicate add does not.
    await deps.dialQueue.add(
      `${campaignId}.${contactId}.${callId}.${contact.takes ?? 0}.0`,
      { kind: 'dial', campaignId, contactId, callId, dialTry: 0, take: contact.takes ?? 0 },
      atMs - clock.now(),
    );
  }

  async function finishContact(campaignId: string): Promise<void> {
    const remaining = await state.finishContact(campaignId);
    if (remaining === 0 && (await state.setState(campaignId, 'completed', ['running', 'paused']))) {
      log.info({ campaignId }, 'campaign completed');
    }
  }

  /** The current attempt of a contact ended with `record`'s status: retry, or finish the contact. */
  async function attemptEnded(info: CampaignInfo, contactId: string, record: CallRecord): Promise<void> {
    const { def } = info;
    const status = record.status;
    const canRetry = info.state !== 'canceled' && def.retry.retryOn.includes(status);
    const r = await state.updateContact(def.id, contactId, (c) => {
      if (c.callId !== record.id || (c.status !== 'dialing' && c.status !== 'in-progress')) return undefined;
      const attempts = Math.max(c.attempts, record.attempt ?? c.attempts);
      const base = { ...c, attempts, callId: undefined, callIds: [...c.callIds, record.id], lastStatus: status };
      if (canRetry && attempts < def.retry.maxAttempts) {
        return { ...base, status: 'scheduled' as const, nextAt: clock.now() + def.retry.backoffS * 1000 };
      }
      return { ...base, status: status === 'canceled' ? ('canceled' as const) : ('done' as const), nextAt: undefined };
    });
    if (!r?.changed) return;
    await state.release(def.id, contactId);
    if (r.contact.status === 'scheduled') await makeDue(def, r.contact);
    else await finishContact(def.id);
    await pump(def.id);
  }

  async function markRecord(callId: string, status: CallStatus, extra: Partial<CallRecord> = {}) {
    return store.update(callId, (rec) => {
      if (isTerminal(rec.status)) return rec;
      const now = clock.now();
      return { ...withStatus(rec, status, now), endedAt: new Date(now).toISOString(), ...extra };
    });
  }

  async function cancelContact(info: CampaignInfo, contact: ContactState): Promise<void> {
    const r = await state.updateContact(info.def.id, contact.id, (c) =>
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
    if (contact.callId) await markRecord(contact.callId, 'canceled', { endReason: 'campaign-canceled' });
    await state.release(info.def.id, contact.id);
    await finishContact(info.def.id);
  }

  async function processDial(job: Extract<DialJob, { kind: 'dial' }>): Promise<void> {
    const info = await state.getCampaign(job.campaignId);
    const contact = await state.getContact(job.campaignId, job.contactId);
    if (!info || !contact || contact.callId !== job.callId || contact.status !== 'dialing') return;
    // A job of an earlier slot-taking (handed back by a pause, a drain or a reconciliation) dials nothing.
    if ((job.take ?? 0) !== (contact.takes ?? 0)) return;
    if (info.state === 'canceled') return cancelContact(info, contact);
    if (info.state === 'paused' || draining()) {
      // Hand the slot back; resume() (or a ready replica's pump, when draining) queues the contact first.
      const r = await state.updateContact(info.def.id, contact.id, (c) =>
        c.status === 'dialing' && c.callId === job.callId ? { ...c, status: 'pending' } : undefined,
      );
      if (r?.changed) {
        if (info.state !== 'paused')
          log.info({ campaignId: info.def.id, contactId: contact.id }, 'draining: contact handed back');
        await state.release(info.def.id, contact.id);
        await state.pushReady(info.def.id, [contact.id], true);
      }
      return;
    }
    const outside = delayUntilWindow(clock.now(), info.def.window, tzOf(info.def, contact));
    if (outside > 0) {
      const r = await state.updateContact(info.def.id, contact.id, (c) =>
        c.status === 'dialing' && c.callId === job.callId ? { ...c, status: 'scheduled' } : undefined,
      );
      if (r?.changed) {
        await state.release(info.def.id, contact.id);
        await makeDue(info.def, r.contact);
        await pump(info.def.id);
      }
      return;
    }
    const record = await store.get(job.callId);
    if (!record) return;
    if (record.status !== 'queued' || record.plivoCallUuid) {
      if (isTerminal(record.status)) await attemptEnded(info, contact.id, record);
      return;
    }
    // The once-only guard against dialing a contact twice, whatever the queue does (redelivery, two replicas).
    if (!(await state.claim(`dial.${job.callId}.${job.take ?? 0}.${job.dialTry}`, 86_400_000))) return;
    try {
      await placeCall({ publicUrl, store, plivo: deps.plivo }, record, info.def.machineDetection, {
        linkRetryMs,
        isClosed: () => closed,
      });
    } catch (err) {
      if (err instanceof PlivoApiError && err.status === 429) {
        // Not an attempt: Plivo refused before dialing. Try again later, keeping the slot.
        const delay = Math.min(rl.maxMs, rl.baseMs * 2 ** Math.min(job.dialTry, 16)) * (0.75 + Math.random() / 2);
        log.warn(
          { campaignId: job.campaignId, callId: job.callId, delayMs: Math.round(delay) },
          'plivo rate-limited a dial; retrying',
        );
        await deps.dialQueue.add(
          `${job.campaignId}.${job.contactId}.${job.callId}.${job.take ?? 0}.${job.dialTry + 1}`,
          { ...job, dialTry: job.dialTry + 1 },
          delay,
        );
        return;
      }
      if (err instanceof CallPlacedError) {
        // Plivo placed the call but we could not record it: leave the contact 'dialing' with its slot; the
        // reconciliation (or the call's hangup) settles it. Marking it failed would dial the contact again.
        log.error({ campaignId: job.campaignId, callId: job.callId, err: errorMessage(err) }, 'placed call unlinked');
        return;
      }
      log.warn({ campaignId: job.campaignId, callId: job.callId, err }, 'dial failed');
      const failed = await markRecord(job.callId, 'failed', { hangupCause: `plivo_error: ${errorMessage(err)}` });
      if (failed) await attemptEnded(info, contact.id, failed);
      return;
    }
    const placed = await state.updateContact(info.def.id, contact.id, (c) =>
      c.callId === job.callId && c.status === 'dialing'
        ? { ...c, status: 'in-progress', attempts: Math.max(c.attempts, record.attempt ?? c.attempts + 1) }
        : undefined,
    );
    if (!placed?.changed) {
      // Canceled while Plivo was placing it: end the call we just started.
      const now = await store.get(job.callId);
      if (now?.plivoCallUuid && now.status === 'canceled') {
        await deps.plivo.hangupCall(now.plivoCallUuid).catch(() => {});
      }
    }
  }

  async function processWake(job: Extract<DialJob, { kind: 'wake' }>): Promise<void> {
    const info = await state.getCampaign(job.campaignId);
    const contact = await state.getContact(job.campaignId, job.contactId);
    if (!info || !contact || contact.status !== 'scheduled') return;
    if (info.state === 'canceled') return cancelContact(info, contact);
    if ((contact.nextAt ?? 0) > clock.now() + 5) return; // a later wake-up is already booked
    await makeDue(info.def, { ...contact, nextAt: undefined });
    await pump(info.def.id);
  }

  async function handle(job: DialJob): Promise<void> {
    if (closed) return;
    if (draining()) pauseQueues();
    if (job.kind === 'dial') await processDial(job);
    else await processWake(job);
  }

  /** Gives a contact's slot back and queues it again (first in line). */
  async function handBack(campaignId: string, contactId: string, callId: string, why: string): Promise<void> {
    const r = await state.updateContact(campaignId, contactId, (c) =>
      c.status === 'dialing' && c.callId === callId ? { ...c, status: 'pending' } : undefined,
    );
    if (!r?.changed) return;
    log.warn({ campaignId, contactId, why }, 'contact handed back');
    await state.release(campaignId, contactId);
    await state.pushReady(campaignId, [contactId], true);
  }

  /** Stops this replica's workers from claiming more jobs (a drain); jobs stay queued for the ready replicas. */
  function pauseQueues(): void {
    if (queuesPaused) return;
    queuesPaused = true;
    log.info('draining: the dialer stops claiming work');
    void Promise.all([deps.dialQueue.pause?.(), deps.wakeQueue.pause?.()]).catch((err: unknown) =>
      log.warn({ err: errorMessage(err) }, 'could not pause the dial queues'),
    );
  }

  /**
   * Gives back slots held for calls that have ended although their end was never applied to the campaign: the record
   * is final already (its hangup was applied but the dialer step failed), or Plivo says the call is over (the hangup
   * callback was lost). The source of truth for a placed call is Plivo's call state.
   */
  async function reconcile(campaignId: string): Promise<void> {
    const now = clock.now();
    for (const [uuid, seen] of lookedUp) if (now - seen.nextAt > 3600_000) lookedUp.delete(uuid);
    const info = await state.getCampaign(campaignId);
    if (!info || info.state === 'completed') return;
    for (const c of await state.getContacts(campaignId)) {
      if (closed) return;
      if ((c.status !== 'in-progress' && c.status !== 'dialing') || !c.callId) continue;
      const stale = clock.now() - (c.dueAt ?? 0) >= reconcileAfterMs;
      let record = await store.get(c.callId);
      if (!record) {
        // Its slot was taken but its dial never queued (the store failed in between): no call can exist.
        if (c.status === 'dialing' && stale) await handBack(info.def.id, c.id, c.callId, 'dial never queued');
        continue;
      }
      if (record.status === 'queued' && !record.plivoCallUuid) {
        // Queued but never placed: its dial job may be lost (a queue outage). Queue the same try again; the
        // once-only claim of the try keeps it from being dialled twice if the first job still runs.
        if (c.status === 'dialing' && stale) {
          await deps.dialQueue.add(
            `${campaignId}.${c.id}.${c.callId}.${c.takes ?? 0}.0.r${clock.now()}`,
            { kind: 'dial', campaignId, contactId: c.id, callId: c.callId, dialTry: 0, take: c.takes ?? 0 },
            0,
          );
        }
        continue;
      }
      if (!isTerminal(record.status)) {
        const uuid = record.plivoCallUuid;
        const last = Date.parse(record.timeline.at(-1)?.at ?? record.createdAt);
        if (!uuid || !deps.plivo.getCall || clock.now() - last < reconcileAfterMs) continue;
        // A long call is looked up again less and less often (doubling up to 15 min), not on every sweep.
        const seen = lookedUp.get(uuid);
        if (seen && clock.now() < seen.nextAt) continue;
        const n = (seen?.n ?? 0) + 1;
        lookedUp.set(uuid, { n, nextAt: clock.now() + Math.min(15 * 60_000, reconcileAfterMs * 2 ** (n - 1)) });
        const call = await deps.plivo.getCall(uuid).catch((err: unknown) => {
          log.warn({ callId: record?.id, err: errorMessage(err) }, 'reconcile: could not read the call from Plivo');
          return undefined;
        });
        if (!call?.endTime) continue;
        const raw: Record<string, string> = { CallUUID: uuid, Direction: 'outbound' };
        const ended = await applyHangup(
          store,
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
          { now: () => clock.now(), linkWaitMs: 0 },
        );
        if (!ended || !isTerminal(ended.status)) continue;
        log.warn({ campaignId, callId: ended.id, status: ended.status }, 'reconcile: call ended without its hangup');
        record = ended;
      }
      await attemptEnded(info, c.id, record);
    }
  }

  async function ensureCallbacksCampaign(): Promise<CampaignInfo> {
    const existing = await state.getCampaign(CALLBACKS_CAMPAIGN);
    if (existing) {
      if (existing.state === 'completed') await state.setState(CALLBACKS_CAMPAIGN, 'running', ['completed']);
      return (await state.getCampaign(CALLBACKS_CAMPAIGN))!;
    }
    const def: CampaignDef = {
      id: CALLBACKS_CAMPAIGN,
      openingReason: 'the callback you requested',
      maxConcurrent: 10,
      callsPerSecond: config.plivo.cps,
      retry: { maxAttempts: 2, retryOn: ['busy', 'no-answer', 'failed'], backoffS: 600 },
      timezone: 'UTC',
      machineDetection: 'true',
      createdAt: new Date(clock.now()).toISOString(),
    };
    await state.createCampaign(def, []);
    return (await state.getCampaign(CALLBACKS_CAMPAIGN))!;
  }

  const dialer: Dialer = {
    async startCampaign(input) {
      const id = input.campaignId ?? `cmp-${newId()}`;
      if (id === CALLBACKS_CAMPAIGN) throw new InvalidStateError(`campaign id '${CALLBACKS_CAMPAIGN}' is reserved`);
      const def: CampaignDef = {
        id,
        openingReason: input.openingReason,
        objective: input.objective,
        maxConcurrent: input.maxConcurrent,
        callsPerSecond: Math.min(input.callsPerSecond ?? config.plivo.cps, config.plivo.cps),
        retry: { ...DEFAULT_RETRY, ...input.retry },
        window: input.window,
        timezone: input.timezone ?? 'UTC',
        machineDetection: input.machineDetection ?? 'true',
        createdAt: new Date(clock.now()).toISOString(),
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
      if (!(await state.createCampaign(def, contacts))) {
        throw new InvalidStateError(`campaign ${id} already exists`, { detail: { campaignId: id } });
      }
      if (contacts.length === 0) await state.setState(id, 'completed');
      const now = clock.now();
      const due: string[] = [];
      for (const c of contacts) {
        if (delayUntilWindow(now, def.window, tzOf(def, c)) === 0) due.push(c.id);
        else await makeDue(def, c);
      }
      await state.pushReady(id, due);
      log.info({ campaignId: id, contacts: contacts.length }, 'campaign started');
      await pump(id);
      return def;
    },
    async pause(campaignId) {
      const info = await state.getCampaign(campaignId);
      if (!info) throw notFound(campaignId);
      await state.setState(campaignId, 'paused', ['running']);
      return (await state.getCampaign(campaignId))!.state;
    },
    async resume(campaignId) {
      const info = await state.getCampaign(campaignId);
      if (!info) throw notFound(campaignId);
      await state.setState(campaignId, 'running', ['paused']);
      await pump(campaignId);
      return (await state.getCampaign(campaignId))!.state;
    },
    async cancel(campaignId) {
      const info = await state.getCampaign(campaignId);
      if (!info) throw notFound(campaignId);
      if (info.state === 'completed') return info.state;
      await state.setState(campaignId, 'canceled', ['running', 'paused']);
      const now = (await state.getCampaign(campaignId))!;
      // Calls already talking to a customer are left to finish; everything not yet placed stops here.
      for (const c of await state.getContacts(campaignId)) {
        if (c.status === 'pending' || c.status === 'scheduled') await cancelContact(now, c);
      }
      return now.state;
    },
    async progress(campaignId) {
      const info = await state.getCampaign(campaignId);
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
      const contacts = await state.getContacts(campaignId);
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
        activeSlots: await state.activeSlots(campaignId, clock.now()),
        maxConcurrent: info.def.maxConcurrent,
        callsPerSecond: info.def.callsPerSecond,
      };
    },
    contacts: (campaignId) => state.getContacts(campaignId),
    async onCallEnded(record) {
      if (!record.campaignId || record.contactId === undefined || !isTerminal(record.status)) return;
      const info = await state.getCampaign(record.campaignId);
      if (!info) return;
      await attemptEnded(info, record.contactId, record);
    },
    async cancelQueued(record) {
      if (!record.campaignId || record.contactId === undefined) return false;
      const updated = await markRecord(record.id, 'canceled', { endReason: 'canceled-before-dial' });
      if (updated?.status !== 'canceled') return false;
      const info = await state.getCampaign(record.campaignId);
      if (info) await attemptEnded(info, record.contactId, updated);
      return true;
    },
    async scheduleCallback(record, request) {
      const atMs = Date.parse(request.at);
      if (Number.isNaN(atMs)) {
        log.warn({ callId: record.id }, 'callback request has an unreadable time; ignored');
        return undefined;
      }
      const phoneNumber = toE164(request.phoneNumber ?? '') ?? record.to;
      if (blockedPrefix(phoneNumber, config.outbound.blockedPrefixes)) {
        // A caller may ask to be called back on any number; premium-rate ones are refused like in campaigns.
        log.warn({ callId: record.id }, 'callback number has a blocked prefix; not scheduled');
        return undefined;
      }
      const info = await ensureCallbacksCampaign();
      const day = new Date(Date.parse(request.requestedAt) || clock.now()).toISOString().slice(0, 10);
      const [contact] = await state.addContacts(CALLBACKS_CAMPAIGN, [
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
      await makeDue(info.def, contact);
      await pump(CALLBACKS_CAMPAIGN);
      log.info({ callId: record.id, contactId: contact.id }, 'callback scheduled');
      return contact;
    },
    start() {
      deps.dialQueue.start(handle);
      deps.wakeQueue.start(handle);
      const sweep = () => {
        if (closed) return;
        if (draining()) pauseQueues();
        void (async () => {
          for (const id of await state.activeCampaigns()) {
            await reconcile(id);
            await pump(id);
          }
        })()
          .catch((err: unknown) => log.warn({ err }, 'dialer sweep failed'))
          .finally(() => {
            if (!closed) sweepTimer = clock.setTimeout(sweep, deps.sweepMs ?? 30_000);
          });
      };
      sweepTimer = clock.setTimeout(sweep, deps.sweepMs ?? 30_000);
    },
    async close() {
      if (closed) return;
      closed = true;
      if (sweepTimer !== undefined) clock.clearTimeout(sweepTimer);
      await deps.dialQueue.close();
      await deps.wakeQueue.close();
      await state.close();
    },
  };
  return dialer;
}

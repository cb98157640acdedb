// The dialer's algorithm on the in-process queue with a manual clock: every delay (pacing, backoff, windows,
// callbacks) is driven by advancing time, so nothing here waits on wall-clock time. Plivo is a fake PlivoApi whose
// calls end on the same clock and report their hangup through the real status-update path.
import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import type { HangupInfo } from '../../src/contract/call.ts';
import { emulatorEnv } from '../../src/demo/emulator-env.ts';
import { PlivoApiError } from '../../src/errors.ts';
import { createManualClock, type ManualClock } from '../../src/outbound/clock.ts';
import { CALLBACKS_CAMPAIGN } from '../../src/outbound/dialer.ts';
import { createOutbound, type Outbound } from '../../src/outbound/index.ts';
import type { MakeCallParams, PlivoApi } from '../../src/plivo/api-types.ts';
import { createMemoryCallStore } from '../../src/store/memory.ts';
import type { CallStore } from '../../src/store/types.ts';

type Fate = { status: 'completed' | 'busy' | 'no-answer' | 'failed'; afterMs: number };

interface Rig {
  clock: ManualClock;
  store: CallStore;
  outbound: Outbound;
  dials: Array<{ to: string; at: number; uuid: string; params: MakeCallParams }>;
  maxLive: () => number;
  rateLimited: () => number;
  close(): Promise<void>;
}

const START = Date.parse('2026-03-02T12:00:00Z');
let rigs: Rig[] = [];
afterEach(async () => {
  for (const r of rigs) await r.close();
  rigs = [];
});

function rig(
  o: {
    cps?: number;
    fate?: (to: string, nth: number) => Fate;
    rateLimitFirst?: number;
    /** makeCall fails with this HTTP status for these numbers (first try only). */
    failOnce?: { numbers: string[]; status: number };
    leaseMs?: number;
    sweepMs?: number;
  } = {},
): Rig {
  const clock = createManualClock(START);
  const config = loadConfig(emulatorEnv({ PLIVO_CPS: String(o.cps ?? 2), OUTBOUND_API_KEY: 'k' }));
  const store = createMemoryCallStore({ now: () => clock.now() });
  const dials: Rig['dials'] = [];
  const perNumber = new Map<string, number>();
  let live = 0;
  let maxLive = 0;
  let rateLimited = 0;
  let outbound: Outbound | undefined;
  const plivo: PlivoApi = {
    async makeCall(params) {
      if (rateLimited < (o.rateLimitFirst ?? 0)) {
        rateLimited++;
        throw new PlivoApiError('too many requests', 429);
      }
      const nth = (perNumber.get(params.to) ?? 0) + 1;
      perNumber.set(params.to, nth);
      if (nth === 1 && o.failOnce?.numbers.includes(params.to)) {
        throw new PlivoApiError('number not reachable', o.failOnce.status);
      }
      const uuid = randomUUID();
      dials.push({ to: params.to, at: clock.now(), uuid, params });
      live++;
      maxLive = Math.max(maxLive, live);
      const fate = o.fate?.(params.to, nth) ?? { status: 'completed', afterMs: 10_000 };
      clock.setTimeout(() => {
        live--;
        const info: HangupInfo = {
          callId: uuid,
          status: fate.status,
          hangupCause: fate.status === 'completed' ? 'NORMAL_CLEARING' : 'USER_BUSY',
          hangupSource: 'Callee',
          durationS: fate.status === 'completed' ? fate.afterMs / 1000 : 0,
          billDurationS: 0,
          answerTime: fate.status === 'completed' ? 'x' : '',
          endTime: undefined,
          machine: undefined,
          raw: { Direction: 'outbound', CallUUID: uuid },
        };
        void outbound!.onHangup(info);
      }, fate.afterMs);
      return { apiId: 'api', requestUuid: uuid };
    },
    async hangupCall() {},
    async transferCall() {},
    async sendSms() {
      return { messageUuids: [] };
    },
    async configureNumber() {
      return { appId: 'a' };
    },
  };
  outbound = createOutbound({
    config,
    store,
    plivo,
    clock,
    queue: 'memory',
    applyOptions: { linkWaitMs: 0 },
    dialer: { rateLimitedRetryMs: { baseMs: 1000, maxMs: 4000 }, leaseMs: o.leaseMs, sweepMs: o.sweepMs },
  });
  const r: Rig = {
    clock,
    store,
    outbound,
    dials,
    maxLive: () => maxLive,
    rateLimited: () => rateLimited,
    async close() {
      await outbound!.close();
      await store.close();
    },
  };
  rigs.push(r);
  return r;
}

const contacts = (n: number, tz?: string) =>
  Array.from({ length: n }, (_, i) => ({ phoneNumber: `+1415555${String(1000 + i).padStart(4, '0')}`, timezone: tz }));

async function runFor(r: Rig, ms: number, step = 250) {
  for (let t = 0; t < ms; t += step) await r.clock.advance(step);
}

describe('campaign dialer (in-process queue, manual clock)', () => {
  it('dials 50 contacts once each within the concurrency cap and the CPS pace', async () => {
    const r = rig({ cps: 2 });
    await r.outbound.dialer.startCampaign({
      campaignId: 'fifty',
      contacts: contacts(50),
      openingReason: 'renewal',
      maxConcurrent: 5,
    });
    await runFor(r, 200_000, 500);
    expect(r.dials).toHaveLength(50);
    expect(new Set(r.dials.map((d) => d.to)).size).toBe(50);
    expect(r.maxLive()).toBeLessThanOrEqual(5);
    expect(r.maxLive()).toBe(5);
    for (let i = 1; i < r.dials.length; i++) expect(r.dials[i]!.at - r.dials[i - 1]!.at).toBeGreaterThanOrEqual(500);
    const p = await r.outbound.dialer.progress('fifty');
    expect(p?.state).toBe('completed');
    expect(p?.byStatus.done).toBe(50);
    expect(p?.attempts).toBe(50);
    const records = await r.store.listByCampaign('fifty');
    expect(records).toHaveLength(50);
    expect(records.every((x) => x.status === 'completed' && x.openingReason === 'renewal')).toBe(true);
  });

  it('paces at the campaign rate when it is below the account CPS', async () => {
    const r = rig({ cps: 10 });
    const def = await r.outbound.dialer.startCampaign({
      contacts: contacts(6),
      openingReason: 'x',
      maxConcurrent: 10,
      callsPerSecond: 0.5,
    });
    expect(def.callsPerSecond).toBe(0.5);
    await runFor(r, 30_000);
    expect(r.dials).toHaveLength(6);
    for (let i = 1; i < 6; i++) expect(r.dials[i]!.at - r.dials[i - 1]!.at).toBeGreaterThanOrEqual(2000);
  });

  it('retries busy and no-answer with backoff, up to max_attempts', async () => {
    const r = rig({
      fate: (to, nth) =>
        to.endsWith('1000')
          ? nth < 3
            ? { status: 'busy', afterMs: 1000 }
            : { status: 'completed', afterMs: 5000 }
          : { status: 'no-answer', afterMs: 2000 },
    });
    await r.outbound.dialer.startCampaign({
      campaignId: 'retry',
      contacts: contacts(2),
      openingReason: 'x',
      maxConcurrent: 2,
      retry: { maxAttempts: 3, retryOn: ['busy', 'no-answer'], backoffS: 60 },
    });
    await runFor(r, 400_000, 1000);
    const first = r.dials.filter((d) => d.to.endsWith('1000'));
    const second = r.dials.filter((d) => d.to.endsWith('1001'));
    expect(first).toHaveLength(3);
    expect(second).toHaveLength(3);
    expect(first[1]!.at - first[0]!.at).toBeGreaterThanOrEqual(61_000);
    const list = await r.outbound.dialer.contacts('retry');
    expect(list.map((c) => [c.status, c.attempts, c.lastStatus, c.callIds.length])).toEqual([
      ['done', 3, 'completed', 3],
      ['done', 3, 'no-answer', 3],
    ]);
    const records = await r.store.listByCampaign('retry');
    expect(records.map((x) => x.attempt).sort()).toEqual([1, 1, 2, 2, 3, 3]);
    expect((await r.outbound.dialer.progress('retry'))?.state).toBe('completed');
  });

  it('does not retry statuses outside retry_on', async () => {
    const r = rig({ fate: () => ({ status: 'failed', afterMs: 100 }) });
    await r.outbound.dialer.startCampaign({
      contacts: contacts(1),
      campaignId: 'noretry',
      openingReason: 'x',
      maxConcurrent: 1,
      retry: { maxAttempts: 5, retryOn: ['busy'], backoffS: 1 },
    });
    await runFor(r, 20_000);
    expect(r.dials).toHaveLength(1);
  });

  it('counts other Plivo errors as failed attempts, retried when failed is in retry_on', async () => {
    const r = rig({ failOnce: { numbers: ['+14155551000', '+14155551001'], status: 400 } });
    await r.outbound.dialer.startCampaign({
      campaignId: 'err',
      contacts: contacts(2),
      openingReason: 'x',
      maxConcurrent: 2,
      retry: { maxAttempts: 2, retryOn: ['failed'], backoffS: 10 },
    });
    await runFor(r, 60_000);
    expect(r.dials.map((d) => d.to).sort()).toEqual(['+14155551000', '+14155551001']);
    const list = await r.outbound.dialer.contacts('err');
    expect(list.map((c) => [c.attempts, c.lastStatus])).toEqual([
      [2, 'completed'],
      [2, 'completed'],
    ]);
    const failed = (await r.store.listByCampaign('err')).filter((x) => x.status === 'failed');
    expect(failed).toHaveLength(2);
    expect(failed[0]!.hangupCause).toMatch(/^plivo_error: /);
  });

  it('absorbs Plivo 429s: the dial is retried later and not counted as an attempt', async () => {
    const r = rig({ rateLimitFirst: 3 });
    await r.outbound.dialer.startCampaign({
      campaignId: 'rl',
      contacts: contacts(2),
      openingReason: 'x',
      maxConcurrent: 2,
      retry: { maxAttempts: 1, retryOn: ['failed'], backoffS: 1 },
    });
    await runFor(r, 60_000);
    expect(r.rateLimited()).toBe(3);
    expect(r.dials).toHaveLength(2);
    const list = await r.outbound.dialer.contacts('rl');
    expect(list.every((c) => c.attempts === 1 && c.lastStatus === 'completed')).toBe(true);
  });

  it('holds calls outside the calling window until it opens in the contact time zone', async () => {
    const r = rig();
    // 12:00 UTC on 2 March 2026 is 07:00 in New York (EST) and 13:00 in Paris.
    await r.outbound.dialer.startCampaign({
      campaignId: 'win',
      contacts: [
        { phoneNumber: '+12125550100', timezone: 'America/New_York' },
        { phoneNumber: '+33612345678', timezone: 'Europe/Paris' },
      ],
      openingReason: 'x',
      maxConcurrent: 2,
      window: { start: '09:00', end: '17:00' },
    });
    await runFor(r, 5000);
    expect(r.dials.map((d) => d.to)).toEqual(['+33612345678']);
    const c = (await r.outbound.dialer.contacts('win'))[0]!;
    expect(c.status).toBe('scheduled');
    expect(c.nextAt).toBe(Date.parse('2026-03-02T14:00:00Z'));
    await r.clock.advance(Date.parse('2026-03-02T14:00:00Z') - r.clock.now() - 1000);
    expect(r.dials).toHaveLength(1);
    await runFor(r, 3000);
    expect(r.dials).toHaveLength(2);
    expect(r.dials[1]!.at).toBeGreaterThanOrEqual(Date.parse('2026-03-02T14:00:00Z'));
  });

  it('pauses, resumes and cancels', async () => {
    const r = rig({ fate: () => ({ status: 'completed', afterMs: 3000 }) });
    await r.outbound.dialer.startCampaign({
      campaignId: 'ctl',
      contacts: contacts(10),
      openingReason: 'x',
      maxConcurrent: 2,
    });
    await runFor(r, 1000);
    expect(r.dials).toHaveLength(2);
    expect(await r.outbound.dialer.pause('ctl')).toBe('paused');
    await runFor(r, 30_000);
    // Calls already out finish; nothing new is dialed while paused.
    expect(r.dials).toHaveLength(2);
    const paused = await r.outbound.dialer.progress('ctl');
    expect(paused?.activeSlots).toBe(0);
    expect(await r.outbound.dialer.resume('ctl')).toBe('running');
    await runFor(r, 4000);
    expect(r.dials.length).toBeGreaterThan(2);
    const before = r.dials.length;
    expect(await r.outbound.dialer.cancel('ctl')).toBe('canceled');
    await runFor(r, 60_000);
    expect(r.dials.length).toBe(before);
    const p = await r.outbound.dialer.progress('ctl');
    expect(p?.state).toBe('canceled');
    expect(p!.byStatus.canceled + p!.byStatus.done).toBe(10);
    expect(p!.byStatus.canceled).toBeGreaterThan(0);
    await expect(r.outbound.dialer.pause('nope')).rejects.toMatchObject({ code: 'GW_ERR_NOT_FOUND' });
  });

  it('hands queued dials back on pause and dials them after resume', async () => {
    const r = rig({ cps: 1, fate: () => ({ status: 'completed', afterMs: 1000 }) });
    await r.outbound.dialer.startCampaign({
      campaignId: 'pr',
      contacts: contacts(3),
      openingReason: 'x',
      maxConcurrent: 3,
    });
    await r.clock.advance(100);
    expect(r.dials).toHaveLength(1);
    await r.outbound.dialer.pause('pr');
    await runFor(r, 10_000);
    expect(r.dials).toHaveLength(1);
    const parked = await r.outbound.dialer.contacts('pr');
    expect(parked.map((c) => c.status)).toEqual(['done', 'pending', 'pending']);
    await r.outbound.dialer.resume('pr');
    await runFor(r, 10_000);
    expect(r.dials.map((d) => d.to).sort()).toEqual(['+14155551000', '+14155551001', '+14155551002']);
    expect((await r.outbound.dialer.progress('pr'))?.state).toBe('completed');
    // The queued records were kept and used, one per contact.
    expect(await r.store.listByCampaign('pr')).toHaveLength(3);
  });

  it('cancels a queued attempt before it is placed', async () => {
    const r = rig({ cps: 1 });
    await r.outbound.dialer.startCampaign({
      campaignId: 'cq',
      contacts: contacts(3),
      openingReason: 'x',
      maxConcurrent: 3,
    });
    // Slots are taken at once; the dials are paced one a second, so the third is still queued.
    const queued = (await r.store.listByCampaign('cq')).find((x) => x.contactId === '2');
    expect(queued?.status).toBe('queued');
    expect(await r.outbound.dialer.cancelQueued(queued!)).toBe(true);
    await runFor(r, 20_000);
    expect(r.dials.map((d) => d.to)).not.toContain('+14155551002');
    expect((await r.store.get(queued!.id))?.status).toBe('canceled');
    const c = (await r.outbound.dialer.contacts('cq'))[2]!;
    expect(c.status).toBe('canceled');
  });

  it('dials a requested callback when it is due, with the original context', async () => {
    const r = rig();
    await r.store.create({
      id: 'orig',
      direction: 'outbound',
      from: '+14155550100',
      to: '+14155550199',
      campaignId: 'spring',
      objective: 'renew the contract',
      variables: { name: 'Ada' },
      status: 'completed',
      timeline: [],
      createdAt: new Date(START).toISOString(),
      transcript: [],
      toolCalls: [],
      callbacks: [],
      reconnects: 0,
    });
    const record = (await r.store.get('orig'))!;
    const at = new Date(START + 3600_000).toISOString();
    await r.outbound.onCallbackScheduled(record, {
      at,
      phoneNumber: '+14155550199',
      reason: 'pricing questions',
      requestedAt: new Date(START).toISOString(),
    });
    await runFor(r, 3500_000, 60_000);
    expect(r.dials).toHaveLength(0);
    await runFor(r, 200_000, 1000);
    expect(r.dials).toHaveLength(1);
    expect(r.dials[0]!.at).toBeGreaterThanOrEqual(Date.parse(at));
    const calls = await r.store.listByCampaign(CALLBACKS_CAMPAIGN);
    expect(calls).toHaveLength(1);
    expect(calls[0]!.openingReason).toBe('callback you requested on 2026-03-02 about pricing questions');
    expect(calls[0]!.callbackOf).toBe('orig');
    expect(calls[0]!.objective).toBe('renew the contract');
    expect(calls[0]!.variables).toEqual({ name: 'Ada' });
  });

  it('refuses a duplicate campaign id and the reserved callbacks id', async () => {
    const r = rig();
    await r.outbound.dialer.startCampaign({
      campaignId: 'dup',
      contacts: contacts(1),
      openingReason: 'x',
      maxConcurrent: 1,
    });
    await expect(
      r.outbound.dialer.startCampaign({
        campaignId: 'dup',
        contacts: contacts(1),
        openingReason: 'x',
        maxConcurrent: 1,
      }),
    ).rejects.toMatchObject({ code: 'GW_ERR_INVALID_STATE' });
    await expect(
      r.outbound.dialer.startCampaign({
        campaignId: 'callbacks',
        contacts: contacts(1),
        openingReason: 'x',
        maxConcurrent: 1,
      }),
    ).rejects.toMatchObject({ code: 'GW_ERR_INVALID_STATE' });
  });

  it('frees a slot whose hangup never arrives once its lease expires', async () => {
    const r = rig({ fate: () => ({ status: 'completed', afterMs: 10 ** 9 }), leaseMs: 60_000, sweepMs: 5000 });
    await r.outbound.dialer.startCampaign({
      campaignId: 'lost',
      contacts: contacts(2),
      openingReason: 'x',
      maxConcurrent: 1,
    });
    await runFor(r, 50_000, 1000);
    expect(r.dials).toHaveLength(1);
    await runFor(r, 20_000, 1000);
    expect(r.dials).toHaveLength(2);
  });
});

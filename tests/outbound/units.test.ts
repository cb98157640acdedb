import { describe, expect, it } from 'vitest';
import {
  applyAnswer,
  applyHangup,
  applyMachine,
  applyRing,
  hangupStatus,
  withStatus,
} from '../../src/calls/status-updates.ts';
import type { HangupInfo } from '../../src/contract/call.ts';
import { checkBearer } from '../../src/outbound/auth.ts';
import { createManualClock } from '../../src/outbound/clock.ts';
import { createMemoryDialQueue } from '../../src/outbound/dial-queue-memory.ts';
import type { DialJob } from '../../src/outbound/dialer-types.ts';
import { toE164 } from '../../src/outbound/phone.ts';
import { newOutboundRecord, recordJson } from '../../src/outbound/records.ts';
import { foldQueryVariables } from '../../src/outbound/schemas.ts';
import { delayUntilWindow, isValidTimeZone } from '../../src/outbound/window.ts';
import { createMemoryCallStore } from '../../src/store/memory.ts';

describe('toE164', () => {
  it('normalises valid numbers and rejects the rest', () => {
    expect(toE164('+1 (415) 555-0111')).toBe('+14155550111');
    expect(toE164('14155550111')).toBe('+14155550111');
    expect(toE164('+44 20 7946 0958')).toBe('+442079460958');
    for (const bad of [
      '',
      'abc',
      '+1',
      '+10005550100',
      '+999999999999',
      '+1415555O111',
      '+1415'.repeat(10),
      'tel:+1',
    ]) {
      expect(toE164(bad)).toBeUndefined();
    }
  });
});

describe('calling windows', () => {
  const noonUtc = Date.parse('2026-03-02T12:00:00Z');
  it('is open inside, and counts to the next opening outside', () => {
    expect(delayUntilWindow(noonUtc, undefined, 'UTC')).toBe(0);
    expect(delayUntilWindow(noonUtc, { start: '09:00', end: '17:00' }, 'UTC')).toBe(0);
    expect(delayUntilWindow(noonUtc, { start: '09:00', end: '17:00' }, 'America/New_York')).toBe(2 * 3600_000);
    // After the end: tomorrow's opening.
    expect(delayUntilWindow(noonUtc, { start: '09:00', end: '11:00' }, 'UTC')).toBe(21 * 3600_000);
    // Spanning midnight.
    expect(delayUntilWindow(noonUtc, { start: '22:00', end: '06:00' }, 'UTC')).toBe(10 * 3600_000);
    expect(delayUntilWindow(Date.parse('2026-03-02T23:30:00Z'), { start: '22:00', end: '06:00' }, 'UTC')).toBe(0);
  });
  it('validates time zones', () => {
    expect(isValidTimeZone('Europe/Paris')).toBe(true);
    expect(isValidTimeZone('Mars/Olympus')).toBe(false);
    expect(isValidTimeZone('')).toBe(false);
  });
});

describe('hangupStatus', () => {
  it.each([
    ['completed', undefined, true, 'completed'],
    ['busy', 'USER_BUSY', false, 'busy'],
    ['no-answer', undefined, false, 'no-answer'],
    ['timeout', undefined, false, 'no-answer'],
    ['cancel', undefined, false, 'canceled'],
    ['failed', 'UNALLOCATED_NUMBER', false, 'failed'],
    ['completed', 'Busy Line', false, 'busy'],
    ['completed', 'NO_ANSWER', false, 'no-answer'],
    ['weird', undefined, false, 'failed'],
    ['busy', 'USER_BUSY', true, 'completed'],
  ] as const)('%s / %s / answered=%s → %s', (status, cause, answered, expected) => {
    expect(hangupStatus(status, cause, answered)).toBe(expected);
  });
});

describe('records', () => {
  it('never moves a status backwards or out of a final state', () => {
    const r = newOutboundRecord({ id: 'a', from: '+1', to: '+2', nowMs: 0 });
    const ringing = withStatus(r, 'ringing', 1);
    expect(withStatus(withStatus(ringing, 'in-progress', 2), 'ringing', 3).status).toBe('in-progress');
    const done = withStatus(ringing, 'busy', 4);
    expect(withStatus(done, 'completed', 5)).toBe(done);
    expect(recordJson(done).timeline).toHaveLength(3);
    expect(Object.keys(recordJson(r))).not.toContain('campaign_id');
  });
});

describe('status updates with bad or unknown data', () => {
  const hangup = (callId: string, raw: Record<string, string>): HangupInfo => ({
    callId,
    status: raw.CallStatus ?? 'completed',
    hangupCause: raw.HangupCause,
    hangupSource: undefined,
    durationS: undefined,
    billDurationS: undefined,
    answerTime: raw.AnswerTime,
    endTime: undefined,
    machine: undefined,
    raw,
  });

  it('ignores callbacks for calls it does not know, without throwing', async () => {
    const store = createMemoryCallStore();
    const o = { linkWaitMs: 0 };
    expect(await applyRing(store, {}, o)).toBeUndefined();
    expect(await applyRing(store, { CallUUID: 'nope' }, o)).toBeUndefined();
    expect(await applyMachine(store, { Machine: 'true' }, o)).toBeUndefined();
    expect(await applyHangup(store, hangup('nope', { Direction: 'inbound' }), o)).toBeUndefined();
    expect(
      await applyAnswer(
        store,
        { callId: 'x', direction: 'outbound', from: '', to: '', callStatus: undefined, machine: undefined, raw: {} },
        o,
      ),
    ).toBeUndefined();
    await store.close();
  });

  it('treats an unreadable Machine value as not a machine, and is idempotent on repeated hangups', async () => {
    const store = createMemoryCallStore();
    await store.create(newOutboundRecord({ id: 'r', from: '+1', to: '+2', nowMs: Date.now() }));
    await store.linkPlivoUuid('r', 'u');
    expect((await applyMachine(store, { CallUUID: 'u', Machine: 'perhaps' }))?.machine).toBe(false);
    const first = await applyHangup(store, hangup('u', { CallStatus: 'busy', AnswerTime: '' }));
    const second = await applyHangup(
      store,
      hangup('u', { CallStatus: 'completed', AnswerTime: '2026-01-01 00:00:00' }),
    );
    expect(first?.status).toBe('busy');
    expect(second?.status).toBe('busy');
    expect(second?.timeline.map((t) => t.status)).toEqual(['queued', 'busy']);
    await store.close();
  });

  it('waits briefly for a link when a callback overtakes the make-call response', async () => {
    const store = createMemoryCallStore();
    await store.create(newOutboundRecord({ id: 'r', from: '+1', to: '+2', nowMs: Date.now() }));
    const ring = applyRing(store, { CallUUID: 'late', Direction: 'outbound' }, { linkWaitMs: 2000 });
    setTimeout(() => void store.linkPlivoUuid('r', 'late'), 100);
    expect((await ring)?.status).toBe('ringing');
    await store.close();
  });
});

describe('auth', () => {
  it('is disabled without a key, and needs the exact bearer token', () => {
    expect(checkBearer(undefined, 'Bearer x')).toMatchObject({ ok: false, status: 503 });
    expect(checkBearer('key', undefined)).toMatchObject({ ok: false, status: 401 });
    expect(checkBearer('key', 'Bearer')).toMatchObject({ ok: false, status: 401 });
    expect(checkBearer('key', 'Bearer keyx')).toMatchObject({ ok: false, status: 401 });
    expect(checkBearer('key', 'Token key')).toMatchObject({ ok: false, status: 401 });
    expect(checkBearer('key', 'Bearer key')).toEqual({ ok: true });
    expect(checkBearer('key', 'bearer key')).toEqual({ ok: true });
  });
});

describe('query variables', () => {
  it('folds var_<name> into variables; a JSON object wins on a clash', () => {
    expect(foldQueryVariables({ phone_number: 'x', var_a: '1', var_b: '2' })).toEqual({
      phone_number: 'x',
      variables: { a: '1', b: '2' },
    });
    expect(foldQueryVariables({ var_a: '1', variables: { a: '2' } })).toEqual({ variables: { a: '2' } });
    expect(foldQueryVariables({ var_a: '1', variables: 'junk' })).toEqual({ variables: 'junk' });
  });
});

describe('memory dial queue', () => {
  const job = (contactId: string): DialJob => ({ kind: 'wake', campaignId: 'c', contactId });

  it('runs delayed jobs on time, deduplicates ids and holds the rate limit', async () => {
    const clock = createManualClock(0);
    const q = createMemoryDialQueue({ clock, limiter: { max: 1, durationMs: 500 } });
    const ran: Array<{ id: string; at: number }> = [];
    q.start(async (j) => {
      if (j.kind === 'wake') ran.push({ id: j.contactId, at: clock.now() });
    });
    await q.add('a', job('a'), 1000);
    await q.add('a', job('a'), 0);
    for (const id of ['b', 'c', 'd']) await q.add(id, job(id), 0);
    await clock.advance(3000);
    expect(ran.map((r) => r.id)).toEqual(['b', 'c', 'd', 'a']);
    expect(ran.map((r) => r.at)).toEqual([0, 500, 1000, 1500]);
    await q.add('b', job('b'), 0);
    await clock.advance(1000);
    expect(ran).toHaveLength(4);
    await q.close();
    await q.close();
  });

  it('retries a failing handler a few times, then gives up', async () => {
    const clock = createManualClock(0);
    const q = createMemoryDialQueue({ clock, attempts: 3, retryDelayMs: 100 });
    let calls = 0;
    q.start(async () => {
      calls++;
      throw new Error('boom');
    });
    await q.add('x', job('x'), 0);
    await clock.advance(1000);
    expect(calls).toBe(3);
    await q.close();
  });
});

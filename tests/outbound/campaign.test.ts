// Campaigns end to end on one gateway (in-process dialer), through the Plivo emulator.
import { afterEach, describe, expect, it } from 'vitest';
import { callRequests, contactNumbers, maxConcurrent, maxInWindow } from './campaign-checks.ts';
import { type Emulator, type Node, startEmulator, startNode, until } from './helpers.ts';

let cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

async function setup(o: {
  cps: number;
  hangupAfterMs?: number;
  faults?: Parameters<typeof startEmulator>[0];
  outbound?: Parameters<typeof startNode>[0]['outbound'];
}) {
  const emulator: Emulator = await startEmulator({
    outbound: () => ({ kind: 'answer', ringMs: 10, hangupAfterMs: o.hangupAfterMs ?? 250 }),
    ...o.faults,
  });
  const node: Node = await startNode({ emulator, env: { PLIVO_CPS: String(o.cps) }, outbound: o.outbound });
  cleanup.push(
    () => node.close(),
    () => emulator.close(),
  );
  return { emulator, node };
}

const finished = (node: Node, id: string, state = 'completed', timeoutMs = 20_000) =>
  until(
    async () => {
      const r = await node.api('GET', `/outbound/campaign/${id}`);
      return r.json?.dialer?.state === state ? r.json : undefined;
    },
    timeoutMs,
    `campaign ${id} ${state}`,
  );

describe('campaign dialer through the emulator', () => {
  it('dials 50 contacts exactly once, holding max_concurrent and calls_per_second', async () => {
    const { emulator, node } = await setup({ cps: 20, hangupAfterMs: 100 });
    const numbers = contactNumbers(50);
    const res = await node.api('POST', '/outbound/campaign', {
      campaign_id: 'fifty',
      contacts: numbers.map((n, i) => ({ phone_number: n, variables: { name: `c${i}` } })),
      opening_reason: 'your renewal',
      objective: 'renew',
      max_concurrent: 4,
      calls_per_second: 20,
    });
    expect(res.status).toBe(201);
    expect(res.json).toMatchObject({ campaign_id: 'fifty', contacts: 50, max_concurrent: 4, calls_per_second: 20 });
    const view = await finished(node, 'fifty');

    const reqs = callRequests(emulator);
    expect(reqs).toHaveLength(50);
    expect(new Set(reqs.map((r) => r.params.to)).size).toBe(50);
    expect(maxConcurrent(reqs, [node.router])).toBeLessThanOrEqual(4);
    // One dial per 50 ms at most; one extra allowed for scheduling jitter at a window edge.
    expect(maxInWindow(reqs)).toBeLessThanOrEqual(21);
    expect(view.counts.total).toBe(50);
    expect(view.counts.by_status).toEqual({ completed: 50 });
    expect(view.dialer.by_status.done).toBe(50);
    expect(view.dialer.attempts).toBe(50);
    expect(view.dialer.contacts[3].call_ids).toHaveLength(1);
    const one = await node.api('GET', `/outbound/status/${view.dialer.contacts[3].call_ids[0]}`);
    expect(one.json).toMatchObject({
      status: 'completed',
      campaign_id: 'fifty',
      variables: { name: 'c3' },
      attempt: 1,
    });
  });

  it('pauses, resumes and cancels through the API', async () => {
    const { emulator, node } = await setup({ cps: 20, hangupAfterMs: 400 });
    await node.api('POST', '/outbound/campaign', {
      campaign_id: 'ctl',
      contacts: contactNumbers(20, '+1415557').map((phone_number) => ({ phone_number })),
      opening_reason: 'x',
      max_concurrent: 2,
    });
    await until(() => callRequests(emulator).length >= 2, 5000, 'first dials');
    const paused = await node.api('POST', '/outbound/campaign/ctl/pause');
    expect(paused.json).toEqual({ campaign_id: 'ctl', state: 'paused' });
    // Once the calls already out have ended, nothing else is dialed while paused.
    await until(async () => (await node.api('GET', '/outbound/campaign/ctl')).json.dialer.active_calls === 0);
    const atPause = callRequests(emulator).length;
    await new Promise((r) => setTimeout(r, 600));
    expect(callRequests(emulator).length).toBe(atPause);
    expect((await node.api('POST', '/outbound/campaign/ctl/resume')).json.state).toBe('running');
    await until(() => callRequests(emulator).length > atPause + 1, 5000, 'dials after resume');
    expect((await node.api('POST', '/outbound/campaign/ctl/cancel')).json.state).toBe('canceled');
    const afterCancel = callRequests(emulator).length;
    const view = await until(async () => {
      const v = (await node.api('GET', '/outbound/campaign/ctl')).json;
      return v.dialer.active_calls === 0 && v.dialer.by_status['in-progress'] === 0 ? v : undefined;
    });
    expect(callRequests(emulator).length).toBeLessThanOrEqual(afterCancel + 2);
    expect(view.dialer.state).toBe('canceled');
    expect(view.dialer.by_status.canceled).toBeGreaterThan(0);
    expect(view.dialer.by_status.canceled + view.dialer.by_status.done).toBe(20);
  });

  it('absorbs Plivo 429s without counting attempts', async () => {
    const { emulator, node: n2 } = await setup({
      cps: 20,
      faults: { faults: { failFirst: 4, failStatus: 429 } },
      outbound: { dialer: { rateLimitedRetryMs: { baseMs: 50, maxMs: 200 } } },
    });
    await n2.api('POST', '/outbound/campaign', {
      campaign_id: 'rl',
      contacts: contactNumbers(3, '+1415558').map((phone_number) => ({ phone_number })),
      opening_reason: 'x',
      max_concurrent: 3,
      retry: { max_attempts: 1 },
    });
    const view = await finished(n2, 'rl');
    expect(callRequests(emulator, false).filter((r) => r.status === 429).length).toBe(4);
    expect(callRequests(emulator)).toHaveLength(3);
    expect(view.dialer.attempts).toBe(3);
    expect(view.counts.by_status).toEqual({ completed: 3 });
  });

  it('cancels a queued dialer job through POST /outbound/hangup', async () => {
    const { emulator, node } = await setup({ cps: 1 });
    await node.api('POST', '/outbound/campaign', {
      campaign_id: 'hq',
      contacts: contactNumbers(3, '+1415559').map((phone_number) => ({ phone_number })),
      opening_reason: 'x',
      max_concurrent: 3,
      calls_per_second: 0.5,
    });
    const view = (await node.api('GET', '/outbound/campaign/hq')).json;
    const last = view.calls.find((c: { contact_id: string }) => c.contact_id === '2');
    expect(last.status).toBe('queued');
    const h = await node.api('POST', `/outbound/hangup/${last.call_id}`);
    expect(h.json).toEqual({ call_id: last.call_id, status: 'canceled' });
    await finished(node, 'hq', 'completed', 15_000);
    expect(callRequests(emulator).map((r) => r.params.to)).not.toContain('14155590002');
    expect(callRequests(emulator)).toHaveLength(2);
  });
});

describe('campaign bad input', () => {
  it('names every bad field', async () => {
    const { node } = await setup({ cps: 2 });
    const res = await node.api('POST', '/outbound/campaign', {
      contacts: [
        { phone_number: '+14155550111' },
        { phone_number: 'nope', timezone: 'Mars/Olympus' },
        { variables: { 'bad name': 'x' } },
      ],
      max_concurrent: 0,
      calls_per_second: -1,
      retry: { max_attempts: 'many', retry_on: ['busy', 'weather'] },
      window: { start: '25:00', end: '9am' },
      campaign_id: 'has space',
    });
    expect(res.status).toBe(400);
    const fields = res.json.fields.map((f: { field: string }) => f.field).sort();
    expect(fields).toEqual(
      [
        'campaign_id',
        'opening_reason',
        'contacts.1.phone_number',
        'contacts.1.timezone',
        'contacts.2.phone_number',
        'contacts.2.variables.bad name',
        'max_concurrent',
        'calls_per_second',
        'retry.max_attempts',
        'retry.retry_on.1',
        'window.start',
        'window.end',
      ].sort(),
    );
    for (const body of [
      { contacts: 'x', opening_reason: 'x' },
      { contacts: [], opening_reason: 'x' },
    ]) {
      const r = await node.api('POST', '/outbound/campaign', body);
      expect(r.status).toBe(400);
      expect(r.json.fields[0].field).toBe('contacts');
    }
    const dup = { campaign_id: 'same', contacts: [{ phone_number: '+14155550111' }], opening_reason: 'x' };
    expect((await node.api('POST', '/outbound/campaign', dup)).status).toBe(201);
    expect((await node.api('POST', '/outbound/campaign', dup)).status).toBe(409);
    expect((await node.api('POST', '/outbound/campaign', '{', { 'content-type': 'application/json' })).status).toBe(
      400,
    );
  });
});

// Lease reconciliation (issue 15, D3): a campaign slot held for a call that has ended comes back even when the
// call's hangup callback never arrives, because the dialer asks Plivo (GET Call/{uuid}/) for the state of calls
// it has not heard from. Here every webhook of the emulated calls is refused (bad signature), so the gateway hears
// nothing after placing each call: without reconciliation every slot stays leased for 4 h.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callRequests, contactNumbers } from './campaign-checks.ts';
import { type Emulator, type Node, startEmulator, startNode, until } from './helpers.ts';

let emulator: Emulator;
let node: Node;

beforeAll(async () => {
  emulator = await startEmulator({ outbound: () => ({ kind: 'busy', ringMs: 20 }), outboundSignature: 'invalid' });
  node = await startNode({
    emulator,
    env: { PLIVO_CPS: '20' },
    outbound: { dialer: { sweepMs: 200, reconcileAfterMs: 500 } },
  });
});
afterAll(async () => {
  await node?.close();
  await emulator?.close();
});

describe('lease reconciliation', () => {
  it('frees the slots of calls whose hangup never arrived, from Plivo call state', async () => {
    const numbers = contactNumbers(6, '+1415559');
    const res = await node.api('POST', '/outbound/campaign', {
      campaign_id: 'no-callbacks',
      contacts: numbers.map((phone_number) => ({ phone_number })),
      opening_reason: 'x',
      max_concurrent: 2,
      calls_per_second: 10,
    });
    expect(res.status).toBe(201);
    const view = await until(
      async () => {
        const r = await node.api('GET', '/outbound/campaign/no-callbacks');
        return r.json?.dialer?.state === 'completed' ? r.json : undefined;
      },
      15_000,
      'campaign completed without callbacks',
    );
    expect(view.dialer.contacts.map((c: { last_status: string }) => c.last_status)).toEqual(numbers.map(() => 'busy'));
    expect(view.calls.map((c: { status: string }) => c.status)).toEqual(numbers.map(() => 'busy'));
    expect(callRequests(emulator).length).toBe(numbers.length);
    // The gateway refused every webhook: what it knows came from GET Call/{uuid}/.
    const gets = emulator.requests.filter((r) => r.method === 'GET' && /\/Call\/[^/]+\/$/.test(r.path));
    expect(gets.length).toBeGreaterThanOrEqual(numbers.length);
  });
});

// The tools that act through Plivo, against the Plivo emulator's REST API with the real REST client.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPlivoEmulator } from '../../src/emulators/plivo/index.ts';
import type { PlivoApi } from '../../src/plivo/api-types.ts';
import { createPlivoRestClient } from '../../src/plivo/rest-client.ts';
import { verifyTransferToken } from '../../src/plivo/stream-token.ts';
import { builtinTools } from '../../src/tools/index.ts';
import { ToolRegistry } from '../../src/tools/registry.ts';
import { CALL, toolContext } from './helpers.ts';

let emulator: Awaited<ReturnType<typeof startPlivoEmulator>>;
let plivo: PlivoApi;
const never = () => new AbortController().signal;
const registry = new ToolRegistry(builtinTools, 3000);

beforeAll(async () => {
  emulator = await startPlivoEmulator({ authId: 'MAEMULATOR0000000000', authToken: 'emulator-auth-token' });
  plivo = createPlivoRestClient({
    authId: 'MAEMULATOR0000000000',
    authToken: 'emulator-auth-token',
    baseUrl: emulator.restBaseUrl,
    timeoutMs: 2000,
    maxRetries: 0,
  });
});
afterAll(async () => {
  await emulator?.close();
});

describe('send_sms', () => {
  it("texts the caller's number from PLIVO_PHONE_NUMBER", async () => {
    const { ctx } = toolContext({ plivo });
    const out = await registry.run({ id: 's1', name: 'send_sms', args: { message: 'Tracking: 1Z999' } }, ctx, never());
    expect(out).toMatchObject({ outcome: 'ok', response: { sent: true, to: 'number ending in 0123' } });
    const sent = emulator.messages.at(-1)!;
    expect(sent.dst).toBe('14155550123');
    expect(sent.src.replace('+', '')).toBe('14155550100');
    expect(sent.text).toBe('Tracking: 1Z999');
  });

  it('texts the person we called on an outbound call', async () => {
    const { ctx } = toolContext({
      plivo,
      call: { ...CALL, direction: 'outbound', from: '+14155550100', to: '+442071838750' },
    });
    await registry.run({ id: 's2', name: 'send_sms', args: { message: 'Hi' } }, ctx, never());
    expect(emulator.messages.at(-1)!.dst).toBe('442071838750');
  });

  it('refuses anonymous callers, empty or oversized messages, and works without Plivo only as an error', async () => {
    const anon = toolContext({ plivo, call: { ...CALL, from: 'anonymous' } }).ctx;
    const a = await registry.run({ id: 's3', name: 'send_sms', args: { message: 'x' } }, anon, never());
    expect(a.response.error).toMatch(/cannot receive text messages/);
    const { ctx } = toolContext({ plivo });
    for (const message of ['', '   ', 'x'.repeat(321), 5]) {
      const out = await registry.run({ id: 's4', name: 'send_sms', args: { message } }, ctx, never());
      expect(out.outcome).toBe('error');
    }
    const none = await registry.run({ id: 's5', name: 'send_sms', args: { message: 'x' } }, toolContext().ctx, never());
    expect(none.response.error).toMatch(/not available/);
  });

  it('reports a Plivo failure as a spoken error', async () => {
    const failing = await startPlivoEmulator({
      authId: 'MAEMULATOR0000000000',
      authToken: 'emulator-auth-token',
      faults: { failFirst: 5, failStatus: 500 },
    });
    try {
      const api = createPlivoRestClient({
        authId: 'MAEMULATOR0000000000',
        authToken: 'emulator-auth-token',
        baseUrl: failing.restBaseUrl,
        timeoutMs: 1000,
        maxRetries: 0,
      });
      const { ctx } = toolContext({ plivo: api });
      const out = await registry.run({ id: 's6', name: 'send_sms', args: { message: 'x' } }, ctx, never());
      expect(out.outcome).toBe('error');
      expect(String(out.response.error)).toMatch(/temporary system problem/);
      expect(failing.messages).toHaveLength(0);
    } finally {
      await failing.close();
    }
  });
});

describe('transfer_call', () => {
  it('asks Plivo to move the A leg to a signed /transfer-xml URL for TRANSFER_NUMBER', async () => {
    const { ctx, config, calls } = toolContext({ plivo, env: { TRANSFER_NUMBER: '+14155550199' } });
    const out = await registry.run({ id: 't1', name: 'transfer_call', args: { reason: 'billing' } }, ctx, never());
    // No such live call in the emulator: Plivo answers 404, which the model hears as a failure.
    expect(out.outcome).toBe('error');
    const req = emulator.requests.find((r) => r.path.includes(`/Call/${CALL.callId}/`) && r.method === 'POST')!;
    expect(req).toBeDefined();
    const url = new URL(req.params.aleg_url!);
    expect(url.origin + url.pathname.split('/').slice(0, 2).join('/')).toBe(`${config.server.publicUrl}/transfer-xml`);
    const token = url.pathname.split('/').at(-1)!;
    expect(verifyTransferToken(token, config.plivo.streamTokenSecret)).toEqual({
      callId: CALL.callId,
      target: '+14155550199',
    });
    expect(calls.transferred).toEqual([]);
  });

  it('without TRANSFER_NUMBER says so and offers a callback', async () => {
    const { ctx } = toolContext({ plivo });
    const out = await registry.run({ id: 't2', name: 'transfer_call', args: {} }, ctx, never());
    expect(out.response.error).toMatch(/No human agent line/);
  });

  it('rejects bad arguments', async () => {
    const { ctx } = toolContext({ plivo, env: { TRANSFER_NUMBER: '+14155550199' } });
    const out = await registry.run({ id: 't3', name: 'transfer_call', args: { reason: 42 } }, ctx, never());
    expect(out.outcome).toBe('error');
  });
});

describe('schedule_callback', () => {
  const now = new Date('2026-11-25T10:00:00Z');

  it('stores a future callback for the caller', async () => {
    const { ctx, calls } = toolContext({ now });
    const out = await registry.run(
      { id: 'c1', name: 'schedule_callback', args: { callback_time: '2026-11-26T15:00:00-05:00', reason: 'refund' } },
      ctx,
      never(),
    );
    expect(out.response).toMatchObject({ scheduled: true, at: '2026-11-26T20:00:00.000Z' });
    expect(calls.callbacks).toEqual([
      { at: '2026-11-26T20:00:00.000Z', phoneNumber: '+14155550123', reason: 'refund', requestedAt: now.toISOString() },
    ]);
  });

  it('rejects past and far-future times, non-ISO times and bad numbers', async () => {
    const { ctx, calls } = toolContext({ now });
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ callback_time: '2026-11-24T10:00:00Z', reason: 'x' }, /in the past/],
      [{ callback_time: '2027-03-01T10:00:00Z', reason: 'x' }, /30 days/],
      [{ callback_time: 'tomorrow at 3', reason: 'x' }, /Invalid arguments/],
      [{ callback_time: '2026-11-26T10:00:00', reason: 'x' }, /Invalid arguments/],
      [{ callback_time: '2026-11-26T10:00:00Z', reason: '' }, /Invalid arguments/],
      [{ callback_time: '2026-11-26T10:00:00Z', reason: 'x', phone_number: '555-1234' }, /Invalid arguments/],
    ];
    for (const [args, expected] of cases) {
      const out = await registry.run({ id: 'c2', name: 'schedule_callback', args }, ctx, never());
      expect(String(out.response.error)).toMatch(expected);
    }
    expect(calls.callbacks).toEqual([]);
  });
});

describe('end_call', () => {
  it('asks the call to hang up after the goodbye', async () => {
    const { ctx, calls } = toolContext();
    const out = await registry.run({ id: 'e1', name: 'end_call', args: { reason: 'resolved' } }, ctx, never());
    expect(out.outcome).toBe('ok');
    expect(calls.ended).toEqual(['resolved']);
    const bad = await registry.run({ id: 'e2', name: 'end_call', args: { reason: 'x'.repeat(201) } }, ctx, never());
    expect(bad.outcome).toBe('error');
  });
});

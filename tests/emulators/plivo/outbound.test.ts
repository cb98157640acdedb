import { afterEach, describe, expect, it } from 'vitest';
import { type OutboundBehaviour, type PlivoEmulator, startPlivoEmulator } from '../../../src/emulators/plivo/index.ts';
import { expectedSignature, FakeGateway } from './fake-gateway.ts';

const ID = 'MAEMULATOR0000000000';
const TOKEN = 'emulator-auth-token';
const AUTH = `Basic ${Buffer.from(`${ID}:${TOKEN}`).toString('base64')}`;

let emu: PlivoEmulator | undefined;
let gw: FakeGateway | undefined;

afterEach(async () => {
  await emu?.close();
  gw?.close();
  emu = undefined;
  gw = undefined;
});

const behaviours: Record<string, OutboundBehaviour> = {
  '14155550001': { kind: 'answer', ringMs: 10, audio: { kind: 'tone', hz: 300, ms: 100 } },
  '14155550002': { kind: 'busy', ringMs: 10 },
  '14155550003': { kind: 'no-answer', ringMs: 10 },
  '14155550004': { kind: 'failed', ringMs: 10 },
  '14155550005': { kind: 'machine', ringMs: 10, detectMs: 30 },
  '14155550006': { kind: 'answer', ringMs: 10, hangupAfterMs: 100 },
};

async function setup() {
  gw = await new FakeGateway().listen();
  emu = await startPlivoEmulator({
    authId: ID,
    authToken: TOKEN,
    outbound: (to) => behaviours[to.replace('+', '')] ?? { kind: 'answer' },
  });
}

async function dial(to: string, extra: Record<string, string> = {}): Promise<string> {
  const res = await fetch(`${emu!.restBaseUrl}/v1/Account/${ID}/Call/`, {
    method: 'POST',
    headers: { Authorization: AUTH, 'Content-Type': 'application/json' },
    body: JSON.stringify({
      from: '+14155550100',
      to,
      answer_url: `${gw!.httpBase}/answer?call_id=abc`,
      answer_method: 'POST',
      hangup_url: `${gw!.httpBase}/hangup`,
      ring_url: `${gw!.httpBase}/ring`,
      ...extra,
    }),
  });
  expect(res.status).toBe(201);
  return ((await res.json()) as { request_uuid: string }).request_uuid;
}

describe('simulated outbound calls', () => {
  it('rings, fetches answer_url (signed, outbound, CallUUID = request_uuid) and streams', async () => {
    await setup();
    const uuid = await dial('+14155550001');
    const call = await emu!.waitForCall((c) => c.callUuid === uuid && c.streamId !== undefined);
    expect(call.direction).toBe('outbound');
    const ring = await gw!.waitWebhook((w) => w.path === '/ring');
    expect(ring.body).toMatchObject({ CallUUID: uuid, CallStatus: 'ringing', Direction: 'outbound' });
    const answer = await gw!.waitWebhook((w) => w.path === '/answer');
    expect(answer.params).toMatchObject({
      call_id: 'abc',
      CallUUID: uuid,
      Direction: 'outbound',
      CallStatus: 'in-progress',
      ALegUUID: uuid,
      From: '14155550100',
      To: '14155550001',
    });
    // The query string of answer_url takes part in the signature.
    expect(answer.headers['x-plivo-signature-v3']).toBe(
      await expectedSignature(TOKEN, 'POST', answer.url, answer.headers['x-plivo-signature-v3-nonce']!, answer.body),
    );
    const stream = await gw!.waitStream(uuid);
    await stream.waitFor('media', (m) => (m.media as { chunk: number }).chunk >= 5);
    await call.hangup();
    const hangup = await gw!.waitWebhook((w) => w.path === '/hangup');
    expect(hangup.body).toMatchObject({ CallUUID: uuid, CallStatus: 'completed', HangupSource: 'Callee' });
  });

  it.each([
    ['14155550002', 'busy', 'USER_BUSY'],
    ['14155550003', 'no-answer', 'NO_ANSWER'],
    ['14155550004', 'failed', 'CALL_REJECTED'],
  ])('%s is %s: hangup_url gets the status and no stream opens', async (to, status, cause) => {
    await setup();
    const uuid = await dial(to);
    const hangup = await gw!.waitWebhook((w) => w.path === '/hangup');
    expect(hangup.body).toMatchObject({ CallUUID: uuid, CallStatus: status, HangupCause: cause, Duration: '0' });
    expect(gw!.webhooks.some((w) => w.path === '/answer')).toBe(false);
    expect(gw!.streams).toHaveLength(0);
    expect(emu!.calls.get(uuid)!.status).toBe(status);
  });

  it('reports machine detection to machine_detection_url', async () => {
    await setup();
    const human = await dial('+14155550001', {
      machine_detection: 'true',
      machine_detection_url: `${gw!.httpBase}/md`,
    });
    const machine = await dial('+14155550005', {
      machine_detection: 'hangup',
      machine_detection_url: `${gw!.httpBase}/md`,
    });
    const mdHuman = await gw!.waitWebhook((w) => w.path === '/md' && w.params.CallUUID === human);
    const mdMachine = await gw!.waitWebhook((w) => w.path === '/md' && w.params.CallUUID === machine);
    expect(mdHuman.body).toMatchObject({ Machine: 'false', Event: 'MachineDetection', Direction: 'outbound' });
    expect(mdMachine.body).toMatchObject({ Machine: 'true', IfMachine: 'hangup' });
    // machine_detection=hangup: Plivo hangs up on the machine.
    const hangup = await gw!.waitWebhook((w) => w.path === '/hangup' && w.params.CallUUID === machine);
    expect(hangup.body).toMatchObject({ HangupCause: 'MACHINE_DETECTED', CallStatus: 'completed' });
  });

  it('hangs up by itself after hangupAfterMs', async () => {
    await setup();
    const uuid = await dial('+14155550006');
    const hangup = await gw!.waitWebhook((w) => w.path === '/hangup' && w.params.CallUUID === uuid);
    expect(hangup.body).toMatchObject({ HangupSource: 'Callee', CallStatus: 'completed' });
    expect(await emu!.calls.get(uuid)!.ended).toMatchObject({ by: 'emulator' });
  });

  it('cancels a ringing call with DELETE Request/', async () => {
    await setup();
    behaviours['14155550007'] = { kind: 'answer', ringMs: 5000 };
    const uuid = await dial('+14155550007');
    await emu!.waitForCall((c) => c.callUuid === uuid && c.status === 'ringing');
    const res = await fetch(`${emu!.restBaseUrl}/v1/Account/${ID}/Request/${uuid}/`, {
      method: 'DELETE',
      headers: { Authorization: AUTH },
    });
    expect(res.status).toBe(204);
    const hangup = await gw!.waitWebhook((w) => w.path === '/hangup' && w.params.CallUUID === uuid);
    expect(hangup.body).toMatchObject({ CallStatus: 'cancel', HangupCause: 'ORIGINATOR_CANCEL' });
  });

  it('fetches answer_url with GET when answer_method is GET, signing the full query', async () => {
    await setup();
    const uuid = await dial('+14155550001', { answer_method: 'GET' });
    const answer = await gw!.waitWebhook((w) => w.path === '/answer');
    expect(answer.method).toBe('GET');
    expect(answer.body).toEqual({});
    expect(answer.params).toMatchObject({ call_id: 'abc', CallUUID: uuid, Direction: 'outbound' });
    expect(answer.headers['x-plivo-signature-v3']).toBe(
      await expectedSignature(TOKEN, 'GET', answer.url, answer.headers['x-plivo-signature-v3-nonce']!, {}),
    );
  });

  it('rejects waitForCall after its timeout', async () => {
    await setup();
    await expect(emu!.waitForCall(() => false, 50)).rejects.toThrow(/no matching call/);
  });
});

import { afterEach, describe, expect, it } from 'vitest';
import {
  type PlivoEmulator,
  type PlivoEmulatorOptions,
  startPlivoEmulator,
} from '../../../src/emulators/plivo/index.ts';
import { FakeGateway } from './fake-gateway.ts';

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

async function start(extra: Partial<PlivoEmulatorOptions> = {}) {
  emu = await startPlivoEmulator({ authId: ID, authToken: TOKEN, ...extra });
  return emu;
}

async function api(
  method: string,
  path: string,
  body?: Record<string, unknown> | string,
  headers: Record<string, string> = { Authorization: AUTH },
) {
  const init: RequestInit = { method, headers: { ...headers } };
  if (typeof body === 'string') {
    (init.headers as Record<string, string>)['Content-Type'] = 'application/x-www-form-urlencoded';
    init.body = body;
  } else if (body) {
    (init.headers as Record<string, string>)['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const res = await fetch(`${emu!.restBaseUrl}/v1/Account/${ID}/${path}`, init);
  const text = await res.text();
  return { status: res.status, json: text ? (JSON.parse(text) as Record<string, unknown>) : undefined };
}

describe('Plivo REST emulator', () => {
  it('requires Basic auth with the right id and token', async () => {
    await start();
    expect((await api('POST', 'Message/', { src: '14155550100', dst: '14155550101', text: 'x' }, {})).status).toBe(401);
    const wrong = `Basic ${Buffer.from(`${ID}:nope`).toString('base64')}`;
    expect((await api('POST', 'Message/', {}, { Authorization: wrong })).status).toBe(401);
    const other = await fetch(`${emu!.restBaseUrl}/v1/Account/MAOTHER/Message/`, {
      method: 'POST',
      headers: { Authorization: AUTH },
    });
    expect(other.status).toBe(401);
    expect(emu!.requests.map((r) => r.status)).toEqual([401, 401, 401]);
  });

  it('sends SMS from JSON and form bodies and validates them', async () => {
    await start();
    const ok = await api('POST', 'Message/', { src: '+14155550100', dst: '14155550101<14155550102', text: 'hi' });
    expect(ok.status).toBe(202);
    expect(ok.json).toMatchObject({ message: 'message(s) queued' });
    expect(ok.json!.message_uuid).toHaveLength(2);
    expect(typeof ok.json!.api_id).toBe('string');
    const form = await api('POST', 'Message/', 'src=14155550100&dst=14155550103&text=caf%C3%A9');
    expect(form.status).toBe(202);
    expect(emu!.messages.map((m) => [m.dst, m.text])).toEqual([
      ['14155550101', 'hi'],
      ['14155550102', 'hi'],
      ['14155550103', 'café'],
    ]);
    expect((await api('POST', 'Message/', { src: '14155550100', text: 'x' })).status).toBe(400);
    expect((await api('POST', 'Message/', { src: 'abc', dst: '14155550101', text: 'x' })).status).toBe(400);
    const badJson = await fetch(`${emu!.restBaseUrl}/v1/Account/${ID}/Message/`, {
      method: 'POST',
      headers: { Authorization: AUTH, 'Content-Type': 'application/json' },
      body: '{"src":',
    });
    expect(badJson.status).toBe(400);
    expect(((await badJson.json()) as { error: string }).error).toMatch(/JSON/);
    expect((await api('GET', 'Message/')).status).toBe(405);
    expect((await api('GET', 'Nope/')).status).toBe(404);
  });

  it('validates make-call input like Plivo', async () => {
    await start();
    const base = { from: '14155550100', to: '14155550101', answer_url: 'http://127.0.0.1:1/answer' };
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ ...base, to: undefined }, /to is required/],
      [{ ...base, from: undefined }, /from is required/],
      [{ ...base, answer_url: undefined }, /answer_url is required/],
      [{ ...base, to: 'not-a-number' }, /invalid to/],
      [{ ...base, from: '12' }, /invalid from/],
      [{ ...base, answer_url: 'ftp://x' }, /answer_url/],
      [{ ...base, answer_method: 'PUT' }, /answer_method/],
      [{ ...base, machine_detection: 'maybe' }, /machine_detection/],
      [{ ...base, time_limit: 'soon' }, /time_limit/],
      [{ ...base, ring_timeout: -1 }, /ring_timeout/],
    ];
    for (const [body, msg] of cases) {
      const r = await api('POST', 'Call/', body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(String(r.json!.error)).toMatch(msg);
    }
    expect(emu!.calls.size).toBe(0);
  });

  it('fires a call (201), hangs it up (204) and 404s unknown calls', async () => {
    gw = await new FakeGateway().listen();
    await start();
    const r = await api('POST', 'Call/', {
      from: '+14155550100',
      to: '+14155550101',
      answer_url: `${gw.httpBase}/answer`,
      hangup_url: `${gw.httpBase}/hangup`,
    });
    expect(r.status).toBe(201);
    expect(r.json).toMatchObject({ message: 'call fired' });
    const uuid = r.json!.request_uuid as string;
    const call = await emu!.waitForCall((c) => c.callUuid === uuid && c.streamId !== undefined);
    expect((await api('GET', `Call/${uuid}/?status=live`)).json).toMatchObject({ call_status: 'in-progress' });
    expect((await api('DELETE', `Call/${uuid}/`)).status).toBe(204);
    await call.ended;
    const hangup = await gw.waitWebhook((w) => w.path === '/hangup');
    expect(hangup.params).toMatchObject({ CallUUID: uuid, HangupSource: 'API Request', CallStatus: 'completed' });
    expect((await api('DELETE', `Call/${uuid}/`)).status).toBe(404);
    expect((await api('DELETE', 'Call/nope/')).status).toBe(404);
    expect((await api('POST', 'Call/nope/', { legs: 'aleg', aleg_url: 'http://127.0.0.1:1/x' })).status).toBe(404);
    expect((await api('POST', `Call/${uuid}/`, { legs: 'sideways' })).status).toBe(400);
    expect((await api('POST', `Call/${uuid}/`, { legs: 'aleg' })).status).toBe(400);
  });

  it('creates and updates applications and attaches numbers', async () => {
    await start();
    const created = await api('POST', 'Application/', {
      app_name: 'Gemini_Voice_Agent',
      answer_url: 'http://127.0.0.1:1/answer',
      answer_method: 'POST',
      hangup_url: 'http://127.0.0.1:1/hangup',
    });
    expect(created.status).toBe(201);
    expect(created.json).toMatchObject({ message: 'created' });
    const appId = created.json!.app_id as string;
    const list = await api('GET', 'Application/');
    expect((list.json!.objects as Array<{ app_name: string }>).map((a) => a.app_name)).toEqual(['Gemini_Voice_Agent']);
    const upd = await api('POST', `Application/${appId}/`, 'answer_url=http%3A%2F%2F127.0.0.1%3A2%2Fanswer');
    expect(upd.status).toBe(202);
    expect(emu!.applications.get(appId)!.answer_url).toBe('http://127.0.0.1:2/answer');
    expect((await api('POST', 'Number/14155550100/', { app_id: appId })).status).toBe(202);
    expect(emu!.numbers.get('14155550100')).toBe(appId);
    expect((await api('POST', 'Number/14155550100/', { app_id: 'missing' })).status).toBe(400);
    expect((await api('POST', 'Number/not-a-number/', { app_id: appId })).status).toBe(400);
    expect((await api('POST', 'Application/', { app_name: 'bad name!', answer_url: 'http://x/' })).status).toBe(400);
    expect((await api('POST', 'Application/', { app_name: 'ok' })).status).toBe(400);
    expect((await api('POST', 'Application/999/', { answer_url: 'http://x/' })).status).toBe(404);
  });

  it('answers the read-only lookups the doctor makes: account, and numbers with their application URI', async () => {
    await start();
    const acct = await api('GET', '');
    expect(acct.status).toBe(200);
    expect(acct.json).toMatchObject({ auth_id: ID, resource_uri: `/v1/Account/${ID}/` });
    expect((await api('GET', '', undefined, {})).status).toBe(401);
    expect((await api('POST', '')).status).toBe(405);
    // Only numbers of the account exist.
    expect((await api('GET', 'Number/14155550100/')).status).toBe(404);
    emu!.numbers.set('14155550100', '');
    expect((await api('GET', 'Number/14155550100/')).json).toMatchObject({ number: '14155550100', application: null });
    const created = await api('POST', 'Application/', { app_name: 'gw', answer_url: 'http://127.0.0.1:1/answer' });
    const appId = created.json!.app_id as string;
    await api('POST', 'Number/14155550100/', { app_id: appId });
    expect((await api('GET', 'Number/+14155550100/')).json).toMatchObject({
      application: `/v1/Account/${ID}/Application/${appId}/`,
    });
  });

  it('injects failures before succeeding (client retry tests)', async () => {
    await start({ faults: { failFirst: 2, failStatus: 503 } });
    const body = { src: '14155550100', dst: '14155550101', text: 'x' };
    expect((await api('POST', 'Message/', body)).status).toBe(503);
    expect((await api('POST', 'Message/', body)).status).toBe(503);
    expect((await api('POST', 'Message/', body)).status).toBe(202);
    expect(emu!.messages).toHaveLength(1);
  });

  it('rate-limits call creation with 429', async () => {
    gw = await new FakeGateway({ answerXml: () => '<Response><Hangup/></Response>' }).listen();
    await start({ faults: { callsPerSecond: 2 } });
    const body = { from: '14155550100', to: '14155550101', answer_url: `${gw.httpBase}/answer` };
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await api('POST', 'Call/', body)).status);
    expect(statuses).toEqual([201, 201, 429, 429]);
  });
});

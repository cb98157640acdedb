// The typed Plivo REST client against the emulator's REST API (and a hanging server for timeouts).
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPlivoEmulator } from '../../src/emulators/plivo/index.ts';
import { PlivoApiError } from '../../src/errors.ts';
import { createPlivoRestClient, parseRetryAfter } from '../../src/plivo/rest-client.ts';
import { AUTH_ID, AUTH_TOKEN } from './helpers/harness.ts';

type Emu = Awaited<ReturnType<typeof startPlivoEmulator>>;
const emus: Emu[] = [];
async function emulator(faults?: Parameters<typeof startPlivoEmulator>[0]['faults']): Promise<Emu> {
  const e = await startPlivoEmulator({ authId: AUTH_ID, authToken: AUTH_TOKEN, faults });
  emus.push(e);
  return e;
}
afterAll(async () => {
  for (const e of emus) await e.close();
});

const client = (baseUrl: string, o: { maxRetries?: number; timeoutMs?: number; authToken?: string } = {}) =>
  createPlivoRestClient({
    authId: AUTH_ID,
    authToken: o.authToken ?? AUTH_TOKEN,
    baseUrl,
    timeoutMs: o.timeoutMs ?? 2000,
    maxRetries: o.maxRetries ?? 3,
    baseBackoffMs: 5,
  });

async function typedError(p: Promise<unknown>): Promise<PlivoApiError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(PlivoApiError);
    return err as PlivoApiError;
  }
  throw new Error('expected a PlivoApiError');
}

const answer = 'http://127.0.0.1:9/answer';

describe('Plivo REST client', () => {
  it('makes calls, sends SMS, transfers and hangs up with Plivo parameters', async () => {
    const e = await emulator({});
    const api = client(e.restBaseUrl);
    const made = await api.makeCall({
      from: '+14155550100',
      to: '+14155550199',
      answerUrl: answer,
      hangupUrl: 'http://127.0.0.1:9/hangup',
      machineDetection: 'true',
      machineDetectionUrl: 'http://127.0.0.1:9/callbacks/machine',
      ringTimeoutS: 30,
    });
    expect(made.requestUuid).toMatch(/[0-9a-f-]{36}/);
    const req = e.requests.find((r) => r.path.endsWith('/Call/'))!;
    expect(req.params).toMatchObject({
      from: '14155550100',
      to: '14155550199',
      answer_url: answer,
      answer_method: 'POST',
      machine_detection: 'true',
      ring_timeout: '30',
    });
    const sms = await api.sendSms({ src: '+14155550100', dst: '+14155550199', text: 'hello' });
    expect(sms.messageUuids).toHaveLength(1);
    expect(e.messages[0]).toMatchObject({ src: '14155550100', dst: '14155550199', text: 'hello' });
    // Hanging up a call that is already gone is success (404 → done).
    await api.hangupCall('00000000-0000-0000-0000-000000000000');
    const t = await typedError(api.transferCall('00000000-0000-0000-0000-000000000000', answer));
    expect(t.status).toBe(404);
    expect(t.retryable).toBe(false);
    expect(t.callId).toBe('00000000-0000-0000-0000-000000000000');
  });

  it('configures the number: creates the application once, then updates it', async () => {
    const e = await emulator({});
    const api = client(e.restBaseUrl);
    const urls = { answerUrl: 'https://gw.example.com/answer', hangupUrl: 'https://gw.example.com/hangup' };
    const { appId } = await api.configureNumber('+14155550100', urls);
    expect(e.applications.get(appId)).toMatchObject({ answer_url: urls.answerUrl, hangup_url: urls.hangupUrl });
    expect(e.numbers.get('14155550100')).toBe(appId);
    const again = await api.configureNumber('+14155550100', { ...urls, answerUrl: 'https://gw2.example.com/answer' });
    expect(again.appId).toBe(appId);
    expect(e.applications.size).toBe(1);
    expect(e.applications.get(appId)!.answer_url).toBe('https://gw2.example.com/answer');
  });

  it('retries 429 and 5xx with backoff, then succeeds', async () => {
    const e429 = await emulator({ failFirst: 2, failStatus: 429 });
    const made = await client(e429.restBaseUrl).makeCall({
      from: '+14155550100',
      to: '+14155550199',
      answerUrl: answer,
    });
    expect(made.requestUuid).toBeTruthy();
    expect(e429.requests.map((r) => r.status)).toEqual([429, 429, 201]);
    const e500 = await emulator({ failFirst: 2, failStatus: 500 });
    await client(e500.restBaseUrl).hangupCall('00000000-0000-0000-0000-000000000001');
    expect(e500.requests.map((r) => r.status)).toEqual([500, 500, 404]);
  });

  it('does not retry a call creation on 500 (it may have been placed), and gives up after maxRetries', async () => {
    const e = await emulator({ failFirst: 10, failStatus: 500 });
    const err = await typedError(
      client(e.restBaseUrl).makeCall({ from: '+14155550100', to: '+14155550199', answerUrl: answer }),
    );
    expect(err.status).toBe(500);
    expect(err.retryable).toBe(true);
    expect(e.requests).toHaveLength(1);
    const e2 = await emulator({ failFirst: 10, failStatus: 503 });
    await typedError(client(e2.restBaseUrl, { maxRetries: 2 }).hangupCall('x'));
    expect(e2.requests).toHaveLength(3);
  });

  it('fails fast with typed errors on auth and validation problems', async () => {
    const e = await emulator({});
    const auth = await typedError(
      client(e.restBaseUrl, { authToken: 'wrong' }).sendSms({ src: '+1415555', dst: '+1415556', text: 'x' }),
    );
    expect(auth.status).toBe(401);
    expect(auth.code).toBe('GW_ERR_PLIVO_API');
    const bad = await typedError(
      client(e.restBaseUrl).makeCall({ from: 'nope', to: '+14155550199', answerUrl: answer }),
    );
    expect(bad.status).toBe(400);
    expect(bad.message).toContain('invalid from number');
    expect(e.requests).toHaveLength(2);
  });

  describe('timeouts and network errors', () => {
    let hanging: Server;
    let hangingUrl: string;
    beforeAll(async () => {
      hanging = createServer(() => {
        // never answers
      });
      await new Promise<void>((r) => hanging.listen(0, '127.0.0.1', r));
      hangingUrl = `http://127.0.0.1:${(hanging.address() as AddressInfo).port}`;
    });
    afterAll(async () => {
      hanging.closeAllConnections();
      await new Promise((r) => hanging.close(r));
    });

    it('times out each attempt and retries idempotent requests', async () => {
      const err = await typedError(client(hangingUrl, { timeoutMs: 100, maxRetries: 1 }).hangupCall('abc'));
      expect(err.status).toBeUndefined();
      expect(err.retryable).toBe(true);
      expect(err.message).toMatch(/timed out after 100 ms/);
    });

    it('retries a call creation when the connection was refused (nothing was sent)', async () => {
      const closedPort = await new Promise<number>((resolve) => {
        const s = createServer();
        s.listen(0, '127.0.0.1', () => {
          const p = (s.address() as AddressInfo).port;
          s.close(() => resolve(p));
        });
      });
      const started = Date.now();
      const err = await typedError(
        client(`http://127.0.0.1:${closedPort}`, { maxRetries: 2 }).makeCall({
          from: '+1415555',
          to: '+1415556',
          answerUrl: answer,
        }),
      );
      expect(err.message).toContain('ECONNREFUSED');
      expect(Date.now() - started).toBeLessThan(2000);
    });

    it('turns a malformed success response into a typed, non-retryable error', async () => {
      const odd = createServer((req, res) => {
        if (req.url?.endsWith('/Message/'))
          res.writeHead(202, { 'content-type': 'application/json' }).end('{"message_uuid":');
        else res.writeHead(201, { 'content-type': 'application/json' }).end('{"api_id":"x"}');
      });
      await new Promise<void>((r) => odd.listen(0, '127.0.0.1', r));
      const url = `http://127.0.0.1:${(odd.address() as AddressInfo).port}`;
      try {
        const sms = await typedError(client(url).sendSms({ src: '+1415555', dst: '+1415556', text: 'x' }));
        expect(sms.message).toContain('not JSON');
        expect(sms.retryable).toBe(false);
        const call = await typedError(client(url).makeCall({ from: '+1415555', to: '+1415556', answerUrl: answer }));
        expect(call.message).toContain('no request_uuid');
      } finally {
        odd.closeAllConnections();
        await new Promise((r) => odd.close(r));
      }
    });

    it('honours an aborted caller signal', async () => {
      const ac = new AbortController();
      const p = client(hangingUrl, { timeoutMs: 5000 }).hangupCall('abc', ac.signal);
      setTimeout(() => ac.abort(), 50);
      const err = await typedError(p);
      expect(err.message).toMatch(/aborted/);
    });
  });

  it('parses Retry-After in seconds or as a date', () => {
    expect(parseRetryAfter('2')).toBe(2000);
    expect(parseRetryAfter(null)).toBeUndefined();
    expect(parseRetryAfter('soon')).toBeUndefined();
    expect(parseRetryAfter(new Date(Date.now() + 5000).toUTCString())).toBeGreaterThan(3000);
  });
});

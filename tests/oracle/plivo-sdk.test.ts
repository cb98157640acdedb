// Plivo's own Node SDK (`plivo`, a devDependency) as a test oracle for the Plivo pieces we wrote by hand. The
// runtime stays on our code (the SDK hard-wires https://api.plivo.com for voice requests and brings ~100 packages:
// README, "Why not the plivo SDK"), but wherever the SDK encodes Plivo's rules, ours must agree with it:
// - V3 webhook signatures: for every input, our verifier and the SDK's `validateV3Signature` accept and reject the
//   same signatures, and the SDK accepts every signature we make;
// - the answer XML: our `<Stream>` element equals the SDK's `Response().addStream(…)`, attribute by attribute;
// - REST requests: method, path and fields equal what the SDK sends for the same operation (captured in-process
//   through axios's adapter, so nothing leaves the process).
import { createRequire } from 'node:module';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createPlivoRestClient } from '../../src/plivo/rest-client.ts';
import { type SignedParams, signV3, verifyV3 } from '../../src/plivo/signature.ts';
import { streamXml } from '../../src/plivo/xml.ts';

const require = createRequire(import.meta.url);
const plivo = require('plivo') as {
  validateV3Signature(
    method: string,
    uri: string,
    nonce: string,
    token: string,
    sig: string,
    params?: Record<string, string | string[]>,
  ): boolean;
  Response: new () => { addStream(body: string, attrs: Record<string, string>): unknown; toXML(): string };
  Client: new (
    id: string,
    token: string,
  ) => {
    calls: {
      create(from: string, to: string, answerUrl: string, params?: Record<string, unknown>): Promise<unknown>;
      hangup(uuid: string): Promise<unknown>;
      transfer(uuid: string, params: Record<string, unknown>): Promise<unknown>;
    };
    messages: { create(src: string, dst: string, text: string): Promise<unknown> };
    applications: {
      create(name: string, params: Record<string, unknown>): Promise<unknown>;
      update(id: string, params: Record<string, unknown>): Promise<unknown>;
      list(params?: Record<string, unknown>): Promise<unknown>;
    };
    numbers: { update(number: string, params: Record<string, unknown>): Promise<unknown> };
  };
};
// The axios instance the SDK itself resolves (not a dependency of ours).
const axios = createRequire(require.resolve('plivo'))('axios') as {
  defaults: { adapter: unknown };
};

const TOKEN = 'MY_AUTH_TOKEN';

/** The SDK takes body params as an object; repeated keys become arrays (it sorts their values). */
function paramsObject(pairs: SignedParams): Record<string, string | string[]> {
  const o: Record<string, string | string[]> = {};
  for (const [k, v] of pairs) {
    const prev = o[k];
    o[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
  }
  return o;
}

const key = fc.stringMatching(/^[A-Za-z][A-Za-z0-9_]{0,11}$/);
const value = fc.oneof(
  fc.stringMatching(/^[A-Za-z0-9 _.:@-]{0,16}$/),
  fc.constantFrom('in-progress', '+14155550100', 'a&b=c', 'ünïcödé', ''),
);
const pairs = fc.array(fc.tuple(key, value), { maxLength: 8 });
const query = fc.array(fc.tuple(key, fc.stringMatching(/^[A-Za-z0-9_-]{0,8}$/)), { maxLength: 3 });
const url = fc
  .tuple(
    fc.constantFrom('https://gw.example.com', 'http://127.0.0.1:8000', 'https://voice.example.com:8443'),
    fc.constantFrom('/answer', '/hangup', '/callbacks/ring', '/transfer-xml/v1.abc.def'),
    query,
  )
  .map(([origin, path, q]) => {
    const u = new URL(path, origin);
    for (const [k, v] of q) u.searchParams.append(k, v);
    return u.toString();
  });
const nonce = fc.stringMatching(/^[0-9]{8,20}$/);

describe('V3 signatures against the SDK', () => {
  it("matches the SDK's worked example", () => {
    const params: SignedParams = [
      ['To', '14155550101'],
      ['From', '14155550100'],
      ['CallUUID', 'abc-123'],
      ['CallStatus', 'in-progress'],
    ];
    const u = 'https://gw.example.com/plivo/answer';
    const sig = signV3(TOKEN, 'POST', u, '05429567804466091622', params);
    expect(sig).toBe('uWnwBVoBiENYhOvS0Yp6Q8D3sPLavv1TE+6PqCkB3Uw=');
    expect(plivo.validateV3Signature('POST', u, '05429567804466091622', TOKEN, sig, paramsObject(params))).toBe(true);
  });

  it('the SDK accepts every signature we make (POST with a form body, and GET)', () => {
    fc.assert(
      fc.property(fc.constantFrom('GET', 'POST') as fc.Arbitrary<'GET' | 'POST'>, url, nonce, pairs, (m, u, n, p) => {
        const body = m === 'GET' ? [] : p;
        const sig = signV3(TOKEN, m, u, n, body);
        expect(plivo.validateV3Signature(m, u, n, TOKEN, sig, paramsObject(body))).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('we accept and reject exactly the signature headers the SDK accepts and rejects', () => {
    // Candidates: right, right for other params or another URL or nonce, garbage, and comma-separated lists.
    fc.assert(
      fc.property(url, nonce, pairs, pairs, fc.nat(5), (u, n, p, other, pick) => {
        const good = signV3(TOKEN, 'POST', u, n, p);
        const candidates = [
          good,
          signV3(TOKEN, 'POST', u, n, other),
          signV3(TOKEN, 'POST', `${u}x`, n, p),
          signV3(TOKEN, 'POST', u, `${n}1`, p),
          'AAAA',
          `${signV3(TOKEN, 'POST', u, n, other)},${good}`,
        ];
        const header = candidates[pick]!;
        const ours = verifyV3({
          authToken: TOKEN,
          method: 'POST',
          url: u,
          nonce: n,
          signatures: header,
          bodyParams: p,
        });
        expect(ours.ok).toBe(plivo.validateV3Signature('POST', u, n, TOKEN, header, paramsObject(p)));
      }),
      { numRuns: 300 },
    );
  });
});

/** `<Stream attr="v"…>body</Stream>` → its attributes and body, entities decoded. */
function parseStream(xml: string): { attrs: Record<string, string>; body: string } {
  const m = /<Stream\s([^>]*)>([^<]*)<\/Stream>/.exec(xml);
  if (!m) throw new Error(`no <Stream> in ${xml}`);
  const decode = (s: string) =>
    s
      .replace(/&quot;/g, '"')
      .replace(/&apos;/g, "'")
      .replace(/&lt;/g, '<')
      .replace(/&gt;/g, '>')
      .replace(/&amp;/g, '&');
  const attrs: Record<string, string> = {};
  for (const a of m[1]!.matchAll(/([A-Za-z]+)="([^"]*)"/g)) attrs[a[1]!] = decode(a[2]!);
  return { attrs, body: decode(m[2]!) };
}

describe('answer XML against the SDK', () => {
  it.each([
    { encoding: 'mulaw', sampleRate: 8000 },
    { encoding: 'l16', sampleRate: 16000 },
  ] as const)('<Stream> for %o has the attributes and URL the SDK writes', (format) => {
    const streamUrl = 'wss://gw.example.com/stream/v1.eyJjYWxs.sig?x=1&y=2';
    const status = 'https://gw.example.com/callbacks/stream-status?a=1&b=2';
    const ours = parseStream(streamXml({ url: streamUrl, format, statusCallbackUrl: status, streamTimeoutS: 3600 }));
    const r = new plivo.Response();
    r.addStream(streamUrl, ours.attrs);
    const sdk = parseStream(r.toXML());
    expect(ours.body).toBe(streamUrl);
    expect(sdk.body).toBe(streamUrl);
    expect(ours.attrs).toEqual(sdk.attrs);
    // And the values Plivo's docs require, so that agreeing with the SDK is not agreeing on nothing.
    expect(ours.attrs).toMatchObject({ bidirectional: 'true', keepCallAlive: 'true', statusCallbackMethod: 'POST' });
    expect(ours.attrs.contentType).toBe(
      format.encoding === 'mulaw' ? 'audio/x-mulaw;rate=8000' : 'audio/x-l16;rate=16000',
    );
  });
});

interface Captured {
  method: string;
  /** Path after /v1/Account/{auth_id}/, query included. */
  path: string;
  body: Record<string, unknown>;
}

const AUTH_ID = 'MAORACLE000000000000';
const ACCOUNT = `/v1/Account/${AUTH_ID}/`;

function relative(u: string): string {
  const x = new URL(u);
  const i = x.pathname.indexOf(ACCOUNT);
  return x.pathname.slice(i + ACCOUNT.length) + x.search;
}

/** Runs `fn` with the SDK, capturing each request through axios's adapter and answering like Plivo. */
async function sdkRequests(
  fn: (c: InstanceType<typeof plivo.Client>) => Promise<unknown>,
  answer: (r: Captured) => unknown,
): Promise<Captured[]> {
  const seen: Captured[] = [];
  const saved = axios.defaults.adapter;
  axios.defaults.adapter = async (config: { url: string; method: string; data?: string; params?: unknown }) => {
    const body = typeof config.data === 'string' && config.data !== '' ? JSON.parse(config.data) : {};
    const r: Captured = { method: config.method.toUpperCase(), path: relative(config.url), body };
    seen.push(r);
    return { data: answer(r), status: 200, statusText: 'OK', headers: {}, config, request: {} };
  };
  const log = console.log;
  console.log = () => {}; // applications.create prints its params (SDK 4.79)
  try {
    await fn(new plivo.Client(AUTH_ID, 'oracle-token'));
  } finally {
    axios.defaults.adapter = saved;
    console.log = log;
  }
  return seen;
}

/** Runs our client with a capturing fetch. */
async function ourRequests(
  fn: (c: ReturnType<typeof createPlivoRestClient>) => Promise<unknown>,
  answer: (r: Captured) => unknown,
): Promise<Captured[]> {
  const seen: Captured[] = [];
  const client = createPlivoRestClient({
    authId: AUTH_ID,
    authToken: 'oracle-token',
    baseUrl: 'https://api.plivo.com',
    timeoutMs: 1000,
    maxRetries: 0,
    fetch: async (input, init) => {
      const body = typeof init?.body === 'string' ? JSON.parse(init.body) : {};
      const r: Captured = { method: init?.method ?? 'GET', path: relative(String(input)), body };
      seen.push(r);
      return new Response(JSON.stringify(answer(r)), { status: 200, headers: { 'content-type': 'application/json' } });
    },
  });
  await fn(client);
  return seen;
}

const answers = (r: Captured): unknown =>
  r.path.startsWith('Application/?') || r.path === 'Application/'
    ? r.method === 'GET'
      ? { meta: { total_count: 0 }, objects: [] }
      : { app_id: 'APP1', message: 'created' }
    : { api_id: 'x', request_uuid: 'req-1', message_uuid: ['m-1'], message: 'ok' };

/** Same method, same path (query aside when the SDK puts it in the body), same fields and values. */
function expectSame(ours: Captured[], sdk: Captured[]): void {
  expect(ours.map((r) => `${r.method} ${r.path.split('?')[0]}`)).toEqual(
    sdk.map((r) => `${r.method} ${r.path.split('?')[0]}`),
  );
  ours.forEach((r, i) => {
    expect(r.body, `${r.method} ${r.path}`).toEqual(sdk[i]!.body);
  });
}

describe('REST requests against the SDK', () => {
  it('make call: the same fields as calls.create', async () => {
    const p = {
      from: '+14155550100',
      to: '+14155550111',
      answerUrl: 'https://gw.example.com/answer',
      hangupUrl: 'https://gw.example.com/hangup',
      ringUrl: 'https://gw.example.com/callbacks/ring',
      machineDetection: 'true' as const,
      machineDetectionUrl: 'https://gw.example.com/callbacks/machine',
      machineDetectionTimeMs: 5000,
      ringTimeoutS: 30,
      timeLimitS: 3600,
    };
    const ours = await ourRequests((c) => c.makeCall(p), answers);
    const sdk = await sdkRequests(
      (c) =>
        // Plivo's numbers go without '+' (as Plivo sends them in webhooks); we strip it, the SDK sends its input.
        c.calls.create(p.from.slice(1), p.to.slice(1), p.answerUrl, {
          answerMethod: ours[0]!.body.answer_method,
          hangupUrl: p.hangupUrl,
          hangupMethod: ours[0]!.body.hangup_method,
          ringUrl: p.ringUrl,
          ringMethod: ours[0]!.body.ring_method,
          machineDetection: p.machineDetection,
          machineDetectionUrl: p.machineDetectionUrl,
          machineDetectionMethod: 'POST',
          machineDetectionTime: p.machineDetectionTimeMs,
          ringTimeout: p.ringTimeoutS,
          timeLimit: p.timeLimitS,
        }),
      answers,
    );
    expectSame(ours, sdk);
  });

  it('hang up and transfer: the paths and fields the SDK uses', async () => {
    const ours = await ourRequests(async (c) => {
      await c.hangupCall('uuid-1');
      await c.transferCall('uuid-1', 'https://gw.example.com/transfer-xml/tok');
    }, answers);
    const sdk = await sdkRequests(async (c) => {
      await c.calls.hangup('uuid-1');
      await c.calls.transfer('uuid-1', {
        legs: 'aleg',
        alegUrl: 'https://gw.example.com/transfer-xml/tok',
        alegMethod: 'POST',
      });
    }, answers);
    // The SDK omits the trailing slash on some call paths: Plivo serves both (research/plivo.md §3).
    const noSlash = (r: Captured) => ({ ...r, path: r.path.replace(/\/$/, '') });
    expectSame(ours.map(noSlash), sdk.map(noSlash));
  });

  it('send SMS: the same fields as messages.create', async () => {
    const ours = await ourRequests(
      (c) => c.sendSms({ src: '+14155550100', dst: '+14155550111', text: 'Your order has shipped.' }),
      answers,
    );
    const sdk = await sdkRequests(
      (c) => c.messages.create('14155550100', '14155550111', 'Your order has shipped.'),
      answers,
    );
    expectSame(
      ours,
      sdk.map((r) => ({ ...r, body: Object.fromEntries(Object.entries(r.body).filter(([k]) => k in ours[0]!.body)) })),
    );
    // What the SDK adds beyond these is optional with defaults (type, url, method, log).
    expect(Object.keys(sdk[0]!.body)).toEqual(expect.arrayContaining(Object.keys(ours[0]!.body)));
  });

  it('configure the number: list, create the application, attach the number, as the SDK does', async () => {
    const fields = {
      answerUrl: 'https://gw.example.com/answer',
      answerMethod: 'POST',
      hangupUrl: 'https://gw.example.com/hangup',
      hangupMethod: 'POST',
    };
    const ours = await ourRequests(
      (c) => c.configureNumber('+14155550100', { answerUrl: fields.answerUrl, hangupUrl: fields.hangupUrl }),
      answers,
    );
    const sdk = await sdkRequests(async (c) => {
      await c.applications.list({ limit: 20, offset: 0 });
      await c.applications.create('gemini_plivo_gateway', fields);
      await c.numbers.update('14155550100', { appId: 'APP1' });
    }, answers);
    expect(ours[0]!.path).toBe('Application/?limit=20&offset=0');
    expect(sdk[0]!.path).toBe(ours[0]!.path);
    expectSame(ours, sdk);
  });
});

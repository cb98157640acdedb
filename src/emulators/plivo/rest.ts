// Plivo's REST API as far as the gateway uses it, under /v1/Account/{auth_id}/: Basic auth, JSON or form bodies,
// Plivo-style validation and status codes, every request recorded, optional fault injection.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Application, RecordedRequest, SentMessage } from './types.ts';

export interface MakeCallRequest {
  from: string;
  to: string;
  answerUrl: string;
  answerMethod: 'GET' | 'POST';
  hangupUrl: string | undefined;
  ringUrl: string | undefined;
  machineDetection: 'true' | 'hangup' | undefined;
  machineDetectionUrl: string | undefined;
  timeLimitS: number;
  ringTimeoutS: number;
}

/** What the REST layer needs from the emulator. */
export interface RestBackend {
  readonly authId: string;
  readonly authToken: string;
  readonly faults: { failFirst?: number; failStatus?: number; callsPerSecond?: number } | undefined;
  readonly requests: RecordedRequest[];
  readonly messages: SentMessage[];
  readonly applications: Map<string, Application>;
  readonly numbers: Map<string, string>;
  makeCall(req: MakeCallRequest): string;
  hangupCall(uuid: string): boolean;
  transferCall(uuid: string, alegUrl: string, alegMethod: 'GET' | 'POST'): boolean;
  cancelRequest(uuid: string): boolean;
  describeCall(uuid: string): Record<string, unknown> | undefined;
  isLive(uuid: string): boolean;
}

interface Reply {
  status: number;
  body?: unknown;
}

const MAX_BODY = 1024 * 1024;
const PHONE = /^\+?[0-9]{5,15}$/;
const SIP = /^sip:[^\s@]+@[^\s]+$/;
const APP_NAME = /^[A-Za-z0-9_-]+$/;

export function createRestHandler(backend: RestBackend): (req: IncomingMessage, res: ServerResponse) => void {
  let failuresLeft = backend.faults?.failFirst ?? 0;
  const callTimes: number[] = [];

  return (req, res) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooBig = false;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) tooBig = true;
      else chunks.push(c);
    });
    req.on('error', () => res.destroy());
    req.on('end', () => {
      const method = req.method ?? 'GET';
      const url = new URL(req.url ?? '/', 'http://emulator');
      const path = url.pathname;
      const params: Record<string, string> = {};
      for (const [k, v] of url.searchParams) params[k] = v;
      let reply: Reply;
      if (tooBig) {
        reply = err(413, 'request body too large');
      } else {
        const parsed = parseBody(req.headers['content-type'], Buffer.concat(chunks).toString('utf8'));
        if (typeof parsed === 'string') reply = err(400, parsed);
        else {
          Object.assign(params, parsed);
          reply = handle(method, path, params, req.headers.authorization);
        }
      }
      backend.requests.push({ method, path, params, at: Date.now(), status: reply.status });
      const body = reply.body === undefined ? '' : JSON.stringify(reply.body);
      res.writeHead(reply.status, {
        'Content-Type': 'application/json',
        'Content-Length': Buffer.byteLength(body),
      });
      res.end(body);
    });
  };

  function handle(method: string, path: string, p: Record<string, string>, auth: string | undefined): Reply {
    const m = /^\/v1\/Account\/([^/]+)(\/.*)?$/.exec(path);
    if (!m) return err(404, 'not found');
    if (!authorized(auth) || decodeURIComponent(m[1]!) !== backend.authId) {
      return err(401, 'authentication failed');
    }
    if (failuresLeft > 0) {
      failuresLeft--;
      const status = backend.faults?.failStatus ?? 500;
      return err(status, status === 429 ? 'too many requests' : 'internal server error');
    }
    const seg = (m[2] ?? '/').split('/').filter(Boolean).map(decodeURIComponent);
    const [resource, id, sub] = seg;
    if (seg.length > 3) return err(404, 'not found');
    switch (resource) {
      case undefined:
        // GET /v1/Account/{auth_id}/: the account itself (https://www.plivo.com/docs/account/api/account#retrieve-account-details).
        return method === 'GET' ? account() : notAllowed();
      case 'Call':
        if (id === undefined) return method === 'POST' ? makeCall(p) : notAllowed();
        if (sub === 'DTMF') return method === 'POST' ? sendDigits(id, p) : notAllowed();
        if (sub !== undefined) return err(404, 'not found');
        if (method === 'DELETE') return backend.hangupCall(id) ? { status: 204 } : err(404, 'call not found');
        if (method === 'POST') return transfer(id, p);
        if (method === 'GET') {
          const call = backend.describeCall(id);
          if (!call) return err(404, 'call not found');
          if (p.status === 'live' && !backend.isLive(id)) return err(404, 'call not found');
          return { status: 200, body: { api_id: apiId(), ...call } };
        }
        return notAllowed();
      case 'Request':
        if (id === undefined || sub !== undefined) return err(404, 'not found');
        if (method !== 'DELETE') return notAllowed();
        return backend.cancelRequest(id) ? { status: 204 } : err(404, 'request not found');
      case 'Message':
        if (id !== undefined) return err(404, 'not found');
        return method === 'POST' ? sendMessage(p) : notAllowed();
      case 'Application':
        if (sub !== undefined) return err(404, 'not found');
        return application(method, id, p);
      case 'Number':
        if (id === undefined || sub !== undefined) return err(404, 'not found');
        return number(method, id, p);
      default:
        return err(404, 'not found');
    }
  }

  function authorized(header: string | undefined): boolean {
    if (!header?.startsWith('Basic ')) return false;
    const decoded = Buffer.from(header.slice(6), 'base64').toString('utf8');
    return decoded === `${backend.authId}:${backend.authToken}`;
  }

  function makeCall(p: Record<string, string>): Reply {
    for (const k of ['from', 'to', 'answer_url']) if (!p[k]) return err(400, `${k} is required`);
    if (!PHONE.test(p.from!)) return err(400, 'invalid from number');
    const targets = p.to!.split('<');
    for (const t of targets) if (!PHONE.test(t) && !SIP.test(t)) return err(400, `invalid to number ${t}`);
    if (targets.length > 1000) return err(400, 'too many destinations (max 1000)');
    for (const k of ['answer_url', 'hangup_url', 'ring_url', 'machine_detection_url']) {
      if (p[k] !== undefined && !isHttpUrl(p[k])) return err(400, `${k} must be a valid http(s) URL`);
    }
    const answerMethod = (p.answer_method ?? 'POST').toUpperCase();
    if (answerMethod !== 'GET' && answerMethod !== 'POST') return err(400, 'answer_method must be GET or POST');
    const md = p.machine_detection;
    if (md !== undefined && md !== 'true' && md !== 'hangup')
      return err(400, 'machine_detection must be true or hangup');
    const timeLimit = optInt(p.time_limit, 14400);
    const ringTimeout = optInt(p.ring_timeout, 120);
    if (timeLimit === undefined || timeLimit < 1) return err(400, 'time_limit must be a positive integer');
    if (ringTimeout === undefined || ringTimeout < 1) return err(400, 'ring_timeout must be a positive integer');
    const cps = backend.faults?.callsPerSecond;
    if (cps !== undefined) {
      const now = Date.now();
      while (callTimes.length > 0 && callTimes[0]! <= now - 1000) callTimes.shift();
      if (callTimes.length >= cps) return err(429, 'too many requests: call rate limit exceeded');
      callTimes.push(now);
    }
    const uuids = targets.map((to) =>
      backend.makeCall({
        from: p.from!,
        to,
        answerUrl: p.answer_url!,
        answerMethod,
        hangupUrl: p.hangup_url ?? p.answer_url,
        ringUrl: p.ring_url,
        machineDetection: md as 'true' | 'hangup' | undefined,
        machineDetectionUrl: p.machine_detection_url,
        timeLimitS: timeLimit,
        ringTimeoutS: ringTimeout,
      }),
    );
    return {
      status: 201,
      body: { api_id: apiId(), message: 'call fired', request_uuid: uuids.length === 1 ? uuids[0] : uuids },
    };
  }

  function transfer(uuid: string, p: Record<string, string>): Reply {
    const legs = p.legs;
    if (legs !== 'aleg' && legs !== 'bleg' && legs !== 'both') return err(400, 'legs must be aleg, bleg or both');
    if (legs !== 'bleg' && !p.aleg_url) return err(400, 'aleg_url is required');
    if (p.aleg_url !== undefined && !isHttpUrl(p.aleg_url)) return err(400, 'aleg_url must be a valid http(s) URL');
    const method = (p.aleg_method ?? 'POST').toUpperCase();
    if (method !== 'GET' && method !== 'POST') return err(400, 'aleg_method must be GET or POST');
    if (legs === 'bleg') return backend.isLive(uuid) ? err(400, 'call has no b leg') : err(404, 'call not found');
    if (!backend.transferCall(uuid, p.aleg_url!, method)) return err(404, 'call not found');
    return { status: 202, body: { api_id: apiId(), message: 'call transferred' } };
  }

  function sendDigits(uuid: string, p: Record<string, string>): Reply {
    if (!p.digits || !/^[0-9*#A-Dw W]+$/.test(p.digits)) return err(400, 'digits is required (0-9, *, #, A-D, w, W)');
    if (!backend.isLive(uuid)) return err(404, 'call not found');
    return { status: 202, body: { api_id: apiId(), message: 'digits sent' } };
  }

  function sendMessage(p: Record<string, string>): Reply {
    for (const k of ['src', 'dst', 'text']) if (!p[k]) return err(400, `${k} is required`);
    if (!PHONE.test(p.src!)) return err(400, 'invalid src number');
    const dsts = p.dst!.split('<');
    for (const d of dsts) if (!PHONE.test(d)) return err(400, `invalid dst number ${d}`);
    if (dsts.includes(p.src!)) return err(400, 'src and dst cannot be the same');
    const uuids: string[] = [];
    for (const dst of dsts) {
      const uuid = randomUUID();
      backend.messages.push({ src: p.src!, dst, text: p.text!, uuid });
      uuids.push(uuid);
    }
    return { status: 202, body: { api_id: apiId(), message: 'message(s) queued', message_uuid: uuids } };
  }

  function application(method: string, id: string | undefined, p: Record<string, string>): Reply {
    const apps = backend.applications;
    if (id === undefined) {
      if (method === 'GET') {
        const objects = [...apps.values()];
        return {
          status: 200,
          body: { api_id: apiId(), meta: { limit: 20, offset: 0, total_count: objects.length }, objects },
        };
      }
      if (method !== 'POST') return notAllowed();
      if (!p.app_name) return err(400, 'app_name is required');
      if (!APP_NAME.test(p.app_name)) return err(400, 'app_name may contain only letters, digits, - and _');
      if (!p.answer_url) return err(400, 'answer_url is required');
      const bad = badUrls(p);
      if (bad) return bad;
      const appId = String(10_000_000_000_000 + apps.size + Math.floor(Math.random() * 1e6));
      apps.set(appId, {
        ...p,
        app_id: appId,
        app_name: p.app_name,
        answer_url: p.answer_url,
        answer_method: (p.answer_method ?? 'POST').toUpperCase(),
        hangup_url: p.hangup_url ?? p.answer_url,
        hangup_method: (p.hangup_method ?? 'POST').toUpperCase(),
      });
      return { status: 201, body: { api_id: apiId(), message: 'created', app_id: appId } };
    }
    const app = apps.get(id);
    if (!app) return err(404, 'application not found');
    if (method === 'GET') return { status: 200, body: { api_id: apiId(), ...app } };
    if (method === 'DELETE') {
      apps.delete(id);
      return { status: 204 };
    }
    if (method !== 'POST') return notAllowed();
    if (p.app_name !== undefined && !APP_NAME.test(p.app_name)) {
      return err(400, 'app_name may contain only letters, digits, - and _');
    }
    const bad = badUrls(p);
    if (bad) return bad;
    Object.assign(app, p, { app_id: id });
    return { status: 202, body: { api_id: apiId(), message: 'changed' } };
  }

  function account(): Reply {
    const root = `/v1/Account/${backend.authId}/`;
    return {
      status: 200,
      body: {
        api_id: apiId(),
        account_type: 'standard',
        auth_id: backend.authId,
        auto_recharge: false,
        billing_mode: 'prepaid',
        cash_credits: '10.00000',
        name: 'Emulated account',
        resource_uri: root,
        timezone: 'UTC',
      },
    };
  }

  function number(method: string, num: string, p: Record<string, string>): Reply {
    if (!PHONE.test(num)) return err(400, 'invalid number');
    const key = num.replace(/^\+/, '');
    if (method === 'GET') {
      // Only numbers of the account exist (emu.numbers; '' = rented, no application). Plivo gives the application
      // as its resource URI (https://www.plivo.com/docs/numbers/api/account-phone-number#retrieve-a-number).
      const appId = backend.numbers.get(key);
      if (appId === undefined) return err(404, 'number not found');
      const root = `/v1/Account/${backend.authId}/`;
      return {
        status: 200,
        body: {
          api_id: apiId(),
          number: key,
          alias: null,
          application: appId === '' ? null : `${root}Application/${appId}/`,
          number_type: 'local',
          voice_enabled: true,
          sms_enabled: true,
          resource_uri: `${root}Number/${key}/`,
        },
      };
    }
    if (method !== 'POST') return notAllowed();
    if (p.app_id !== undefined) {
      if (!backend.applications.has(p.app_id)) return err(400, 'app_id does not exist');
      backend.numbers.set(key, p.app_id);
    }
    return { status: 202, body: { api_id: apiId(), message: 'changed' } };
  }
}

/** A JSON object (values stringified), a form body, or an error message. */
export function parseBody(contentType: string | undefined, text: string): Record<string, string> | string {
  const out: Record<string, string> = {};
  if (text.trim() === '') return out;
  if ((contentType ?? '').includes('application/json')) {
    let v: unknown;
    try {
      v = JSON.parse(text);
    } catch {
      return 'request body is not valid JSON';
    }
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return 'request body must be a JSON object';
    for (const [k, x] of Object.entries(v)) {
      if (x === null || x === undefined) continue;
      if (typeof x === 'object') return `parameter ${k} must be a string, number or boolean`;
      out[k] = String(x);
    }
    return out;
  }
  for (const [k, v] of new URLSearchParams(text)) out[k] = v;
  return out;
}

function badUrls(p: Record<string, string>): Reply | undefined {
  for (const k of ['answer_url', 'hangup_url', 'fallback_answer_url', 'message_url']) {
    if (p[k] !== undefined && !isHttpUrl(p[k])) return err(400, `${k} must be a valid http(s) URL`);
  }
  for (const k of ['answer_method', 'hangup_method']) {
    if (p[k] !== undefined && !/^(GET|POST)$/i.test(p[k])) return err(400, `${k} must be GET or POST`);
  }
  return undefined;
}

function isHttpUrl(s: string): boolean {
  try {
    const u = new URL(s);
    return u.protocol === 'http:' || u.protocol === 'https:';
  } catch {
    return false;
  }
}

function optInt(v: string | undefined, dflt: number): number | undefined {
  if (v === undefined || v === '') return dflt;
  return /^[0-9]+$/.test(v) ? Number(v) : undefined;
}

function apiId(): string {
  return randomUUID();
}

function err(status: number, error: string): Reply {
  return { status, body: { api_id: apiId(), error } };
}

function notAllowed(): Reply {
  return err(405, 'method not allowed');
}

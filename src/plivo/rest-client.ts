// Plivo REST over fetch: the ~6 endpoints the gateway uses, typed, with timeouts and retries.
//
// Why not the plivo SDK: its voice requests (Call, Application…) go to https://api.plivo.com/v1/Account/ hard-coded
// in dist/rest/axios.js (`apiVoiceUris`), ignoring the `url` option, so they cannot be pointed at PLIVO_API_BASE_URL
// (our emulator, a regional endpoint, a proxy); it pulls ~100 packages (axios, lodash, joi, xml2js, request…), sets
// process-wide axios keep-alive agents on import, and its typings are loose (transfer requires every b-leg field,
// responses are `any`). This client is small, has one dependency (fetch), and its errors are PlivoApiError.

import { errorMessage, isRetryableStatus, PlivoApiError } from '../errors.ts';
import { childLogger, type Logger } from '../log.ts';
import type { MakeCallParams, MakeCallResult, PlivoApi, PlivoCallDetails, SendSmsParams } from './api-types.ts';

export interface PlivoRestClientOptions {
  authId: string;
  authToken: string;
  /** e.g. https://api.plivo.com (no /v1). */
  baseUrl: string;
  timeoutMs: number;
  maxRetries: number;
  /** Name of the Application configureNumber creates or updates. */
  appName?: string;
  /** First backoff step (ms); doubled per attempt with full jitter, capped at maxBackoffMs. */
  baseBackoffMs?: number;
  maxBackoffMs?: number;
  fetch?: typeof fetch;
  logger?: Logger;
}

/**
 * Whether a failed request may be sent again. Creating a call or an SMS twice has real cost (two calls ring), so
 * those are retried only when the request provably was not processed: 429 (rate limited, rejected before work),
 * 503 (service unavailable) or a connection that never opened. Idempotent operations retry on any retryable failure.
 */
type RetryPolicy = 'idempotent' | 'unsafe';

const NOT_SENT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN']);

interface RequestSpec {
  method: 'GET' | 'POST' | 'DELETE';
  /** Path under /v1/Account/{authId}/, with a trailing slash as Plivo documents. */
  path: string;
  body?: Record<string, unknown>;
  policy: RetryPolicy;
  signal?: AbortSignal | undefined;
  /** Statuses that count as success besides 2xx (hang up → 404 means the call is already gone). */
  okStatuses?: number[];
  callId?: string | undefined;
}

export function createPlivoRestClient(o: PlivoRestClientOptions): PlivoApi & {
  request<T>(spec: RequestSpec): Promise<T>;
} {
  const doFetch = o.fetch ?? fetch;
  const log = o.logger ?? childLogger({ component: 'plivo-rest' });
  const root = `${o.baseUrl.replace(/\/+$/, '')}/v1/Account/${encodeURIComponent(o.authId)}/`;
  const auth = `Basic ${Buffer.from(`${o.authId}:${o.authToken}`).toString('base64')}`;
  const baseBackoff = o.baseBackoffMs ?? 250;
  const maxBackoff = o.maxBackoffMs ?? 5000;
  const appName = o.appName ?? 'gemini_plivo_gateway';

  async function request<T>(spec: RequestSpec): Promise<T> {
    let attempt = 0;
    for (;;) {
      const outcome = await once<T>(spec);
      if (outcome.ok) return outcome.value;
      const { error, retryAfterMs, notSent } = outcome;
      const retryable =
        spec.policy === 'idempotent'
          ? error.retryable
          : error.status === 429 || error.status === 503 || (error.status === undefined && notSent);
      if (!retryable || attempt >= o.maxRetries || spec.signal?.aborted) throw error;
      attempt++;
      const backoff = Math.random() * Math.min(maxBackoff, baseBackoff * 2 ** (attempt - 1));
      const delay = Math.min(Math.max(backoff, retryAfterMs ?? 0), 30_000);
      log.warn(
        { callId: spec.callId, path: spec.path, status: error.status, attempt, delayMs: Math.round(delay) },
        'Plivo request failed; retrying',
      );
      await sleep(delay, spec.signal);
    }
  }

  type Outcome<T> =
    | { ok: true; value: T }
    | { ok: false; error: PlivoApiError; retryAfterMs?: number | undefined; notSent: boolean };

  async function once<T>(spec: RequestSpec): Promise<Outcome<T>> {
    const timeout = AbortSignal.timeout(o.timeoutMs);
    const signal = spec.signal ? AbortSignal.any([spec.signal, timeout]) : timeout;
    const url = root + spec.path;
    let res: Response;
    try {
      res = await doFetch(url, {
        method: spec.method,
        headers: {
          authorization: auth,
          accept: 'application/json',
          ...(spec.body ? { 'content-type': 'application/json' } : {}),
        },
        body: spec.body ? JSON.stringify(spec.body) : undefined,
        signal,
      });
    } catch (err) {
      if (spec.signal?.aborted) {
        return {
          ok: false,
          notSent: false,
          error: apiError(`Plivo ${spec.method} ${spec.path} aborted`, undefined, spec, err, false),
        };
      }
      const timedOut = timeout.aborted;
      const code = networkCode(err);
      return {
        ok: false,
        notSent: !timedOut && code !== undefined && NOT_SENT_CODES.has(code),
        error: apiError(
          timedOut
            ? `Plivo ${spec.method} ${spec.path} timed out after ${o.timeoutMs} ms`
            : `Plivo ${spec.method} ${spec.path} failed: ${code ?? errorMessage(err)}`,
          undefined,
          spec,
          err,
        ),
      };
    }
    let text = '';
    try {
      text = await res.text();
    } catch (err) {
      return {
        ok: false,
        notSent: false,
        error: apiError(`Plivo ${spec.path}: response body lost`, res.status, spec, err),
      };
    }
    if (res.ok || spec.okStatuses?.includes(res.status)) {
      let value: unknown = {};
      if (text.trim() !== '') {
        try {
          value = JSON.parse(text);
        } catch (err) {
          return {
            ok: false,
            notSent: false,
            error: apiError(`Plivo ${spec.path}: response is not JSON`, res.status, spec, err, false),
          };
        }
      }
      return { ok: true, value: value as T };
    }
    return {
      ok: false,
      notSent: false,
      retryAfterMs: parseRetryAfter(res.headers.get('retry-after')),
      error: apiError(`Plivo ${spec.method} ${spec.path} → ${res.status}: ${plivoErrorText(text)}`, res.status, spec),
    };
  }

  function apiError(
    message: string,
    status: number | undefined,
    spec: RequestSpec,
    cause?: unknown,
    retryable = isRetryableStatus(status),
  ): PlivoApiError {
    return new PlivoApiError(message, status, {
      callId: spec.callId,
      cause,
      retryable,
      detail: { method: spec.method, path: spec.path },
    });
  }

  return {
    request,

    async makeCall(p: MakeCallParams, signal?: AbortSignal): Promise<MakeCallResult> {
      const body: Record<string, unknown> = {
        from: p.from.replace(/^\+/, ''),
        to: p.to.replace(/^\+/, ''),
        answer_url: p.answerUrl,
        answer_method: p.answerMethod ?? 'POST',
      };
      if (p.hangupUrl !== undefined) {
        body.hangup_url = p.hangupUrl;
        body.hangup_method = 'POST';
      }
      if (p.ringUrl !== undefined) {
        body.ring_url = p.ringUrl;
        body.ring_method = 'POST';
      }
      if (p.machineDetection !== undefined) body.machine_detection = p.machineDetection;
      if (p.machineDetectionUrl !== undefined) {
        body.machine_detection_url = p.machineDetectionUrl;
        body.machine_detection_method = 'POST';
      }
      if (p.machineDetectionTimeMs !== undefined) body.machine_detection_time = p.machineDetectionTimeMs;
      if (p.ringTimeoutS !== undefined) body.ring_timeout = p.ringTimeoutS;
      if (p.timeLimitS !== undefined) body.time_limit = p.timeLimitS;
      const r = await request<{ api_id?: string; request_uuid?: string | string[] }>({
        method: 'POST',
        path: 'Call/',
        body,
        policy: 'unsafe',
        signal,
      });
      const uuid = Array.isArray(r.request_uuid) ? r.request_uuid[0] : r.request_uuid;
      if (typeof uuid !== 'string' || uuid === '') {
        throw new PlivoApiError('Plivo make call: response has no request_uuid', 201, { retryable: false });
      }
      return { apiId: r.api_id ?? '', requestUuid: uuid };
    },

    async hangupCall(callUuid: string, signal?: AbortSignal): Promise<void> {
      // 404: the call has already ended, which is what we wanted.
      await request({
        method: 'DELETE',
        path: `Call/${encodeURIComponent(callUuid)}/`,
        policy: 'idempotent',
        signal,
        okStatuses: [404],
        callId: callUuid,
      });
    },

    async transferCall(callUuid: string, alegUrl: string, signal?: AbortSignal): Promise<void> {
      // Not idempotent: a repeated transfer re-runs the XML (dials again).
      await request({
        method: 'POST',
        path: `Call/${encodeURIComponent(callUuid)}/`,
        body: { legs: 'aleg', aleg_url: alegUrl, aleg_method: 'POST' },
        policy: 'unsafe',
        signal,
        callId: callUuid,
      });
    },

    async getCall(callUuid: string, signal?: AbortSignal): Promise<PlivoCallDetails | undefined> {
      // The CDR of the call (documented for ended calls; live calls may answer with call_status). 404: unknown.
      const r = await request<Record<string, unknown> | undefined>({
        method: 'GET',
        path: `Call/${encodeURIComponent(callUuid)}/`,
        policy: 'idempotent',
        signal,
        okStatuses: [404],
        callId: callUuid,
      });
      if (!r || typeof r !== 'object' || (r.call_uuid === undefined && r.end_time === undefined)) return undefined;
      const str = (v: unknown) => (typeof v === 'string' && v.trim() !== '' ? v : undefined);
      const dur = Number(r.call_duration);
      return {
        callUuid: str(r.call_uuid) ?? callUuid,
        callStatus: str(r.call_status),
        endTime: str(r.end_time),
        answerTime: str(r.answer_time),
        hangupCause: str(r.hangup_cause_name),
        durationS: Number.isFinite(dur) && r.call_duration !== null && r.call_duration !== undefined ? dur : undefined,
      };
    },

    async sendSms(p: SendSmsParams, signal?: AbortSignal): Promise<{ messageUuids: string[] }> {
      const r = await request<{ message_uuid?: string[] | string }>({
        method: 'POST',
        path: 'Message/',
        body: { src: p.src.replace(/^\+/, ''), dst: p.dst.replace(/^\+/, ''), text: p.text },
        policy: 'unsafe',
        signal,
      });
      const ids = Array.isArray(r.message_uuid) ? r.message_uuid : r.message_uuid ? [r.message_uuid] : [];
      return { messageUuids: ids.filter((x): x is string => typeof x === 'string') };
    },

    async configureNumber(number, urls, signal): Promise<{ appId: string }> {
      const fields = {
        answer_url: urls.answerUrl,
        answer_method: 'POST',
        hangup_url: urls.hangupUrl,
        hangup_method: 'POST',
      };
      let appId: string | undefined;
      for (let offset = 0, page = 0; page < 20 && appId === undefined; page++) {
        const list = await request<{
          meta?: { total_count?: number; next?: string | null };
          objects?: Array<{ app_id?: string; app_name?: string }>;
        }>({ method: 'GET', path: `Application/?limit=20&offset=${offset}`, policy: 'idempotent', signal });
        const objects = list.objects ?? [];
        appId = objects.find((a) => a.app_name === appName)?.app_id;
        offset += objects.length;
        if (objects.length === 0 || offset >= (list.meta?.total_count ?? offset)) break;
      }
      if (appId !== undefined) {
        await request({ method: 'POST', path: `Application/${appId}/`, body: fields, policy: 'idempotent', signal });
      } else {
        const created = await request<{ app_id?: string }>({
          method: 'POST',
          path: 'Application/',
          body: { app_name: appName, ...fields },
          policy: 'idempotent',
          signal,
        });
        if (typeof created.app_id !== 'string') {
          throw new PlivoApiError('Plivo create application: response has no app_id', 201, { retryable: false });
        }
        appId = created.app_id;
      }
      const digits = number.replace(/^\+/, '');
      await request({
        method: 'POST',
        path: `Number/${encodeURIComponent(digits)}/`,
        body: { app_id: appId },
        policy: 'idempotent',
        signal,
      });
      return { appId };
    },
  };
}

function networkCode(err: unknown): string | undefined {
  const cause = (err as { cause?: { code?: unknown } } | undefined)?.cause;
  return typeof cause?.code === 'string' ? cause.code : undefined;
}

function plivoErrorText(text: string): string {
  try {
    const j = JSON.parse(text) as { error?: unknown; message?: unknown };
    const e = j.error ?? j.message;
    if (typeof e === 'string') return e.slice(0, 200);
    if (e !== undefined) return JSON.stringify(e).slice(0, 200);
  } catch {
    // not JSON
  }
  return text.slice(0, 200);
}

/** Retry-After is seconds or an HTTP date. */
export function parseRetryAfter(v: string | null): number | undefined {
  if (v === null || v.trim() === '') return undefined;
  const s = Number(v);
  if (Number.isFinite(s)) return Math.max(0, s * 1000);
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** The client for this gateway's configuration. */
export function plivoRestClientFromConfig(config: import('../config.ts').Config): PlivoApi {
  return createPlivoRestClient({
    authId: config.plivo.authId,
    authToken: config.plivo.authToken,
    baseUrl: config.plivo.apiBaseUrl,
    timeoutMs: config.plivo.requestTimeoutMs,
    maxRetries: config.plivo.maxRetries,
  });
}

// The outbound REST API on the gateway's uWS app: single calls (the seed's API, query parameters or JSON), their
// status and hangup, campaign views, and the campaign dialer's controls. Every route needs the bearer token.

import type { HttpRequest, HttpResponse, TemplatedApp } from 'uWebSockets.js';
import { randomUUID } from 'node:crypto';
import { isTerminal, withStatus } from '../calls/status-updates.ts';
import type { Config } from '../config.ts';
import { errorMessage, GatewayError, PlivoApiError } from '../errors.ts';
import { childLogger } from '../log.ts';
import type { PlivoApi } from '../plivo/api-types.ts';
import { BodyTooLargeError, parseParams, Reply, type RequestInfo, readBody, requestInfo } from '../server/http.ts';
import type { CallRecord, CallStore } from '../store/types.ts';
import { authorized } from './auth.ts';
import type { Clock } from './clock.ts';
import { blockedMessage, blockedPrefix, screenContacts } from './contacts.ts';
import type { Dialer } from './dialer.ts';
import type { MachineDetection } from './dialer-types.ts';
import { placeCall } from './place-call.ts';
import { newOutboundRecord, recordJson } from './records.ts';
import { fieldErrors, foldQueryVariables, ID_PATTERN, requestSchemas } from './schemas.ts';

export interface OutboundDeps {
  config: Config;
  store: CallStore;
  /** Without it (no Plivo client configured) calls cannot be placed: 503. */
  plivo: PlivoApi | undefined;
  /** Without it the campaign dialer routes answer 503. */
  dialer: Dialer | undefined;
  clock: Clock;
  /** Base URL Plivo calls back (default: the gateway's, else config.server.publicUrl). */
  publicUrl?: () => string;
  /** A draining replica places no new call: POST /outbound/call answers 503 with Retry-After. */
  isDraining?: () => boolean;
}

/** Seconds a client is told to wait before trying again (another replica, behind the load balancer). */
const DRAINING_RETRY_AFTER_S = 5;

const MAX_BODY = 4 * 1024 * 1024;
const log = childLogger({ component: 'outbound-api' });

class HttpError extends Error {
  readonly status: number;
  readonly body: Record<string, unknown>;
  readonly headers: Record<string, string>;
  constructor(status: number, body: Record<string, unknown>, headers: Record<string, string> = {}) {
    super(String(body.message ?? body.error));
    this.status = status;
    this.body = body;
    this.headers = headers;
  }
}

const notFound = (what: string) => new HttpError(404, { error: 'not_found', message: `${what} not found` });

function paramsOf(info: RequestInfo, body: Buffer): Record<string, unknown> {
  const type = info.headers['content-type'];
  // curl -d '{…}' without a content type: treat a body that looks like JSON as JSON rather than as a form.
  if (type === undefined && body.toString('utf8', 0, 64).trimStart().startsWith('{')) {
    return parseParams({ ...info, headers: { ...info.headers, 'content-type': 'application/json' } }, body);
  }
  return parseParams(info, body);
}

function validate<T>(
  schema: { safeParse(v: unknown): { success: true; data: T } | { success: false; error: import('zod').ZodError } },
  params: unknown,
): T {
  const parsed = schema.safeParse(params);
  if (!parsed.success) {
    throw new HttpError(400, {
      error: 'invalid_request',
      message: 'Invalid request',
      fields: fieldErrors(parsed.error),
    });
  }
  return parsed.data;
}

function pathId(raw: string | undefined): string {
  let id = '';
  try {
    id = decodeURIComponent(raw ?? '');
  } catch {
    throw notFound('call');
  }
  if (!/^[A-Za-z0-9_.-]{1,128}$/.test(id)) throw notFound('resource');
  return id;
}

export function outboundRoutes(deps: OutboundDeps): (app: TemplatedApp, gatewayDeps?: unknown) => void {
  const { config, store, clock } = deps;
  const schemas = requestSchemas(config.outbound.defaultCountry);
  let publicUrl = deps.publicUrl ?? (() => config.server.publicUrl);

  async function createCall(params: Record<string, unknown>, reply: Reply): Promise<void> {
    if (deps.isDraining?.()) {
      throw new HttpError(
        503,
        { error: 'draining', message: 'This replica is shutting down; retry (another replica will place the call)' },
        { 'retry-after': String(DRAINING_RETRY_AFTER_S) },
      );
    }
    const req = validate(schemas.call, foldQueryVariables(params));
    const blocked = blockedPrefix(req.phone_number, config.outbound.blockedPrefixes);
    if (blocked) {
      throw new HttpError(400, {
        error: 'blocked_destination',
        message: blockedMessage(blocked),
        fields: [{ field: 'phone_number', message: blockedMessage(blocked) }],
      });
    }
    if (!deps.plivo) throw new HttpError(503, { error: 'plivo_unavailable', message: 'No Plivo client configured' });
    const record = newOutboundRecord({
      id: randomUUID(),
      from: config.plivo.phoneNumber,
      to: req.phone_number,
      campaignId: req.campaign_id,
      openingReason: req.opening_reason,
      objective: req.objective,
      context: req.context,
      variables: req.variables,
      nowMs: clock.now(),
    });
    await store.create(record);
    const md = (req.machine_detection ?? 'true') as MachineDetection;
    try {
      const result = await placeCall({ publicUrl, store, plivo: deps.plivo }, record, md);
      const now = await store.get(record.id);
      if (now?.status === 'canceled') {
        // Hung up through the API while Plivo was placing it.
        await deps.plivo.hangupCall(result.requestUuid).catch(() => {});
      }
      reply.json(201, { call_id: record.id, status: now?.status ?? 'queued', plivo_request_uuid: result.requestUuid });
    } catch (err) {
      const message = errorMessage(err);
      await store.update(record.id, (r) => ({
        ...withStatus(r, 'failed', clock.now()),
        endedAt: new Date(clock.now()).toISOString(),
        hangupCause: `plivo_error: ${message}`,
      }));
      if (err instanceof PlivoApiError) {
        throw new HttpError(502, {
          error: 'plivo_error',
          code: err.code,
          message,
          plivo_status: err.status,
          retryable: err.retryable,
          call_id: record.id,
        });
      }
      throw err;
    }
  }

  async function hangup(id: string, reply: Reply): Promise<void> {
    const record = await store.get(id);
    if (record?.direction !== 'outbound') throw notFound('call');
    if (isTerminal(record.status)) {
      throw new HttpError(409, {
        error: 'already_ended',
        message: 'The call has already ended',
        status: record.status,
      });
    }
    if (record.status === 'queued' && !record.plivoCallUuid) {
      // Not placed yet: a dialer job (or a make-call still in flight) is canceled instead.
      if (deps.dialer && record.contactId !== undefined) await deps.dialer.cancelQueued(record);
      else {
        await store.update(id, (r) => ({
          ...withStatus(r, 'canceled', clock.now()),
          endedAt: new Date(clock.now()).toISOString(),
          endReason: 'canceled-before-dial',
        }));
      }
      const now = await store.get(id);
      reply.json(200, { call_id: id, status: now?.status ?? 'canceled' });
      return;
    }
    if (!deps.plivo) throw new HttpError(503, { error: 'plivo_unavailable', message: 'No Plivo client configured' });
    try {
      await deps.plivo.hangupCall(record.plivoCallUuid!);
    } catch (err) {
      if (err instanceof PlivoApiError) {
        throw new HttpError(502, {
          error: 'plivo_error',
          code: err.code,
          message: err.message,
          plivo_status: err.status,
        });
      }
      throw err;
    }
    await store.update(id, (r) => (r.endReason ? r : { ...r, endReason: 'hangup-api' }));
    reply.json(200, { call_id: id, status: record.status, hangup_requested: true });
  }

  async function campaignView(id: string, reply: Reply): Promise<void> {
    const records = await store.listByCampaign(id);
    const progress = deps.dialer ? await deps.dialer.progress(id) : undefined;
    if (records.length === 0 && !progress) throw notFound('campaign');
    const byStatus: Record<string, number> = {};
    const byOutcome: Record<string, number> = {};
    for (const r of records) {
      byStatus[r.status] = (byStatus[r.status] ?? 0) + 1;
      if (r.outcome) byOutcome[r.outcome] = (byOutcome[r.outcome] ?? 0) + 1;
    }
    const body: Record<string, unknown> = {
      campaign_id: id,
      counts: { total: records.length, by_status: byStatus, by_outcome: byOutcome },
      calls: records.map(summary),
    };
    if (progress && deps.dialer) {
      const contacts = await deps.dialer.contacts(id);
      body.dialer = {
        state: progress.state,
        contacts_total: progress.contacts,
        remaining: progress.remaining,
        by_status: progress.byStatus,
        attempts: progress.attempts,
        active_calls: progress.activeSlots,
        max_concurrent: progress.maxConcurrent,
        calls_per_second: progress.callsPerSecond,
        contacts: contacts.map((c) => ({
          contact_id: c.id,
          phone_number: c.phoneNumber,
          status: c.status,
          attempts: c.attempts,
          call_ids: c.callId ? [...c.callIds, c.callId] : c.callIds,
          last_status: c.lastStatus,
          next_at: c.nextAt === undefined ? undefined : new Date(c.nextAt).toISOString(),
        })),
      };
    }
    reply.json(200, body);
  }

  async function startCampaign(params: Record<string, unknown>, reply: Reply): Promise<void> {
    const dialer = deps.dialer;
    if (!dialer)
      throw new HttpError(503, { error: 'dialer_unavailable', message: 'The campaign dialer is not running' });
    const req = validate(schemas.campaign, params);
    const screened = screenContacts(req.contacts, config.outbound.blockedPrefixes);
    const refused = screened.refused.map((r) => ({
      index: r.index,
      phone_number: r.phoneNumber,
      reason: r.reason,
      message: r.message,
    }));
    if (screened.accepted.length === 0) {
      throw new HttpError(400, {
        error: 'no_dialable_contacts',
        message: 'Every contact was refused',
        refused,
        fields: screened.refused.map((r) => ({ field: `contacts.${r.index}.phone_number`, message: r.message })),
      });
    }
    const def = await dialer.startCampaign({
      campaignId: req.campaign_id,
      contacts: screened.accepted.map((c) => ({
        phoneNumber: c.phone_number,
        variables: c.variables,
        timezone: c.timezone,
      })),
      openingReason: req.opening_reason,
      objective: req.objective,
      maxConcurrent: req.max_concurrent,
      callsPerSecond: req.calls_per_second,
      retry: req.retry
        ? { maxAttempts: req.retry.max_attempts, retryOn: req.retry.retry_on, backoffS: req.retry.backoff_s }
        : undefined,
      window: req.window,
      timezone: req.timezone,
      machineDetection: req.machine_detection as MachineDetection | undefined,
    });
    reply.json(201, {
      campaign_id: def.id,
      state: 'running',
      contacts: screened.accepted.length,
      duplicates: screened.duplicates,
      refused,
      max_concurrent: def.maxConcurrent,
      calls_per_second: def.callsPerSecond,
    });
  }

  async function control(id: string, action: 'pause' | 'resume' | 'cancel', reply: Reply): Promise<void> {
    const dialer = deps.dialer;
    if (!dialer)
      throw new HttpError(503, { error: 'dialer_unavailable', message: 'The campaign dialer is not running' });
    const state = await dialer[action](id);
    reply.json(200, { campaign_id: id, state });
  }

  async function dispatch(info: RequestInfo, body: Buffer, reply: Reply): Promise<void> {
    const parts = info.path.split('/').filter((p) => p !== '');
    // parts[0] === 'outbound'
    const [, a, b, c] = parts;
    const m = info.method;
    const allow = (method: string) => {
      if (m !== method) throw new HttpError(405, { error: 'method_not_allowed', message: `use ${method}` });
    };
    if (a === 'call' && parts.length === 2) {
      allow('POST');
      return createCall(paramsOf(info, body), reply);
    }
    if (a === 'status' && parts.length === 3) {
      allow('GET');
      const record = await store.get(pathId(b));
      if (record?.direction !== 'outbound') throw notFound('call');
      return reply.json(200, recordJson(record));
    }
    if (a === 'hangup' && parts.length === 3) {
      allow('POST');
      return hangup(pathId(b), reply);
    }
    if (a === 'campaign' && parts.length === 2) {
      allow('POST');
      return startCampaign(paramsOf(info, body), reply);
    }
    if (a === 'campaign' && parts.length === 3) {
      allow('GET');
      return campaignView(pathId(b), reply);
    }
    if (a === 'campaign' && parts.length === 4 && (c === 'pause' || c === 'resume' || c === 'cancel')) {
      allow('POST');
      const id = pathId(b);
      if (!ID_PATTERN.test(id)) throw notFound('campaign');
      return control(id, c, reply);
    }
    throw notFound('route');
  }

  return (app, gatewayDeps) => {
    const gw = gatewayDeps as { publicUrl?: () => string } | undefined;
    if (!deps.publicUrl && typeof gw?.publicUrl === 'function') {
      const fromGateway = gw.publicUrl;
      publicUrl = () => fromGateway() || config.server.publicUrl;
    }
    const handler = (res: HttpResponse, req: HttpRequest) => {
      const reply = new Reply(res);
      const info = requestInfo(req);
      if (!authorized(reply, config.outbound.apiKey, info.headers.authorization)) return;
      const body = info.method === 'POST' ? readBody(reply, MAX_BODY) : Promise.resolve(Buffer.alloc(0));
      body
        .then((buf) => dispatch(info, buf, reply))
        .catch((err: unknown) => {
          if (reply.aborted) return;
          if (err instanceof HttpError) return reply.json(err.status, err.body, err.headers);
          if (err instanceof SyntaxError) {
            return reply.json(400, { error: 'malformed_json', message: `Malformed JSON body: ${err.message}` });
          }
          if (err instanceof BodyTooLargeError)
            return reply.json(413, { error: 'body_too_large', message: err.message });
          if (err instanceof GatewayError) {
            const status =
              err.code === 'GW_ERR_NOT_FOUND'
                ? 404
                : err.code === 'GW_ERR_INVALID_STATE'
                  ? 409
                  : err.code === 'GW_ERR_STORE'
                    ? 503
                    : 500;
            if (status >= 500) log.error({ err }, 'outbound request failed');
            return reply.json(status, { error: err.code.toLowerCase(), message: err.message });
          }
          log.error({ err: errorMessage(err) }, 'outbound request failed');
          reply.json(500, { error: 'internal_error', message: 'Internal error' });
        });
    };
    app.any('/outbound', handler);
    app.any('/outbound/*', handler);
  };
}

function summary(r: CallRecord): Record<string, unknown> {
  const j = recordJson(r);
  // The campaign view lists calls without their transcripts and tool calls (use /outbound/status for those).
  delete j.transcript;
  delete j.tool_calls;
  return j;
}

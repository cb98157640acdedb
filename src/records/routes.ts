// GET /calls/{id}, GET /calls?from&to&direction&campaign&outcome&status&cursor&limit, GET /calls/{id}/recording,
// and the post-call webhook's dead letters: GET /webhooks/post-call, POST /webhooks/post-call/dead-letters/{id}/retry.
// Authenticated like the outbound API (the same OUTBOUND_API_KEY bearer token).
import type { HttpRequest, HttpResponse, TemplatedApp } from 'uWebSockets.js';
import { errorMessage } from '../errors.ts';
import { childLogger } from '../log.ts';
import { authorized } from '../outbound/auth.ts';
import { Reply, type RequestInfo, requestInfo } from '../server/http.ts';
import type { CallStore } from '../store/types.ts';
import type { Outbox } from '../webhooks-out/outbox.ts';
import type { IndexEntry, ListIndex } from './list-index.ts';
import { callView, type OperatorRecord } from './view.ts';

export interface RecordsRouteDeps {
  apiKey: string | undefined;
  store: CallStore;
  index: ListIndex;
  outbox: Outbox | undefined;
  /** A call's recording (WAV bytes), from the local directory or object storage. */
  recording(id: string): Promise<Buffer | undefined>;
}

const log = childLogger({ component: 'records-api' });
const MAX_LIMIT = 200;
/** Index entries examined per list request at most: a narrow filter returns a short page and a cursor. */
const SCAN_BUDGET = 5000;
const ID = /^[A-Za-z0-9_.-]{1,128}$/;

class HttpError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

function parseTime(name: string, v: string | null, def: number): number {
  if (v === null || v === '') return def;
  const n = /^\d+$/.test(v) ? Number(v) : Date.parse(v);
  if (!Number.isFinite(n)) throw new HttpError(400, `${name}: must be an ISO 8601 time or epoch milliseconds`);
  return n;
}

export function encodeCursor(e: IndexEntry): string {
  return Buffer.from(JSON.stringify([e.at, e.id])).toString('base64url');
}

export function decodeCursor(c: string): IndexEntry {
  try {
    const v = JSON.parse(Buffer.from(c, 'base64url').toString('utf8')) as unknown;
    if (Array.isArray(v) && typeof v[0] === 'number' && typeof v[1] === 'string') return { at: v[0], id: v[1] };
  } catch {
    // reported below
  }
  throw new HttpError(400, 'cursor: not a cursor this API returned');
}

export function recordsRoutes(deps: RecordsRouteDeps): (app: TemplatedApp) => void {
  const { store, index } = deps;

  async function list(query: string, reply: Reply): Promise<void> {
    const q = new URLSearchParams(query);
    const from = parseTime('from', q.get('from'), 0);
    const to = parseTime('to', q.get('to'), Number.MAX_SAFE_INTEGER);
    const direction = q.get('direction');
    if (direction !== null && direction !== 'inbound' && direction !== 'outbound' && direction !== 'playground') {
      throw new HttpError(400, 'direction: must be inbound, outbound or playground');
    }
    const limitRaw = q.get('limit');
    const limit = limitRaw === null ? 50 : Number(limitRaw);
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) {
      throw new HttpError(400, `limit: must be an integer from 1 to ${MAX_LIMIT}`);
    }
    const campaign = q.get('campaign');
    const outcome = q.get('outcome');
    const status = q.get('status');
    const cursor = q.get('cursor');
    let after = cursor ? decodeCursor(cursor) : undefined;
    const calls: Record<string, unknown>[] = [];
    let scanned = 0;
    let exhausted = false;
    while (calls.length < limit && scanned < SCAN_BUDGET) {
      const batch = await index.page({ from, to, after, limit: Math.min(100, SCAN_BUDGET - scanned) });
      if (batch.length === 0) {
        exhausted = true;
        break;
      }
      const records = await Promise.all(batch.map((e) => store.get(e.id)));
      for (let i = 0; i < batch.length; i++) {
        scanned++;
        after = batch[i];
        const r = records[i] as OperatorRecord | undefined;
        if (!r) continue;
        if (direction !== null && r.direction !== direction) continue;
        if (campaign !== null && r.campaignId !== campaign) continue;
        if (outcome !== null && r.outcome !== outcome) continue;
        if (status !== null && r.status !== status) continue;
        calls.push(summaryView(r));
        if (calls.length === limit) break;
      }
    }
    reply.json(200, { calls, next_cursor: !exhausted && after ? encodeCursor(after) : null });
  }

  async function one(id: string, reply: Reply): Promise<void> {
    const r = (await store.get(id)) ?? (await store.getByPlivoUuid(id));
    if (!r) throw new HttpError(404, 'call not found');
    reply.json(200, callView(r as OperatorRecord));
  }

  async function recording(id: string, reply: Reply): Promise<void> {
    const wav = await deps.recording(id);
    if (!wav) throw new HttpError(404, 'recording not found');
    reply.send(200, wav, 'audio/wav');
  }

  async function dispatch(info: RequestInfo, reply: Reply): Promise<void> {
    const parts = info.path.split('/').filter((p) => p !== '');
    const m = info.method;
    if (parts[0] === 'calls') {
      if (m !== 'GET') throw new HttpError(405, 'use GET');
      if (parts.length === 1) return list(info.query, reply);
      const id = decodeId(parts[1]);
      if (parts.length === 2) return one(id, reply);
      if (parts.length === 3 && parts[2] === 'recording') return recording(id, reply);
      throw new HttpError(404, 'route not found');
    }
    // /webhooks/post-call…
    const outbox = deps.outbox;
    if (!outbox) throw new HttpError(404, 'no post-call webhook configured (POST_CALL_WEBHOOK_URL)');
    if (parts.length === 2 && m === 'GET') {
      const [pending, dead] = await Promise.all([outbox.pending(), outbox.deadLetters(MAX_LIMIT)]);
      return reply.json(200, {
        pending,
        dead_letters: dead.map((j) => ({
          id: j.id,
          event: j.event,
          attempts: j.attempts,
          created_at: j.createdAt,
          last_attempt_at: j.lastAttemptAt,
          last_error: j.lastError,
          dead_at: j.deadAt,
        })),
      });
    }
    if (parts.length === 5 && parts[2] === 'dead-letters' && parts[4] === 'retry' && m === 'POST') {
      const id = decodeURIComponent(parts[3]!);
      if (!(await outbox.retryDead(id, Date.now()))) throw new HttpError(404, 'dead letter not found');
      return reply.json(200, { id, requeued: true });
    }
    throw new HttpError(404, 'route not found');
  }

  return (app) => {
    const handler = (res: HttpResponse, req: HttpRequest) => {
      const reply = new Reply(res);
      const info = requestInfo(req);
      if (!authorized(reply, deps.apiKey, info.headers.authorization)) return;
      dispatch(info, reply).catch((err: unknown) => {
        if (reply.aborted) return;
        if (err instanceof HttpError) {
          return reply.json(err.status, {
            error: err.status === 404 ? 'not_found' : 'invalid_request',
            message: err.message,
          });
        }
        log.error({ err: errorMessage(err) }, 'records request failed');
        reply.json(503, { error: 'unavailable', message: 'records store unavailable' });
      });
    };
    app.any('/calls', handler);
    app.any('/calls/*', handler);
    app.any('/webhooks/post-call', handler);
    app.any('/webhooks/post-call/*', handler);
  };
}

function decodeId(raw: string | undefined): string {
  let id = '';
  try {
    id = decodeURIComponent(raw ?? '');
  } catch {
    throw new HttpError(404, 'call not found');
  }
  if (!ID.test(id)) throw new HttpError(404, 'call not found');
  return id;
}

/** A list row: the record without its transcript (fetch the call for that). */
function summaryView(r: OperatorRecord): Record<string, unknown> {
  const v = callView(r);
  delete v.transcript;
  delete v.tool_calls;
  v.turns = r.transcript.length;
  v.tool_call_count = r.toolCalls.length;
  return v;
}

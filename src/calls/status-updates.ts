// Plivo's callbacks for calls we placed (ring, answer, machine detection, hangup) applied to their records. The
// gateway (or CallManager) calls these from its webhook handlers; they are idempotent and tolerate any order, since
// Plivo may retry a callback and replicas may receive them out of order.
import type { AnswerInfo, HangupInfo } from '../contract/call.ts';
import type { CallRecord, CallStatus, CallStore } from '../store/types.ts';

export const TERMINAL_STATUSES: ReadonlySet<CallStatus> = new Set([
  'completed',
  'busy',
  'no-answer',
  'failed',
  'canceled',
]);

export function isTerminal(status: CallStatus): boolean {
  return TERMINAL_STATUSES.has(status);
}

export function withStatus(r: CallRecord, status: CallStatus, nowMs: number): CallRecord {
  if (r.status === status || isTerminal(r.status)) return r;
  const order: Record<CallStatus, number> = {
    queued: 0,
    ringing: 1,
    'in-progress': 2,
    completed: 3,
    busy: 3,
    'no-answer': 3,
    failed: 3,
    canceled: 3,
  };
  if (order[status] < order[r.status]) return r;
  return { ...r, status, timeline: [...r.timeline, { status, at: new Date(nowMs).toISOString() }] };
}

export interface ApplyOptions {
  now?: () => number;
  /**
   * A callback can overtake the make-call response that tells us the request_uuid (a busy number fails fast), so
   * for outbound calls an unknown uuid is looked up again for up to this long before giving up.
   */
  linkWaitMs?: number;
}

const BUSY_CAUSES = /busy/i;
const NO_ANSWER_CAUSES = /no[ _-]?answer|timeout|no[ _-]?user[ _-]?response|ring timeout/i;
const CANCEL_CAUSES = /cancel/i;

/** Our final status for a call from Plivo's hangup CallStatus and HangupCause. */
export function hangupStatus(plivoStatus: string, cause: string | undefined, answered: boolean): CallStatus {
  if (answered) return 'completed';
  const s = plivoStatus.toLowerCase();
  if (s === 'busy') return 'busy';
  if (s === 'no-answer' || s === 'timeout') return 'no-answer';
  if (s === 'cancel' || s === 'canceled' || s === 'cancelled') return 'canceled';
  if (s === 'failed') return 'failed';
  const c = cause ?? '';
  if (BUSY_CAUSES.test(c)) return 'busy';
  if (NO_ANSWER_CAUSES.test(c)) return 'no-answer';
  if (CANCEL_CAUSES.test(c)) return 'canceled';
  // 'completed' without an answer we saw: trust Plivo when it reports talk time.
  return s === 'completed' ? 'completed' : 'failed';
}

async function findRecord(
  store: CallStore,
  ids: Array<string | undefined>,
  outbound: boolean,
  opts: ApplyOptions,
): Promise<CallRecord | undefined> {
  const keys = [...new Set(ids.filter((x): x is string => typeof x === 'string' && x !== ''))];
  if (keys.length === 0) return undefined;
  const waitMs = outbound ? (opts.linkWaitMs ?? 2000) : 0;
  const deadline = Date.now() + waitMs;
  for (;;) {
    for (const key of keys) {
      const r = (await store.getByPlivoUuid(key)) ?? (await store.get(key));
      if (r) return r;
    }
    if (Date.now() >= deadline) return undefined;
    await new Promise((res) => setTimeout(res, 50));
  }
}

const isOutbound = (raw: Record<string, string>) => (raw.Direction ?? 'outbound').toLowerCase() !== 'inbound';

export async function applyRing(
  store: CallStore,
  params: Record<string, string>,
  opts: ApplyOptions = {},
): Promise<CallRecord | undefined> {
  const now = opts.now ?? Date.now;
  // Taken before the lookup: the ring may be applied after the answer when it overtook the make-call response.
  const receivedAt = now();
  const r = await findRecord(store, [params.RequestUUID, params.CallUUID], true, opts);
  if (!r) return undefined;
  return store.update(r.id, (rec) => {
    if (rec.status === 'queued') return withStatus(rec, 'ringing', receivedAt);
    // It did ring before whatever came next: keep the history complete even when the ring is applied late.
    return withHistory(rec, 'ringing', receivedAt);
  });
}

const RANK: Record<string, number> = { queued: 0, ringing: 1, 'in-progress': 2 };

/** Adds a step the call went through but that was applied after a later one, in its place in the timeline. */
function withHistory(rec: CallRecord, status: 'ringing' | 'in-progress', atMs: number): CallRecord {
  if (rec.timeline.some((t) => t.status === status)) return rec;
  const timeline = [...rec.timeline, { status, at: new Date(atMs).toISOString() }].sort(
    (x, y) => (RANK[x.status] ?? 3) - (RANK[y.status] ?? 3) || x.at.localeCompare(y.at),
  );
  return { ...rec, timeline };
}

export async function applyAnswer(
  store: CallStore,
  info: AnswerInfo,
  opts: ApplyOptions = {},
): Promise<CallRecord | undefined> {
  const now = opts.now ?? Date.now;
  const receivedAt = now();
  const r = await findRecord(
    store,
    [info.callId, info.raw.RequestUUID, info.raw.ALegRequestUUID],
    info.direction === 'outbound',
    opts,
  );
  if (!r) return undefined;
  if (r.plivoCallUuid !== info.callId && info.callId) await store.linkPlivoUuid(r.id, info.callId);
  return store.update(r.id, (rec) => {
    let next: CallRecord;
    if (!isTerminal(rec.status)) next = withStatus(rec, 'in-progress', receivedAt);
    else if (rec.status === 'completed')
      next = withHistory(rec, 'in-progress', receivedAt); // hangup came first
    else return rec;
    next = { ...next, answeredAt: next.answeredAt ?? new Date(receivedAt).toISOString() };
    if (info.machine !== undefined) next = withMachine(next, info.machine);
    return next;
  });
}

function withMachine(r: CallRecord, machine: boolean): CallRecord {
  // A human answer never overrides an outcome the agent already recorded.
  if (machine) return { ...r, machine: true, outcome: r.outcome ?? 'machine' };
  return { ...r, machine: false };
}

export async function applyMachine(
  store: CallStore,
  params: Record<string, string>,
  opts: ApplyOptions = {},
): Promise<CallRecord | undefined> {
  const r = await findRecord(
    store,
    [params.CallUUID, params.RequestUUID, params.ALegRequestUUID, params.ALegUUID],
    true,
    opts,
  );
  if (!r) return undefined;
  const machine = (params.Machine ?? '').toLowerCase() === 'true';
  return store.update(r.id, (rec) => withMachine(rec, machine));
}

export async function applyHangup(
  store: CallStore,
  info: HangupInfo,
  opts: ApplyOptions = {},
): Promise<CallRecord | undefined> {
  const now = opts.now ?? Date.now;
  const r = await findRecord(
    store,
    [info.callId, info.raw.RequestUUID, info.raw.ALegRequestUUID],
    isOutbound(info.raw),
    opts,
  );
  if (!r) return undefined;
  return store.update(r.id, (rec) => {
    const answered = rec.answeredAt !== undefined || rec.status === 'in-progress' || !!info.answerTime?.trim();
    let next = rec;
    if (!isTerminal(rec.status)) {
      next = withStatus(rec, hangupStatus(info.status, info.hangupCause, answered), now());
    }
    next = {
      ...next,
      endedAt: next.endedAt ?? new Date(now()).toISOString(),
      durationS: next.durationS ?? info.durationS,
      hangupCause: next.hangupCause ?? info.hangupCause,
    };
    if (info.machine !== undefined && next.machine === undefined) next = withMachine(next, info.machine);
    return next;
  });
}

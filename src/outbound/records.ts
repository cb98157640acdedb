// Call records of outbound calls: creation, status transitions, and the snake_case JSON the API returns.
import type { CallRecord } from '../store/types.ts';

export interface NewOutboundRecord {
  id: string;
  from: string;
  to: string;
  campaignId?: string | undefined;
  contactId?: string | undefined;
  openingReason?: string | undefined;
  objective?: string | undefined;
  context?: string | undefined;
  variables?: Record<string, string> | undefined;
  attempt?: number | undefined;
  callbackOf?: string | undefined;
  nowMs: number;
}

export function newOutboundRecord(n: NewOutboundRecord): CallRecord {
  const at = new Date(n.nowMs).toISOString();
  return {
    id: n.id,
    direction: 'outbound',
    from: n.from,
    to: n.to,
    campaignId: n.campaignId,
    contactId: n.contactId,
    openingReason: n.openingReason,
    objective: n.objective,
    context: n.context,
    variables: n.variables,
    attempt: n.attempt,
    callbackOf: n.callbackOf,
    status: 'queued',
    timeline: [{ status: 'queued', at }],
    createdAt: at,
    transcript: [],
    toolCalls: [],
    callbacks: [],
    reconnects: 0,
  };
}

/**
 * Moves a record to `status` unless that would go backwards (a late ring after the answer, anything after the end):
 * Plivo's callbacks can arrive out of order and more than once.
 */

const clean = (o: Record<string, unknown>): Record<string, unknown> => {
  for (const k of Object.keys(o)) if (o[k] === undefined) delete o[k];
  return o;
};

/** The API view of a record (snake_case; absent fields omitted). */
export function recordJson(r: CallRecord): Record<string, unknown> {
  return clean({
    call_id: r.id,
    status: r.status,
    direction: r.direction,
    from: r.from,
    to: r.to,
    campaign_id: r.campaignId,
    contact_id: r.contactId,
    attempt: r.attempt,
    callback_of: r.callbackOf,
    opening_reason: r.openingReason,
    objective: r.objective,
    context: r.context,
    variables: r.variables,
    plivo_call_uuid: r.plivoCallUuid,
    timeline: r.timeline.map((t) => ({ status: t.status, at: t.at })),
    created_at: r.createdAt,
    answered_at: r.answeredAt,
    ended_at: r.endedAt,
    duration_s: r.durationS,
    hangup_cause: r.hangupCause,
    machine: r.machine,
    outcome: r.outcome,
    end_reason: r.endReason,
    transcript: r.transcript.map((t) =>
      clean({
        role: t.role,
        text: t.text,
        started_at: t.startedAt,
        ended_at: t.endedAt,
        interrupted: t.interrupted,
        heard_ms: t.heardMs,
      }),
    ),
    tool_calls: r.toolCalls.map((t) =>
      clean({
        id: t.id,
        name: t.name,
        args: t.args,
        started_at: t.startedAt,
        ended_at: t.endedAt,
        outcome: t.outcome,
        result: t.result,
        error: t.error,
      }),
    ),
    callbacks: r.callbacks.map((c) => ({
      at: c.at,
      phone_number: c.phoneNumber,
      reason: c.reason,
      requested_at: c.requestedAt,
    })),
    reconnects: r.reconnects,
    usage: r.usage,
  });
}

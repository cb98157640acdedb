// Call records and the store they live in. In memory for one process; Redis (STATE_STORE=redis) so that a status
// request, a Plivo callback and a call's stream can each land on a different replica.
import type { CallContext } from '../contract/call.ts';

export type CallStatus =
  | 'queued'
  | 'ringing'
  | 'in-progress'
  | 'completed'
  | 'busy'
  | 'no-answer'
  | 'failed'
  | 'canceled';

export interface TranscriptTurn {
  role: 'caller' | 'agent';
  text: string;
  /** ISO 8601 */
  startedAt: string;
  endedAt?: string | undefined;
  /** Agent turns cut off by the caller: what was heard ends about here. */
  interrupted?: boolean | undefined;
  /** For interrupted agent turns: milliseconds of the turn's audio the caller actually heard. */
  heardMs?: number | undefined;
}

export interface ToolCallRecord {
  id: string;
  name: string;
  args: Record<string, unknown>;
  startedAt: string;
  endedAt?: string | undefined;
  outcome: 'ok' | 'error' | 'timeout' | 'cancelled' | 'pending';
  result?: Record<string, unknown> | undefined;
  error?: string | undefined;
}

export interface CallbackRequest {
  /** When to call back, ISO 8601. */
  at: string;
  phoneNumber: string;
  reason: string;
  requestedAt: string;
}

export interface CallRecord {
  /** Our id: the outbound call id for calls we placed, else Plivo's CallUUID. */
  id: string;
  /** Plivo CallUUID (request_uuid for outbound calls until answered). */
  plivoCallUuid?: string | undefined;
  direction: CallContext['direction'];
  from: string;
  to: string;
  campaignId?: string | undefined;
  contactId?: string | undefined;
  /** Dialer campaigns: which attempt at this contact the call is (1-based). */
  attempt?: number | undefined;
  /** Calls placed because a customer asked to be called back: the id of the call where they asked. */
  callbackOf?: string | undefined;
  openingReason?: string | undefined;
  objective?: string | undefined;
  /** Free text about this call from the outbound API's `context`. */
  context?: string | undefined;
  variables?: Record<string, string> | undefined;
  status: CallStatus;
  timeline: Array<{ status: CallStatus; at: string }>;
  createdAt: string;
  answeredAt?: string | undefined;
  endedAt?: string | undefined;
  durationS?: number | undefined;
  hangupCause?: string | undefined;
  /** Answering-machine detection result. */
  machine?: boolean | undefined;
  transcript: TranscriptTurn[];
  toolCalls: ToolCallRecord[];
  callbacks: CallbackRequest[];
  reconnects: number;
  usage?: Record<string, unknown> | undefined;
  endReason?: string | undefined;
  /** Free-form outcome (e.g. 'interested', 'machine', 'transferred', 'callback-scheduled'). */
  outcome?: string | undefined;
}

export interface CallStore {
  create(record: CallRecord): Promise<void>;
  get(id: string): Promise<CallRecord | undefined>;
  /** Find a record by Plivo's CallUUID or request_uuid. */
  getByPlivoUuid(uuid: string): Promise<CallRecord | undefined>;
  /** Read-modify-write, atomic per record (Redis: WATCH/MULTI or a Lua script). Returns the new record. */
  update(id: string, change: (r: CallRecord) => CallRecord): Promise<CallRecord | undefined>;
  linkPlivoUuid(id: string, uuid: string): Promise<void>;
  listByCampaign(campaignId: string): Promise<CallRecord[]>;
  close(): Promise<void>;
}

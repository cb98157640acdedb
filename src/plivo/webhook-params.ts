// Plivo webhook parameters (answer, hangup) → our typed records. Plivo sends form fields named CallUUID, From,
// To, Direction, CallStatus, HangupCause, Duration… (https://www.plivo.com/docs/voice/xml/request).
import type { AnswerInfo, CallContext, HangupInfo } from '../contract/call.ts';
import { GatewayError } from '../errors.ts';

export class WebhookParamsError extends GatewayError {
  constructor(field: string, callId?: string) {
    super('GW_ERR_INVALID_ARGUMENT', `webhook parameter ${field} is missing or invalid`, {
      callId,
      detail: { field },
    });
    this.name = 'WebhookParamsError';
  }
}

const CALL_ID = /^[A-Za-z0-9-]{1,64}$/;

/** Plivo often sends numbers without the leading '+'; SIP URIs and anonymous callers are kept as they are. */
export function normalizeNumber(raw: string | undefined): string {
  const v = (raw ?? '').trim();
  if (/^\d{7,15}$/.test(v)) return `+${v}`;
  return v.slice(0, 256);
}

function optNumber(v: string | undefined): number | undefined {
  if (v === undefined || v.trim() === '') return undefined;
  const n = Number(v);
  return Number.isFinite(n) ? n : undefined;
}

function optBool(v: string | undefined): boolean | undefined {
  if (v === undefined) return undefined;
  const s = v.trim().toLowerCase();
  if (s === 'true') return true;
  if (s === 'false') return false;
  return undefined;
}

function callIdOf(p: Record<string, string>): string {
  const id = p.CallUUID ?? '';
  if (!CALL_ID.test(id)) throw new WebhookParamsError('CallUUID');
  return id;
}

export function parseAnswer(p: Record<string, string>): AnswerInfo {
  const callId = callIdOf(p);
  const dir = (p.Direction ?? 'inbound').toLowerCase();
  if (dir !== 'inbound' && dir !== 'outbound') throw new WebhookParamsError('Direction', callId);
  return {
    callId,
    direction: dir,
    from: normalizeNumber(p.From),
    to: normalizeNumber(p.To),
    callStatus: p.CallStatus,
    machine: optBool(p.Machine),
    raw: p,
  };
}

export function baseContext(info: AnswerInfo): CallContext {
  return { callId: info.callId, direction: info.direction, from: info.from, to: info.to };
}

export function parseHangup(p: Record<string, string>): HangupInfo {
  return {
    callId: callIdOf(p),
    status: p.CallStatus ?? 'completed',
    hangupCause: p.HangupCauseName ?? p.HangupCause,
    hangupSource: p.HangupSource,
    durationS: optNumber(p.Duration),
    billDurationS: optNumber(p.BillDuration),
    answerTime: p.AnswerTime,
    endTime: p.EndTime,
    machine: optBool(p.Machine),
    raw: p,
  };
}

// Placing one outbound call through Plivo for a record we created: shared by the single-call API and the dialer,
// so both ask Plivo for the same callbacks.
import { GatewayError } from '../errors.ts';
import type { MakeCallParams, MakeCallResult, PlivoApi } from '../plivo/api-types.ts';
import type { CallRecord, CallStore } from '../store/types.ts';
import type { MachineDetection } from './dialer-types.ts';

export function makeCallParams(
  publicUrl: string,
  record: CallRecord,
  machineDetection: MachineDetection,
): MakeCallParams {
  const base = publicUrl.replace(/\/+$/, '');
  const params: MakeCallParams = {
    from: record.from,
    to: record.to,
    answerUrl: `${base}/answer`,
    answerMethod: 'POST',
    hangupUrl: `${base}/hangup`,
    ringUrl: `${base}/callbacks/ring`,
  };
  if (machineDetection !== 'false') {
    params.machineDetection = machineDetection;
    params.machineDetectionUrl = `${base}/callbacks/machine`;
  }
  return params;
}

/** Plivo placed the call, but its uuid could not be written to the record (the store stayed down). */
export class CallPlacedError extends GatewayError {
  readonly requestUuid: string;
  constructor(callId: string, requestUuid: string, cause: unknown) {
    super('GW_ERR_STORE', 'call placed but its Plivo uuid could not be stored', { callId, cause, retryable: false });
    this.name = 'CallPlacedError';
    this.requestUuid = requestUuid;
  }

  // GatewayError's brand check would make every GatewayError an instance of this class too.
  static override [Symbol.hasInstance](value: unknown): boolean {
    return GatewayError[Symbol.hasInstance](value) && (value as Error).name === 'CallPlacedError';
  }
}

/**
 * Asks Plivo to place the call and links its request_uuid to the record. Throws PlivoApiError when Plivo refused,
 * CallPlacedError when the call was placed but could not be linked within `linkRetryMs` (the store was down): a
 * placed call must never be mistaken for one that failed, or its contact would be dialled twice.
 */
export async function placeCall(
  deps: { publicUrl: () => string; store: CallStore; plivo: PlivoApi },
  record: CallRecord,
  machineDetection: MachineDetection,
  link: { linkRetryMs?: number; isClosed?: () => boolean } = {},
): Promise<MakeCallResult> {
  const result = await deps.plivo.makeCall(makeCallParams(deps.publicUrl(), record, machineDetection));
  const deadline = Date.now() + (link.linkRetryMs ?? 0);
  for (let attempt = 0; ; attempt++) {
    try {
      await deps.store.linkPlivoUuid(record.id, result.requestUuid);
      return result;
    } catch (err) {
      if (Date.now() >= deadline || link.isClosed?.()) throw new CallPlacedError(record.id, result.requestUuid, err);
      await new Promise((r) => setTimeout(r, Math.min(2000, 100 * 2 ** Math.min(attempt, 5))));
    }
  }
}

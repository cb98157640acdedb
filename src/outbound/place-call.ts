// Placing one outbound call through Plivo for a record we created: shared by the single-call API and the dialer,
// so both ask Plivo for the same callbacks.
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

/** Asks Plivo to place the call and links its request_uuid to the record. Throws PlivoApiError. */
export async function placeCall(
  deps: { publicUrl: () => string; store: CallStore; plivo: PlivoApi },
  record: CallRecord,
  machineDetection: MachineDetection,
): Promise<MakeCallResult> {
  const result = await deps.plivo.makeCall(makeCallParams(deps.publicUrl(), record, machineDetection));
  await deps.store.linkPlivoUuid(record.id, result.requestUuid);
  return result;
}

// What the records API and the post-call webhook show of a call: the outbound API's record view plus the fields
// this module adds (latency summary, usage by modality, cost, recording).
import type { LatencySummary } from '../observability/latency.ts';
import { recordJson } from '../outbound/records.ts';
import type { CallRecord } from '../store/types.ts';
import type { CostEstimate, ModalityUsage } from './cost.ts';
import { redactDeep } from './redact.ts';

export interface RecordingInfo {
  /** The gateway's GET /calls/{id}/recording (bearer token), whatever the storage. */
  url: string;
  storage: 'local' | 's3';
  /** File path or object URL. */
  location: string;
  durationS: number;
  sampleRate: number;
  /** Left = caller, right = agent (what was played). */
  channels: 2;
  /** Barge-in cuts visible in the agent channel. */
  cuts: number;
}

/** Fields this module adds to a stored call record (records are JSON: extra fields ride along). */
export interface OperatorFields {
  latency?: LatencySummary | undefined;
  usageByModality?: ModalityUsage | undefined;
  cost?: CostEstimate | undefined;
  recording?: RecordingInfo | undefined;
}

export type OperatorRecord = CallRecord & OperatorFields;

export function callView(r: OperatorRecord, o: { redact?: boolean } = {}): Record<string, unknown> {
  const base = recordJson(r);
  const out: Record<string, unknown> = { ...base };
  if (r.latency) out.latency = r.latency;
  if (r.usageByModality) out.usage_by_modality = r.usageByModality;
  if (r.cost) out.cost = r.cost;
  if (r.recording) {
    out.recording_url = r.recording.url;
    out.recording = {
      url: r.recording.url,
      storage: r.recording.storage,
      location: r.recording.location,
      duration_s: r.recording.durationS,
      sample_rate: r.recording.sampleRate,
      channels: { left: 'caller', right: 'agent' },
      barge_in_cuts: r.recording.cuts,
    };
  }
  if (o.redact) {
    out.transcript = redactDeep(out.transcript);
    out.tool_calls = redactDeep(out.tool_calls);
  }
  return out;
}

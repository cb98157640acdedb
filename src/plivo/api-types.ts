// The Plivo REST operations the gateway uses, as an interface so that tools and the dialer depend on this and not
// on the HTTP client. Implemented by src/plivo/rest-client.ts (typed client over fetch, base PLIVO_API_BASE_URL).
// Every method throws PlivoApiError (src/errors.ts) on failure, after the client's own retries on 429/5xx.

export interface MakeCallParams {
  from: string;
  to: string;
  answerUrl: string;
  answerMethod?: 'GET' | 'POST';
  hangupUrl?: string;
  ringUrl?: string;
  /** Plivo `machine_detection`: 'true' reports, 'hangup' hangs up on machines. */
  machineDetection?: 'true' | 'hangup';
  machineDetectionUrl?: string;
  machineDetectionTimeMs?: number;
  ringTimeoutS?: number;
  timeLimitS?: number;
}

export interface MakeCallResult {
  apiId: string;
  /** Plivo's request_uuid; the CallUUID of the call once answered is the same value for a single `to`. */
  requestUuid: string;
}

export interface SendSmsParams {
  src: string;
  dst: string;
  text: string;
}

/** A call's details (Plivo `GET Call/{call_uuid}/`), as far as a lease reconciliation needs them. */
export interface PlivoCallDetails {
  callUuid: string;
  /** Plivo's call_status when it reports one (live calls; the emulator always). */
  callStatus: string | undefined;
  /** Set once the call has ended (the CDR's end_time). */
  endTime: string | undefined;
  answerTime: string | undefined;
  hangupCause: string | undefined;
  durationS: number | undefined;
}

export interface PlivoApi {
  makeCall(params: MakeCallParams, signal?: AbortSignal): Promise<MakeCallResult>;
  hangupCall(callUuid: string, signal?: AbortSignal): Promise<void>;
  /** Transfer the live call's A leg to the XML at `alegUrl` (which `<Dial>`s the target). */
  transferCall(callUuid: string, alegUrl: string, signal?: AbortSignal): Promise<void>;
  /** Read-only: the call's details, or undefined when Plivo has no such call (404). Optional for stand-ins. */
  getCall?(callUuid: string, signal?: AbortSignal): Promise<PlivoCallDetails | undefined>;
  sendSms(params: SendSmsParams, signal?: AbortSignal): Promise<{ messageUuids: string[] }>;
  /** Create or update an Application with our answer/hangup URLs and point `number` at it. */
  configureNumber(
    number: string,
    urls: { answerUrl: string; hangupUrl: string },
    signal?: AbortSignal,
  ): Promise<{ appId: string }>;
}

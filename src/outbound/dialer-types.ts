// The dialer's data and the two small interfaces it runs on: DialerState (campaigns, contacts, concurrency slots)
// and DialQueue (delayed jobs with dedup ids and a rate limiter). Each has an in-process and a Redis implementation
// behind the same semantics, so one dialer algorithm (dialer.ts) runs in a single process or across replicas.
import type { CallStatus } from '../store/types.ts';
import type { CallWindow } from './window.ts';

export type CampaignState = 'running' | 'paused' | 'canceled' | 'completed';
export type MachineDetection = 'true' | 'hangup' | 'false';

export interface RetryPolicy {
  maxAttempts: number;
  retryOn: CallStatus[];
  backoffS: number;
}

export interface CampaignDef {
  id: string;
  openingReason: string;
  objective?: string | undefined;
  maxConcurrent: number;
  callsPerSecond: number;
  retry: RetryPolicy;
  window?: CallWindow | undefined;
  /** For contacts without their own time zone. */
  timezone: string;
  machineDetection: MachineDetection;
  createdAt: string;
}

export type ContactStatus = 'pending' | 'scheduled' | 'dialing' | 'in-progress' | 'done' | 'canceled';

export interface ContactState {
  id: string;
  phoneNumber: string;
  timezone?: string | undefined;
  variables?: Record<string, string> | undefined;
  /** Per-contact overrides of the campaign's (callbacks carry their own context). */
  openingReason?: string | undefined;
  objective?: string | undefined;
  callbackOf?: string | undefined;
  status: ContactStatus;
  /** Dial attempts that reached Plivo or failed for good (rate-limited tries are not attempts). */
  attempts: number;
  /** The call record of the current attempt, from the moment a slot is taken until the attempt ends. */
  callId?: string | undefined;
  callIds: string[];
  /** Times a slot was taken for this contact (part of dial job ids). */
  takes?: number | undefined;
  /** When the current slot's dial is due (epoch ms): a reconciliation looks at dials overdue for long. */
  dueAt?: number | undefined;
  /** When a scheduled contact is due (epoch ms). */
  nextAt?: number | undefined;
  lastStatus?: CallStatus | undefined;
}

export interface CampaignInfo {
  def: CampaignDef;
  state: CampaignState;
  /** Contacts not yet done or canceled. */
  remaining: number;
}

export interface DialerState {
  /** Creates the campaign with its contacts; false (and nothing written) if the id exists. */
  createCampaign(def: CampaignDef, contacts: ContactState[]): Promise<boolean>;
  /** Appends contacts (ids are assigned here) and counts them as remaining. */
  addContacts(campaignId: string, contacts: Array<Omit<ContactState, 'id'>>): Promise<ContactState[]>;
  getCampaign(campaignId: string): Promise<CampaignInfo | undefined>;
  /** Sets the state if the current one is in `from` (any when omitted); returns whether it changed. */
  setState(campaignId: string, state: CampaignState, from?: CampaignState[]): Promise<boolean>;
  /** Campaigns that are running or paused. */
  activeCampaigns(): Promise<string[]>;
  getContacts(campaignId: string): Promise<ContactState[]>;
  getContact(campaignId: string, contactId: string): Promise<ContactState | undefined>;
  /**
   * Atomic read-modify-write of one contact. `change` returns undefined to leave it as it is; the result says
   * whether this caller's change was the one written (so a transition happens once however many replicas race).
   */
  updateContact(
    campaignId: string,
    contactId: string,
    change: (c: ContactState) => ContactState | undefined,
  ): Promise<{ contact: ContactState; changed: boolean } | undefined>;
  /** Queues contacts for a free slot (`front` puts them first, for contacts handed back by a pause). */
  pushReady(campaignId: string, contactIds: string[], front?: boolean): Promise<void>;
  /**
   * Atomically, while the campaign is running and has a free slot: pops a ready contact, gives it a slot (a lease
   * that expires after `leaseMs` in case its hangup never arrives) and a dial time paced at the campaign's rate.
   */
  take(campaignId: string, nowMs: number, leaseMs: number): Promise<Array<{ contactId: string; atMs: number }>>;
  /** Frees the contact's slot; true only for the call that actually held it. */
  release(campaignId: string, contactId: string): Promise<boolean>;
  /** Slots in use. */
  activeSlots(campaignId: string, nowMs: number): Promise<number>;
  /** Once-only claim of a named action (one dial try), remembered for `ttlMs`. */
  claim(key: string, ttlMs: number): Promise<boolean>;
  /** Counts one contact finished; returns how many remain. */
  finishContact(campaignId: string): Promise<number>;
  close(): Promise<void>;
}

export type DialJob =
  | {
      kind: 'dial';
      campaignId: string;
      contactId: string;
      callId: string;
      /** Rate-limited tries so far (each retry is a new job). */
      dialTry: number;
      /** Which slot-taking of the contact this job belongs to (a pause hands the slot back). */
      take?: number;
    }
  | { kind: 'wake'; campaignId: string; contactId: string };

export interface DialQueue {
  /** Adds a job to run after `delayMs`; a job whose id is already queued (or recently done) is not added again. */
  add(jobId: string, job: DialJob, delayMs: number): Promise<void>;
  /** Starts processing. A handler that throws is retried a few times, so handlers must be idempotent. */
  start(handler: (job: DialJob) => Promise<void>): void;
  /** Stops claiming jobs (a draining replica); queued jobs stay for the other consumers. */
  pause?(): Promise<void>;
  /** Jobs waiting or delayed (for progress and tests). */
  pending(): Promise<number>;
  close(): Promise<void>;
}

export interface RateLimit {
  /** At most `max` jobs start per `durationMs`, across every worker sharing the queue. */
  max: number;
  durationMs: number;
}

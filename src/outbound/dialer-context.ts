// The dialer's shared context: its dependencies, tunables and the little mutable state its pieces share (closed,
// queues paused, Plivo lookups). Built once per dialer by createDialer (dialer.ts); each piece takes it first:
// dialer-contacts.ts (slots and contact states), dialer-worker.ts (the queue jobs that place calls),
// dialer-reconcile.ts (slots held for calls that ended without their hangup).
import { randomUUID } from 'node:crypto';
import type { Config } from '../config.ts';
import { childLogger, type Logger } from '../log.ts';
import type { PlivoApi } from '../plivo/api-types.ts';
import type { CallStore } from '../store/types.ts';
import type { Clock } from './clock.ts';
import type { DialerState, DialQueue } from './dialer-types.ts';

export interface DialerDeps {
  config: Config;
  store: CallStore;
  plivo: PlivoApi;
  state: DialerState;
  /** Dial jobs; its rate limiter should be the account CPS. */
  dialQueue: DialQueue;
  /** Wake-ups of scheduled contacts; no rate limit. */
  wakeQueue: DialQueue;
  clock: Clock;
  /** Base URL Plivo calls back (default config.server.publicUrl; the gateway knows it once listening). */
  publicUrl?: () => string;
  /** A slot whose hangup never arrives is freed after this long. */
  leaseMs?: number;
  /** Backoff of a dial that Plivo rate-limited (429): base, doubling, capped. */
  rateLimitedRetryMs?: { baseMs: number; maxMs: number };
  /** How often each replica re-pumps active campaigns (recovers expired slots) and reconciles leases. */
  sweepMs?: number;
  /**
   * A call placed this long ago (since its last status change) with no final status is checked against Plivo's
   * call state on each sweep: a slot held for a call that has ended comes back even if its hangup never arrived.
   */
  reconcileAfterMs?: number;
  /** How long a dial keeps trying to record Plivo's call uuid (store down) once Plivo has placed the call. */
  linkRetryMs?: number;
  /** A draining replica claims no dial work and hands back what it had claimed. */
  isDraining?: () => boolean;
  newId?: () => string;
}

export interface DialerCtx {
  readonly deps: DialerDeps;
  readonly config: Config;
  readonly store: CallStore;
  readonly state: DialerState;
  readonly clock: Clock;
  readonly log: Logger;
  readonly leaseMs: number;
  /** Backoff of a dial that Plivo rate-limited (429). */
  readonly rl: { baseMs: number; maxMs: number };
  readonly newId: () => string;
  readonly publicUrl: () => string;
  readonly reconcileAfterMs: number;
  readonly linkRetryMs: number;
  draining(): boolean;
  /** Set by close(): no new work starts. */
  closed: boolean;
  /** This replica's queue workers were paused by a drain. */
  queuesPaused: boolean;
  /** Plivo lookups of calls not heard from, by call uuid: how many so far and when the next one is due. */
  readonly lookedUp: Map<string, { n: number; nextAt: number }>;
}

export function createDialerContext(deps: DialerDeps): DialerCtx {
  const { config } = deps;
  return {
    deps,
    config,
    store: deps.store,
    state: deps.state,
    clock: deps.clock,
    log: childLogger({ component: 'dialer' }),
    leaseMs: deps.leaseMs ?? 4 * 3600_000,
    rl: deps.rateLimitedRetryMs ?? { baseMs: 1000, maxMs: 30_000 },
    newId: deps.newId ?? randomUUID,
    publicUrl: deps.publicUrl ?? (() => config.server.publicUrl),
    reconcileAfterMs: deps.reconcileAfterMs ?? 120_000,
    linkRetryMs: deps.linkRetryMs ?? 15 * 60_000,
    draining: () => deps.isDraining?.() === true,
    closed: false,
    queuesPaused: false,
    lookedUp: new Map(),
  };
}

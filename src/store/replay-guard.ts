// Replay state for the Plivo edge (issue 15 D2): which signed webhooks were already served, which stream URL each
// call was answered with, whether that call's stream has been taken, and whether the call has ended. In memory for
// one process; in Redis (STATE_STORE=redis) so that a replay sent to another replica is caught as well.
//
// What is remembered, and for how long:
// - a verified webhook's replay key (its nonce bound to what it signed) for WEBHOOK_NONCE_TTL_S. Plivo delivers
//   every callback of a call within the call's life (at most 4 h, time_limit) plus its retry budget (≤ 55 s), so
//   the window covers every legitimate delivery. Past it, a replay meets the per-call state below;
// - per call (CALL_RECORD_TTL_S, as long as the record whose data a replay could reach): the stream token /answer
//   returned, whether a stream was served, whether the call ended.
//
// A guard never throws: when Redis is unreachable it falls back to this process's memory (counted in `fallbacks`),
// so a Redis outage degrades replay protection to per-replica instead of refusing calls.
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';

export type StreamClaim = 'ok' | 'used' | 'ended';
export type AnswerState = { kind: 'none' } | { kind: 'answered'; token: string } | { kind: 'ended' };

export interface ReplayGuard {
  readonly kind: 'memory' | 'redis';
  /** Times Redis could not be reached and this process's memory answered instead. */
  readonly fallbacks: number;
  /** Records a verified webhook's replay key; false when it was already recorded within the window (a replay). */
  claimNonce(key: string): Promise<boolean>;
  /** Forgets a key whose request failed on our side (5xx), so that Plivo's retry of it is served. */
  releaseNonce(key: string): Promise<void>;
  /** What /answer returned for this call before, if anything. */
  answerState(callId: string): Promise<AnswerState>;
  /** Stores the token answered for a call unless one is stored already; returns the stored one, or 'ended'. */
  answerOnce(callId: string, token: string): Promise<{ token: string } | 'ended'>;
  /**
   * Takes the call's one stream: 'used' if it was taken, 'ended' if the call has ended. `slot` names a further
   * stream of the same call (a call moved at a drain deadline: one slot per resumption handle), checked against the
   * same ended flag, so a moved call is accepted exactly once and never after its hangup.
   */
  claimStream(callId: string, slot?: string): Promise<StreamClaim>;
  /** Gives the stream back: the socket closed before Plivo started streaming (Plivo retries a failed connect). */
  releaseStream(callId: string, slot?: string): Promise<void>;
  /** The call has ended (its hangup webhook): no answer, no stream after this. */
  markEnded(callId: string): Promise<void>;
  /**
   * Calls whose stream another replica took. With Redis, each replica publishes a notice when it takes a call's
   * stream, so the replica that answered the call (and opened its Gemini session then) closes that session at once
   * instead of after its warm TTL (issue 9). In memory there is one replica: never called.
   */
  onStreamElsewhere(listener: (callId: string) => void): void;
  /** Resolves once the backing store is connected (or after a short wait: the guard works without it). */
  ready(): Promise<void>;
  close(): Promise<void>;
}

export interface ReplayGuardOptions {
  nonceTtlS: number;
  callTtlS: number;
  /** Memory only: entries kept at most (oldest go first). */
  maxNonces?: number;
  maxCalls?: number;
  now?: () => number;
}

interface CallState {
  token?: string;
  stream?: boolean;
  /** Streams of a moved call taken, by slot. */
  moved?: Set<string>;
  ended?: boolean;
}

/**
 * Map whose entries all live `ttlMs` from insertion: insertion order is expiry order, so expired entries are always
 * at the front and are dropped in O(1) per entry as new ones come in. Bounded: past `max` the oldest goes.
 */
class ExpiringMap<V> {
  private readonly map = new Map<string, { at: number; value: V }>();
  private readonly ttlMs: number;
  private readonly max: number;
  private readonly now: () => number;
  constructor(ttlMs: number, max: number, now: () => number) {
    this.ttlMs = ttlMs;
    this.max = max;
    this.now = now;
  }
  private sweep(t: number): void {
    for (const [k, e] of this.map) {
      if (t - e.at < this.ttlMs && this.map.size <= this.max) break;
      this.map.delete(k);
    }
  }
  get(key: string): V | undefined {
    const e = this.map.get(key);
    if (e === undefined) return undefined;
    if (this.now() - e.at >= this.ttlMs) {
      this.map.delete(key);
      return undefined;
    }
    return e.value;
  }
  /** Inserts (keeping the original insertion time if present). */
  set(key: string, value: V): void {
    const t = this.now();
    const e = this.map.get(key);
    if (e !== undefined && t - e.at < this.ttlMs) {
      e.value = value;
      return;
    }
    this.map.delete(key);
    this.map.set(key, { at: t, value });
    this.sweep(t);
  }
  delete(key: string): void {
    this.map.delete(key);
  }
}

export function createMemoryReplayGuard(o: ReplayGuardOptions): ReplayGuard {
  const now = o.now ?? (() => Date.now());
  const nonces = new ExpiringMap<true>(o.nonceTtlS * 1000, o.maxNonces ?? 500_000, now);
  const calls = new ExpiringMap<CallState>(o.callTtlS * 1000, o.maxCalls ?? 200_000, now);
  const stateOf = (id: string): CallState => {
    let s = calls.get(id);
    if (s === undefined) {
      s = {};
      calls.set(id, s);
    }
    return s;
  };
  return {
    kind: 'memory',
    fallbacks: 0,
    async claimNonce(key) {
      if (nonces.get(key) !== undefined) return false;
      nonces.set(key, true);
      return true;
    },
    async releaseNonce(key) {
      nonces.delete(key);
    },
    async answerState(callId) {
      const s = calls.get(callId);
      if (s?.ended) return { kind: 'ended' };
      if (s?.token !== undefined) return { kind: 'answered', token: s.token };
      return { kind: 'none' };
    },
    async answerOnce(callId, token) {
      const s = stateOf(callId);
      if (s.ended) return 'ended';
      s.token ??= token;
      return { token: s.token };
    },
    async claimStream(callId, slot) {
      const s = stateOf(callId);
      if (s.ended) return 'ended';
      if (slot) {
        s.moved ??= new Set();
        if (s.moved.has(slot)) return 'used';
        s.moved.add(slot);
        return 'ok';
      }
      if (s.stream) return 'used';
      s.stream = true;
      return 'ok';
    },
    async releaseStream(callId, slot) {
      const s = calls.get(callId);
      if (!s) return;
      if (slot) s.moved?.delete(slot);
      else s.stream = false;
    },
    async markEnded(callId) {
      stateOf(callId).ended = true;
    },
    onStreamElsewhere() {},
    async ready() {},
    async close() {},
  };
}

// Per call, one hash: a = answered token, s = stream taken (s:<slot>: a moved call's further stream), e = ended.
// Scripts keep each step atomic across replicas.
const ANSWER_ONCE = `
if redis.call('HEXISTS', KEYS[1], 'e') == 1 then return false end
redis.call('HSETNX', KEYS[1], 'a', ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[2])
return redis.call('HGET', KEYS[1], 'a')`;
const CLAIM_STREAM = `
if redis.call('HEXISTS', KEYS[1], 'e') == 1 then return 'ended' end
if redis.call('HSETNX', KEYS[1], ARGV[2], '1') == 0 then return 'used' end
redis.call('EXPIRE', KEYS[1], ARGV[1])
return 'ok'`;

const streamField = (slot: string | undefined) => (slot ? `s:${slot}` : 's');

export interface RedisReplayGuardOptions extends ReplayGuardOptions {
  url: string;
  /** Key prefix shared with the call store (default 'gw:'). */
  prefix?: string;
  /** Per-command timeout before falling back to memory (default 1000 ms). */
  commandTimeoutMs?: number;
}

export function createRedisReplayGuard(o: RedisReplayGuardOptions): ReplayGuard {
  const prefix = `${o.prefix ?? 'gw:'}rg:`;
  const nonceTtl = String(o.nonceTtlS);
  const callTtl = String(o.callTtlS);
  // No offline queue: while Redis is away a command fails at once and memory answers, instead of the webhook
  // waiting for a reconnect that may take longer than Plivo's timeout.
  const redis = new Redis(o.url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: o.commandTimeoutMs ?? 1000,
    enableAutoPipelining: true,
  });
  redis.on('error', () => {});
  const local = createMemoryReplayGuard(o);
  const callKey = (id: string) => `${prefix}c:${id}`;
  // Stream notices: "<instance> <callId>" on one channel per prefix; a replica ignores its own.
  const noticeChannel = `${prefix}streams`;
  const instance = randomUUID();
  let subscriber: Redis | undefined;
  let closed = false;
  const guard = {
    kind: 'redis' as const,
    fallbacks: 0,
    async claimNonce(key: string) {
      // Also remembered locally, so a replay on this replica is caught even if Redis goes away in between.
      const fresh = await local.claimNonce(key);
      try {
        return (await redis.set(`${prefix}n:${key}`, '1', 'EX', nonceTtl, 'NX')) === 'OK' && fresh;
      } catch {
        guard.fallbacks++;
        return fresh;
      }
    },
    async releaseNonce(key: string) {
      await local.releaseNonce(key);
      await redis.del(`${prefix}n:${key}`).catch(() => guard.fallbacks++);
    },
    async answerState(callId: string): Promise<AnswerState> {
      try {
        const [a, e] = await redis.hmget(callKey(callId), 'a', 'e');
        if (e != null) return { kind: 'ended' };
        if (a != null) return { kind: 'answered', token: a };
        return { kind: 'none' };
      } catch {
        guard.fallbacks++;
        return local.answerState(callId);
      }
    },
    async answerOnce(callId: string, token: string) {
      const mine = await local.answerOnce(callId, token);
      try {
        const stored = (await redis.eval(ANSWER_ONCE, 1, callKey(callId), token, callTtl)) as string | null;
        return stored === null ? ('ended' as const) : { token: stored };
      } catch {
        guard.fallbacks++;
        return mine;
      }
    },
    async claimStream(callId: string, slot?: string): Promise<StreamClaim> {
      try {
        const r = (await redis.eval(CLAIM_STREAM, 1, callKey(callId), callTtl, streamField(slot))) as StreamClaim;
        if (r === 'ok') {
          await local.claimStream(callId, slot);
          // A notice, not state: lost while Redis is away, the answering replica's warm TTL still closes it.
          if (slot === undefined) redis.publish(noticeChannel, `${instance} ${callId}`).catch(() => undefined);
        }
        return r;
      } catch {
        guard.fallbacks++;
        return local.claimStream(callId, slot);
      }
    },
    async releaseStream(callId: string, slot?: string) {
      await local.releaseStream(callId, slot);
      await redis.hdel(callKey(callId), streamField(slot)).catch(() => guard.fallbacks++);
    },
    async markEnded(callId: string) {
      await local.markEnded(callId);
      try {
        await redis.multi().hset(callKey(callId), 'e', '1').expire(callKey(callId), callTtl).exec();
      } catch {
        guard.fallbacks++;
      }
    },
    ready(): Promise<void> {
      if (redis.status === 'ready') return Promise.resolve();
      return new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 2000);
        t.unref();
        redis.once('ready', () => {
          clearTimeout(t);
          resolve();
        });
      });
    },
    onStreamElsewhere(listener: (callId: string) => void) {
      if (subscriber !== undefined || closed) return;
      // A subscribed connection can only subscribe: a second one. It queues its SUBSCRIBE until connected and
      // subscribes again after each reconnect (ioredis autoResubscribe).
      subscriber = redis.duplicate({ enableOfflineQueue: true, maxRetriesPerRequest: null, commandTimeout: undefined });
      subscriber.on('error', () => {});
      subscriber.on('message', (_channel: string, message: string) => {
        const space = message.indexOf(' ');
        if (space <= 0 || message.slice(0, space) === instance) return;
        listener(message.slice(space + 1));
      });
      subscriber.subscribe(noticeChannel).catch(() => undefined);
    },
    async close() {
      if (closed) return;
      closed = true;
      // Not QUIT: it would queue until Redis is back (the subscriber keeps an offline queue), and a notice
      // connection has nothing to flush.
      subscriber?.disconnect();
      await redis.quit().catch(() => redis.disconnect());
    },
  };
  return guard;
}

export function createReplayGuard(
  o: ReplayGuardOptions & { kind: 'memory' | 'redis'; redisUrl?: string | undefined },
): ReplayGuard {
  if (o.kind === 'redis' && o.redisUrl) return createRedisReplayGuard({ ...o, url: o.redisUrl });
  return createMemoryReplayGuard(o);
}

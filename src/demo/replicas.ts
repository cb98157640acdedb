// Gateway replicas for multi-replica tests and benchmarks: each one composed by src/app.ts (composeGateway) on
// a shared redis-server, a shared Plivo emulator and a shared Gemini Live emulator, over loopback sockets. And a
// load balancer in front of them that routes webhooks and stream upgrades to the replicas a test names, as a real
// cluster's would (round robin sends them wherever it likes).
import { createServer, request, type Server } from 'node:http';
import { connect } from 'node:net';
import { composeGateway } from '../app.ts';
import type { AudioEngine } from '../audio/types.ts';
import type { Call } from '../calls/call.ts';
import type { CallManager } from '../calls/call-manager.ts';
import type { CallEvent } from '../calls/events.ts';
import { loadConfig } from '../config.ts';
import type { GeminiLiveEmulator } from '../emulators/gemini-live/index.ts';
import type { startPlivoEmulator } from '../emulators/plivo/index.ts';
import { createLiveSession } from '../gemini/live-session.ts';
import type { Operator } from '../operator/index.ts';
import { createPlivoRestClient } from '../plivo/rest-client.ts';
import type { Gateway } from '../server/gateway.ts';
import { createRedisCallStore } from '../store/redis.ts';
import type { CallRecord, CallStore } from '../store/types.ts';
import { emulatorEnv } from './emulator-env.ts';
import { freePort } from './free-port.ts';

export const AUTH_ID = 'MAEMULATOR0000000000';
export const AUTH_TOKEN = 'emulator-auth-token';

export type Plivo = Awaited<ReturnType<typeof startPlivoEmulator>>;

export interface Replica {
  name: string;
  gateway: Gateway;
  manager: CallManager;
  operator: Operator;
  store: CallStore;
  /** This replica's own address (the load balancer's, if any, is what Plivo calls). */
  base: string;
  events: Array<{ callId: string; e: CallEvent }>;
  ended: Call[];
  metric(name: string, labels?: string): Promise<number>;
  /** What the agent said on this replica in a call (its transcript deltas joined). */
  said(callId: string): string;
  /** The call's record once it is closed (final status and end reason), read from this replica's store. */
  closedRecord(callId: string, timeoutMs?: number): Promise<CallRecord>;
  close(): Promise<void>;
}

export interface ReplicaShared {
  redis: { url: string };
  audio: AudioEngine;
  plivo: Plivo;
  gemini: () => GeminiLiveEmulator;
  /** Call-store key prefix: one per test, so tests on one Redis never list each other's calls. */
  prefix: string;
}

export interface ReplicaOptions {
  /** Where a draining replica moves its calls (tests/server/migrate.test.ts). */
  migrateUrl?: () => string;
  /** The URL Plivo uses for this replica (a load balancer's); default its own address. */
  publicUrl?: string;
  env?: Record<string, string>;
  migrateWaitMs?: number;
}

export async function startReplica(name: string, shared: ReplicaShared, o: ReplicaOptions = {}): Promise<Replica> {
  const { redis, audio, plivo, prefix } = shared;
  // The port first: a replica must know its own URL (PUBLIC_URL) before it listens, as in production.
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const config = loadConfig(
    emulatorEnv({
      SERVER_HOST: '127.0.0.1',
      SERVER_PORT: String(port),
      PUBLIC_URL: o.publicUrl ?? base,
      PLIVO_AUTH_ID: AUTH_ID,
      PLIVO_AUTH_TOKEN: AUTH_TOKEN,
      PLIVO_API_BASE_URL: plivo.restBaseUrl,
      STATE_STORE: 'redis',
      REDIS_URL: redis.url,
      ...o.env,
    }),
  );
  const plivoApi = createPlivoRestClient({
    authId: AUTH_ID,
    authToken: AUTH_TOKEN,
    baseUrl: plivo.restBaseUrl,
    timeoutMs: 3000,
    maxRetries: 1,
    baseBackoffMs: 5,
  });
  const store = createRedisCallStore({ url: redis.url, ttlS: 600, prefix });
  const events: Replica['events'] = [];
  const ended: Call[] = [];
  const { gateway, calls } = await composeGateway({
    config,
    audio,
    plivoApi,
    store,
    createSession: (cfg, opts) =>
      createLiveSession(cfg, opts, { baseUrl: shared.gemini().baseUrl, backoffBaseMs: 20, closeWaitMs: 200 }),
    manager: {
      timing: { migrateWaitMs: o.migrateWaitMs ?? 1500 },
      onEvent: (callId, e) => events.push({ callId, e }),
      onCallEnded: (call) => ended.push(call),
    },
    operator: { settleMs: 200 },
    gateway: { defaultMetrics: false, migrateUrl: o.migrateUrl },
  });
  return {
    name,
    gateway,
    manager: calls.manager,
    operator: calls.operator,
    store,
    base,
    events,
    ended,
    async metric(metric, labels = '') {
      const text = await gateway.metrics.metrics();
      const line = text.split('\n').find((l) => l.startsWith(`${metric}${labels ? `{${labels}}` : ''} `));
      return line === undefined ? 0 : Number(line.split(' ').at(-1));
    },
    said(callId) {
      return events
        .filter((x) => x.callId === callId && x.e.type === 'agent-text')
        .map((x) => (x.e as { text: string }).text)
        .join('');
    },
    async closedRecord(callId, timeoutMs = 10_000) {
      const end = Date.now() + timeoutMs;
      for (;;) {
        const r = await store.get(callId);
        if (r?.status === 'completed' && r.endReason !== undefined) return r;
        if (Date.now() > end) throw new Error(`the record of ${callId} was not closed within ${timeoutMs} ms`);
        await new Promise((res) => setTimeout(res, 50));
      }
    },
    async close() {
      await gateway.close();
      await calls.close();
    },
  };
}

/**
 * A load balancer on loopback: HTTP requests go to `http()`'s replica, WebSocket upgrades to `upgrade()`'s, both
 * as raw byte pipes (headers untouched, so signatures over the public URL verify on any replica).
 */
export async function startBalancer(route: { http: () => string; upgrade: () => string }): Promise<{
  url: string;
  close(): Promise<void>;
}> {
  const target = (base: string) => new URL(base);
  const server: Server = createServer((req, res) => {
    const t = target(route.http());
    const up = request(
      { host: t.hostname, port: t.port, method: req.method, path: req.url, headers: req.headers },
      (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      },
    );
    up.on('error', () => {
      res.writeHead(502).end();
    });
    req.pipe(up);
  });
  const piped = new Set<{ destroy(): void }>();
  server.on('upgrade', (req, socket, head) => {
    const t = target(route.upgrade());
    const up = connect(Number(t.port), t.hostname, () => {
      const lines = [`${req.method} ${req.url} HTTP/1.1`];
      for (let i = 0; i < req.rawHeaders.length; i += 2) lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
      up.write(`${lines.join('\r\n')}\r\n\r\n`);
      if (head.length > 0) up.write(head);
      up.pipe(socket);
      socket.pipe(up);
    });
    piped.add(up);
    piped.add(socket);
    const end = () => {
      up.destroy();
      socket.destroy();
      piped.delete(up);
      piped.delete(socket);
    };
    up.on('error', end);
    socket.on('error', end);
    up.on('close', end);
    socket.on('close', end);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((r) => {
        for (const s of piped) s.destroy();
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

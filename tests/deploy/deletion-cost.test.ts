// The pod-deletion-cost patcher against a stand-in Kubernetes API server: a real HTTPS server on 127.0.0.1 with a
// throwaway CA made by openssl, so the CA file, the bearer token file and the merge patch all cross a real socket.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { emulatorEnv } from '../../src/demo/emulator-env.ts';
import {
  DELETION_COST_ANNOTATION,
  type DeletionCostPatcher,
  deletionCostFromConfig,
  startDeletionCost,
} from '../../src/k8s/deletion-cost.ts';

interface Seen {
  method: string;
  url: string;
  contentType: string | undefined;
  auth: string | undefined;
  body: string;
}

const logger = pino({ level: 'silent' });
let dir: string;
let server: Server;
let apiUrl: string;
const seen: Seen[] = [];
let answer: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => {
  res.writeHead(200, { 'content-type': 'application/json' }).end('{"kind":"Pod"}');
};

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'gw-k8s-'));
  // A self-signed certificate for 127.0.0.1 doubles as the cluster CA bundle (ca.crt).
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=kube-apiserver',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
      '-keyout',
      join(dir, 'key.pem'),
      '-out',
      join(dir, 'ca.crt'),
    ],
    { stdio: 'ignore' },
  );
  writeFileSync(join(dir, 'token'), 'token-one\n');
  writeFileSync(join(dir, 'namespace'), 'voice');
  server = createServer(
    { key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'ca.crt')) },
    (req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (c: string) => {
        body += c;
      });
      req.on('end', () => {
        seen.push({
          method: req.method ?? '',
          url: req.url ?? '',
          contentType: req.headers['content-type'],
          auth: req.headers.authorization,
          body,
        });
        answer(req, res);
      });
    },
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  apiUrl = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  rmSync(dir, { recursive: true, force: true });
});

function patcher(calls: () => number, o: { minIntervalMs?: number; requestTimeoutMs?: number } = {}) {
  return startDeletionCost({
    apiUrl,
    namespace: 'voice',
    podName: 'gemini-plivo-gateway-7d9f-abcde',
    tokenPath: join(dir, 'token'),
    caPath: join(dir, 'ca.crt'),
    activeCalls: calls,
    minIntervalMs: o.minIntervalMs ?? 0,
    pollMs: 60_000,
    requestTimeoutMs: o.requestTimeoutMs ?? 2000,
    logger,
  });
}

/** The first patch starts at creation; tick() during it resolves when it settles. */
function settle(p: DeletionCostPatcher): Promise<void> {
  return p.tick();
}

describe('pod-deletion-cost patcher', () => {
  it('sends a merge patch of the one annotation, with the bearer token, over TLS checked against the CA', async () => {
    seen.length = 0;
    let calls = 3;
    const p = patcher(() => calls);
    await settle(p);
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({
      method: 'PATCH',
      url: '/api/v1/namespaces/voice/pods/gemini-plivo-gateway-7d9f-abcde',
      contentType: 'application/merge-patch+json',
      auth: 'Bearer token-one',
    });
    expect(JSON.parse(seen[0]?.body ?? '')).toEqual({ metadata: { annotations: { [DELETION_COST_ANNOTATION]: '3' } } });
    expect(p.current).toBe(3);

    // Same count: nothing sent. The kubelet rotated the token: the next patch carries the new one.
    await p.tick();
    expect(seen).toHaveLength(1);
    writeFileSync(join(dir, 'token'), 'token-two\n');
    calls = 0;
    await p.tick();
    expect(seen).toHaveLength(2);
    expect(seen[1]?.auth).toBe('Bearer token-two');
    expect(JSON.parse(seen[1]?.body ?? '').metadata.annotations[DELETION_COST_ANNOTATION]).toBe('0');
    await p.stop();
  });

  it('patches at most once per interval however often the count changes', async () => {
    seen.length = 0;
    let calls = 1;
    const p = patcher(() => calls, { minIntervalMs: 60_000 });
    await settle(p);
    for (let i = 2; i < 20; i++) {
      calls = i;
      await p.tick();
    }
    expect(seen).toHaveLength(1);
    expect(p.current).toBe(1);
    await p.stop();
  });

  it('keeps going when the API refuses (missing RBAC), and when it does not answer', async () => {
    seen.length = 0;
    answer = (_req, res) => {
      res.writeHead(403, { 'content-type': 'application/json' }).end('{"kind":"Status","reason":"Forbidden"}');
    };
    const p = patcher(() => 5);
    await settle(p);
    expect(seen.length).toBeGreaterThanOrEqual(1);
    expect(p.current).toBeUndefined();

    answer = () => {}; // never answers
    const before = seen.length;
    await p.tick();
    expect(seen.length).toBe(before + 1);
    expect(p.current).toBeUndefined();
    await p.stop();

    answer = (_req, res) => {
      res.writeHead(200).end('{}');
    };
    const q = patcher(() => 5);
    await settle(q);
    expect(q.current).toBe(5);
    await q.stop();
  }, 15_000);

  it('rejects a certificate the CA did not sign', async () => {
    seen.length = 0;
    const other = mkdtempSync(join(tmpdir(), 'gw-k8s-other-'));
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=other',
        '-keyout',
        join(other, 'k.pem'),
        '-out',
        join(other, 'ca.crt'),
      ],
      { stdio: 'ignore' },
    );
    const p = startDeletionCost({
      apiUrl,
      namespace: 'voice',
      podName: 'p',
      tokenPath: join(dir, 'token'),
      caPath: join(other, 'ca.crt'),
      activeCalls: () => 1,
      minIntervalMs: 0,
      pollMs: 60_000,
      requestTimeoutMs: 2000,
      logger,
    });
    await settle(p);
    expect(p.current).toBeUndefined();
    expect(seen).toHaveLength(0);
    await p.stop();
    rmSync(other, { recursive: true, force: true });
  });

  it('is off outside Kubernetes and when turned off', async () => {
    const outside = loadConfig(emulatorEnv()).kubernetes;
    expect(outside.deletionCost).toBe('auto');
    expect(await deletionCostFromConfig(outside, () => 0, logger, dir)).toBeUndefined();
    const off = loadConfig(
      emulatorEnv({ POD_DELETION_COST: 'off', KUBERNETES_SERVICE_HOST: '127.0.0.1', POD_NAME: 'p' }),
    ).kubernetes;
    expect(await deletionCostFromConfig(off, () => 0, logger, dir)).toBeUndefined();
    // In a pod without a mounted token (automount off and no projected volume): off too.
    const noToken = loadConfig(emulatorEnv({ KUBERNETES_SERVICE_HOST: '127.0.0.1', POD_NAME: 'p' })).kubernetes;
    expect(await deletionCostFromConfig(noToken, () => 0, logger, join(dir, 'absent'))).toBeUndefined();
  });

  it('in a pod, finds the API server from KUBERNETES_SERVICE_HOST/PORT and the namespace from the mount', async () => {
    seen.length = 0;
    const port = new URL(apiUrl).port;
    const k = loadConfig(
      emulatorEnv({ KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: port, POD_NAME: 'gw-0' }),
    ).kubernetes;
    const p = await deletionCostFromConfig(k, () => 7, logger, dir);
    expect(p).toBeDefined();
    if (!p) return;
    await settle(p);
    expect(seen[0]?.url).toBe('/api/v1/namespaces/voice/pods/gw-0');
    expect(p.current).toBe(7);
    await p.stop();
  });

  it('rejects a bad setting with the rest of the configuration problems', () => {
    expect(() =>
      loadConfig(emulatorEnv({ POD_DELETION_COST: 'sometimes', POD_DELETION_COST_INTERVAL_S: '0' })),
    ).toThrow(/POD_DELETION_COST[\s\S]*POD_DELETION_COST_INTERVAL_S/);
  });
});

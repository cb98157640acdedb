// Keeps this pod's `controller.kubernetes.io/pod-deletion-cost` annotation at its active-call count, so that when
// the HPA scales in, the ReplicaSet controller deletes the pods with the fewest calls first (lowest cost goes first;
// https://kubernetes.io/docs/concepts/workloads/controllers/replicaset/#pod-deletion-cost) instead of draining a
// busy pod for an hour.
//
// One merge patch of one annotation through the in-cluster API (service-account token, cluster CA,
// KUBERNETES_SERVICE_HOST/PORT), sent with node:https: the whole client is one request, so a Kubernetes client
// library (and its dependency tree) buys nothing here. node:https rather than fetch because fetch cannot take a
// per-request CA without importing undici's Agent.
//
// Rate limit: the API server documents that updating the annotation often costs it (each patch is a pod write that
// every pod watcher sees), so we patch only when the count changed and at most once per `minIntervalMs`. A missed
// change is picked up on the next tick; nothing queues.
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import type { Config } from '../config.ts';
import { errorMessage, GatewayError } from '../errors.ts';
import type { Logger } from '../log.ts';

export const DELETION_COST_ANNOTATION = 'controller.kubernetes.io/pod-deletion-cost';
export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

export interface DeletionCostOptions {
  /** https://host:port of the API server (http:// only for tests). */
  apiUrl: string;
  namespace: string;
  podName: string;
  /** Bearer token file; reread before each request because the kubelet rotates projected tokens. */
  tokenPath: string;
  /** PEM bundle that signs the API server's certificate; undefined for http:// in tests. */
  caPath: string | undefined;
  activeCalls: () => number;
  /** Least time between two patches. */
  minIntervalMs: number;
  /** How often the call count is read (cheap, in memory). */
  pollMs: number;
  requestTimeoutMs: number;
  logger: Logger;
}

export interface DeletionCostPatcher {
  /** The value last accepted by the API server, if any. */
  readonly current: number | undefined;
  /**
   * Reads the count and patches now if it changed and the rate limit allows (the timer calls this). While a patch is
   * in flight, resolves when it settles instead.
   */
  tick(): Promise<void>;
  /** Stops the timer and waits for a request in flight. */
  stop(): Promise<void>;
}

export class KubernetesApiError extends GatewayError {
  readonly status: number | undefined;
  constructor(message: string, status: number | undefined, options: { cause?: unknown } = {}) {
    super('GW_ERR_KUBERNETES_API', message, {
      ...options,
      retryable: status === undefined || status === 429 || status >= 500,
      detail: status === undefined ? undefined : { status },
    });
    this.name = 'KubernetesApiError';
    this.status = status;
  }
}

export function startDeletionCost(o: DeletionCostOptions): DeletionCostPatcher {
  const path = `/api/v1/namespaces/${encodeURIComponent(o.namespace)}/pods/${encodeURIComponent(o.podName)}`;
  const url = new URL(path, o.apiUrl);
  let current: number | undefined;
  let lastAttemptAt = Number.NEGATIVE_INFINITY;
  let inFlight: Promise<void> | undefined;
  let stopped = false;
  let failures = 0;

  async function patch(value: number): Promise<void> {
    const [token, ca] = await Promise.all([
      readFile(o.tokenPath, 'utf8'),
      o.caPath === undefined ? undefined : readFile(o.caPath),
    ]);
    const body = JSON.stringify({ metadata: { annotations: { [DELETION_COST_ANNOTATION]: String(value) } } });
    const status = await request(url, {
      method: 'PATCH',
      ca,
      timeoutMs: o.requestTimeoutMs,
      headers: {
        authorization: `Bearer ${token.trim()}`,
        'content-type': 'application/merge-patch+json',
        accept: 'application/json',
        'content-length': String(Buffer.byteLength(body)),
      },
      body,
    });
    if (status < 200 || status >= 300) {
      const hint =
        status === 401 || status === 403
          ? ' (the service account needs get/patch on pods in its namespace: k8s/base/rbac.yaml)'
          : '';
      throw new KubernetesApiError(`PATCH pod ${o.podName} answered ${status}${hint}`, status);
    }
  }

  async function tick(): Promise<void> {
    if (stopped) return;
    // One request at a time: a tick during a patch waits for it and leaves the next change to the next tick.
    if (inFlight) return inFlight;
    let value: number;
    try {
      value = Math.max(0, Math.min(2_147_483_647, Math.trunc(o.activeCalls())));
    } catch {
      return;
    }
    if (value === current) return;
    const now = Date.now();
    if (now - lastAttemptAt < o.minIntervalMs) return;
    lastAttemptAt = now;
    inFlight = patch(value)
      .then(() => {
        if (failures > 0) o.logger.info({ deletionCost: value }, 'pod-deletion-cost patching recovered');
        failures = 0;
        current = value;
      })
      .catch((err: unknown) => {
        failures += 1;
        // Log the first failure and then every 10th: a missing RoleBinding would otherwise log every interval.
        if (failures === 1 || failures % 10 === 0) {
          o.logger.warn({ err: errorMessage(err), failures, deletionCost: value }, 'could not patch pod-deletion-cost');
        }
      })
      .finally(() => {
        inFlight = undefined;
      });
    await inFlight;
  }

  const timer = setInterval(() => void tick(), o.pollMs);
  timer.unref();
  void tick();
  o.logger.info({ pod: o.podName, namespace: o.namespace, minIntervalMs: o.minIntervalMs }, 'pod-deletion-cost on');

  return {
    get current() {
      return current;
    },
    tick,
    async stop() {
      stopped = true;
      clearInterval(timer);
      await inFlight;
    },
  };
}

function request(
  url: URL,
  o: { method: string; headers: Record<string, string>; body: string; ca: Buffer | undefined; timeoutMs: number },
): Promise<number> {
  return new Promise((resolve, reject) => {
    const mod = url.protocol === 'http:' ? http : https;
    const req = mod.request(
      url,
      { method: o.method, headers: o.headers, ca: o.ca, timeout: o.timeoutMs, agent: false },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.on('error', (err) => reject(new KubernetesApiError(errorMessage(err), undefined, { cause: err })));
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${o.timeoutMs} ms`)));
    req.on('error', (err) => reject(new KubernetesApiError(errorMessage(err), undefined, { cause: err })));
    req.end(o.body);
  });
}

/**
 * Starts the patcher when running in Kubernetes (or when forced on). `auto` needs KUBERNETES_SERVICE_HOST, POD_NAME
 * and a mounted token; outside Kubernetes it stays off without a word.
 */
export async function deletionCostFromConfig(
  s: Config['kubernetes'],
  activeCalls: () => number,
  logger: Logger,
  dir: string = SERVICE_ACCOUNT_DIR,
): Promise<DeletionCostPatcher | undefined> {
  if (s.deletionCost === 'off') return undefined;
  const tokenPath = `${dir}/token`;
  const hasToken = await readFile(tokenPath).then(
    () => true,
    () => false,
  );
  const missing: string[] = [];
  if (s.apiHost === undefined) missing.push('KUBERNETES_SERVICE_HOST');
  if (s.podName === undefined) missing.push('POD_NAME');
  if (!hasToken) missing.push(tokenPath);
  if (missing.length > 0) {
    if (s.deletionCost === 'on')
      logger.warn({ missing }, 'POD_DELETION_COST=on but not in a pod with an API token; off');
    return undefined;
  }
  const namespace =
    s.podNamespace ??
    (await readFile(`${dir}/namespace`, 'utf8').then(
      (v) => v.trim(),
      () => 'default',
    ));
  const host = (s.apiHost as string).includes(':') ? `[${s.apiHost}]` : s.apiHost;
  return startDeletionCost({
    apiUrl: `https://${host}:${s.apiPort ?? 443}`,
    namespace,
    podName: s.podName as string,
    tokenPath,
    caPath: `${dir}/ca.crt`,
    activeCalls,
    minIntervalMs: s.deletionCostIntervalMs,
    pollMs: Math.min(2000, s.deletionCostIntervalMs),
    requestTimeoutMs: 5000,
    logger,
  });
}

// CI check of k8s/: renders each kustomization the way `kustomize build` does for the subset we use (plain
// `resources:` lists of files and directories, nothing else: anything more fails here rather than render differently),
// validates every object against the Kubernetes OpenAPI schemas (kubernetes-models bundles them, compiled, so this runs
// offline) and the CRDs we ship objects for (Gateway API, Prometheus operator, KEDA), then checks the rules a real
// cluster taught us (issue 13): no replicas under an HPA, nothing internal on the public route, probes, grace, security.
//
// Limit: the Kubernetes schemas allow unknown fields (the API server rejects or prunes them under strict field
// validation), so a misspelled field passes the schema step; the rule checks below name the fields that matter.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments, parse as parseYaml } from 'yaml';
import { GATEWAY_NODE_FLAGS } from '../../bench/capacity/gateway-proc.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const k8s = join(root, 'k8s');

type Obj = { apiVersion: string; kind: string; metadata: { name: string; [k: string]: unknown }; [k: string]: unknown };
// biome-ignore lint/suspicious/noExplicitAny: manifests are free-form YAML; the schema step types them.
type Any = any;

function loadYamlFile(file: string): Obj[] {
  const docs = parseAllDocuments(readFileSync(file, 'utf8'));
  const out: Obj[] = [];
  for (const d of docs) {
    if (d.errors.length > 0) throw new Error(`${relative(root, file)}: ${d.errors[0]?.message}`);
    const v = d.toJS();
    if (v !== null && v !== undefined) out.push(v as Obj);
  }
  return out;
}

/** `kustomize build dir` for kustomizations made only of `resources:` (files or directories). */
function render(dir: string, seen: Set<string> = new Set()): Obj[] {
  const file = join(dir, 'kustomization.yaml');
  const k = parseYaml(readFileSync(file, 'utf8')) as Record<string, unknown>;
  const unknown = Object.keys(k).filter((key) => !['apiVersion', 'kind', 'resources'].includes(key));
  if (unknown.length > 0)
    throw new Error(`${relative(root, file)}: this renderer supports only resources (got ${unknown})`);
  if (k.kind !== 'Kustomization') throw new Error(`${relative(root, file)}: kind must be Kustomization`);
  const out: Obj[] = [];
  for (const r of (k.resources ?? []) as string[]) {
    const p = join(dir, r);
    if (statSync(p).isDirectory()) {
      if (seen.has(p)) throw new Error(`${relative(root, p)} is included twice`);
      seen.add(p);
      out.push(...render(p, seen));
    } else out.push(...loadYamlFile(p));
  }
  const ids = new Set<string>();
  for (const o of out) {
    const id = `${o.apiVersion}/${o.kind}/${o.metadata?.name}`;
    if (ids.has(id)) throw new Error(`${relative(root, dir)}: duplicate ${id}`);
    ids.add(id);
  }
  return out;
}

/** Where the model classes for an apiVersion live (core, then the CRD packages). */
function modelModule(apiVersion: string): string {
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
  if (group === '') return `kubernetes-models/${version}`;
  if (group?.startsWith('gateway.networking')) return `@kubernetes-models/gateway-api/${apiVersion}`;
  if (group === 'monitoring.coreos.com') return `@kubernetes-models/prometheus-operator/${apiVersion}`;
  if (group === 'keda.sh') return `@kubernetes-models/keda/${apiVersion}`;
  return `kubernetes-models/${apiVersion}`;
}

async function schemaErrors(o: Obj): Promise<string | undefined> {
  let mod: Record<string, new (v: unknown) => { validate(): void }>;
  try {
    mod = await import(modelModule(o.apiVersion));
  } catch {
    return `no schema for ${o.apiVersion}`;
  }
  const Model = mod[o.kind];
  if (!Model) return `no schema for ${o.apiVersion} ${o.kind}`;
  try {
    new Model(o).validate();
    return undefined;
  } catch (err) {
    return (err as Error).message.slice(0, 600);
  }
}

function allYamlFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? allYamlFiles(join(dir, e.name)) : e.name.endsWith('.yaml') ? [join(dir, e.name)] : [],
  );
}

const INTERNAL_PATHS = ['/metrics', '/healthz', '/readyz'];
const PUBLIC_PATHS = ['/answer', '/hangup', '/callbacks', '/stream', '/transfer-xml', '/resume', '/outbound'];
/** Metrics alerts may use before this revision exports them (being added by features in flight). */
const PLANNED_METRICS: string[] = [];

const find = (objs: Obj[], kind: string, name?: string): Any =>
  objs.find((o) => o.kind === kind && (name === undefined || o.metadata.name === name));

describe('k8s manifests', () => {
  const targets = {
    default: k8s,
    gatewayApi: join(k8s, 'overlays', 'gateway-api'),
    monitoring: join(k8s, 'monitoring'),
  };
  const rendered: Record<keyof typeof targets, Obj[]> = { default: [], gatewayApi: [], monitoring: [] };

  beforeAll(() => {
    for (const [name, dir] of Object.entries(targets)) rendered[name as keyof typeof targets] = render(dir);
  });

  it('every kustomization renders, and every object in k8s/ validates against its schema', async () => {
    expect(rendered.default.map((o) => o.kind)).toEqual(
      expect.arrayContaining(['Deployment', 'Service', 'HorizontalPodAutoscaler', 'StatefulSet', 'Ingress']),
    );
    expect(rendered.gatewayApi.map((o) => o.kind)).toContain('HTTPRoute');
    expect(rendered.gatewayApi.map((o) => o.kind)).not.toContain('Ingress');
    const problems: string[] = [];
    // Rendered objects and the example files outside any kustomization (Secret shape, Gateway, KEDA, controller
    // ConfigMap) alike; Helm values files are not Kubernetes objects.
    for (const file of allYamlFiles(k8s)) {
      if (file.endsWith('kustomization.yaml') || file.endsWith('-values.yaml')) continue;
      for (const o of loadYamlFile(file)) {
        const err = await schemaErrors(o);
        if (err) problems.push(`${relative(root, file)} ${o.kind}/${o.metadata?.name}: ${err}`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('the schema step catches a broken object (the validator is not a no-op)', async () => {
    const dep = structuredClone(find(rendered.default, 'Deployment', 'gemini-plivo-gateway'));
    dep.spec.template.spec.containers[0].ports[0].containerPort = 'eight thousand';
    expect(await schemaErrors(dep)).toMatch(/containerPort|integer/);
  });

  it('no workload that an HPA or ScaledObject scales sets replicas', () => {
    const keda = loadYamlFile(join(k8s, 'monitoring', 'keda-scaledobject.yaml'));
    for (const objs of [rendered.default, rendered.gatewayApi]) {
      const scaled = [
        ...objs.filter((o) => o.kind === 'HorizontalPodAutoscaler').map((o: Any) => o.spec.scaleTargetRef.name),
        ...keda.map((o: Any) => o.spec.scaleTargetRef.name),
      ];
      expect(scaled).toContain('gemini-plivo-gateway');
      for (const name of scaled) {
        const w = objs.find((o) => ['Deployment', 'StatefulSet'].includes(o.kind) && o.metadata.name === name) as Any;
        expect(w, name).toBeDefined();
        expect(w.spec.replicas, `${name} sets replicas next to its autoscaler`).toBeUndefined();
      }
    }
  });

  it('the public routes carry only what Plivo needs, never /metrics, /healthz or /readyz', () => {
    const ingress = find(rendered.default, 'Ingress');
    const ingressPaths: string[] = ingress.spec.rules.flatMap((r: Any) => r.http.paths.map((p: Any) => p.path));
    const route = find(rendered.gatewayApi, 'HTTPRoute');
    const routePaths: string[] = route.spec.rules.flatMap((r: Any) => r.matches.map((m: Any) => m.path.value));
    for (const paths of [ingressPaths, routePaths]) {
      expect([...paths].sort()).toEqual([...PUBLIC_PATHS].sort());
      for (const p of paths) {
        for (const internal of INTERNAL_PATHS) expect(internal.startsWith(p), `${p} exposes ${internal}`).toBe(false);
      }
    }
    for (const r of ingress.spec.rules) for (const p of r.http.paths) expect(p.pathType).toBe('Prefix');
    // Streams last as long as the call: the proxy must not time them out.
    const stream = route.spec.rules.find((r: Any) => r.matches.some((m: Any) => m.path.value === '/stream'));
    expect(stream.timeouts.request).toBe('0s');
    expect(
      Number(ingress.metadata.annotations['nginx.ingress.kubernetes.io/proxy-read-timeout']),
    ).toBeGreaterThanOrEqual(3600);
    const controller = loadYamlFile(
      join(k8s, 'ingress-nginx', 'ingress-nginx-controller-configmap.example.yaml'),
    )[0] as Any;
    expect(Number.parseInt(controller.data['worker-shutdown-timeout'], 10)).toBeGreaterThanOrEqual(3600);
  });

  it('the gateway pod drains safely: grace above the drain, autoscalers kept off, probes that do not flap', () => {
    const dep = find(rendered.default, 'Deployment', 'gemini-plivo-gateway');
    const cm = find(rendered.default, 'ConfigMap', 'gemini-plivo-gateway');
    const pod = dep.spec.template;
    const c = pod.spec.containers[0];
    const preStop = c.lifecycle.preStop;
    expect(preStop.sleep, 'the preStop sleep action needs Kubernetes 1.30').toBeUndefined();
    expect(preStop.exec.command[0]).toBe('sleep');
    const pause = Number(preStop.exec.command[1]);
    expect(pod.spec.terminationGracePeriodSeconds).toBeGreaterThan(Number(cm.data.DRAIN_TIMEOUT_S) + pause);
    expect(pod.metadata.annotations['cluster-autoscaler.kubernetes.io/safe-to-evict']).toBe('false');
    expect(pod.metadata.annotations['karpenter.sh/do-not-disrupt']).toBe('true');
    expect(dep.spec.strategy.rollingUpdate).toEqual({ maxUnavailable: 0, maxSurge: 1 });

    expect(c.startupProbe).toBeDefined();
    expect(c.readinessProbe.httpGet.path).toBe('/readyz');
    expect(c.readinessProbe.failureThreshold).toBeGreaterThanOrEqual(2);
    expect(c.readinessProbe.timeoutSeconds).toBeGreaterThanOrEqual(2);
    expect(c.livenessProbe.httpGet.path).toBe('/healthz');
    expect(c.livenessProbe.timeoutSeconds).toBeGreaterThanOrEqual(2);
    // A wedged pod must not sit out the whole drain grace after a liveness failure.
    expect(c.livenessProbe.terminationGracePeriodSeconds).toBeLessThanOrEqual(60);
  });

  it('the gateway pod is locked down, with an API token only for the deletion-cost patcher', () => {
    const dep = find(rendered.default, 'Deployment', 'gemini-plivo-gateway');
    const spec = dep.spec.template.spec;
    const c = spec.containers[0];
    expect(spec.securityContext.seccompProfile.type).toBe('RuntimeDefault');
    expect(spec.securityContext.runAsNonRoot).toBe(true);
    expect(spec.automountServiceAccountToken).toBe(false);
    expect(c.securityContext).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true });
    expect(c.securityContext.capabilities.drop).toEqual(['ALL']);
    const projected = spec.volumes.find((v: Any) => v.projected);
    expect(projected.projected.sources.some((s: Any) => s.serviceAccountToken)).toBe(true);
    expect(c.volumeMounts).toContainEqual(
      expect.objectContaining({ name: projected.name, mountPath: '/var/run/secrets/kubernetes.io/serviceaccount' }),
    );
    expect(c.env.find((e: Any) => e.name === 'POD_NAME').valueFrom.fieldRef.fieldPath).toBe('metadata.name');
    expect(find(rendered.default, 'ServiceAccount').automountServiceAccountToken).toBe(false);

    const role = find(rendered.default, 'Role');
    expect(role.rules).toEqual([{ apiGroups: [''], resources: ['pods'], verbs: ['get', 'patch'] }]);
    const binding = find(rendered.default, 'RoleBinding');
    expect(binding.subjects[0].name).toBe(spec.serviceAccountName);

    const policies = rendered.default.filter((o) => o.kind === 'NetworkPolicy') as Any[];
    const selects = (app: string) => policies.some((p) => p.spec.podSelector.matchLabels?.app === app);
    expect(selects('gemini-plivo-gateway')).toBe(true);
    expect(selects('gemini-plivo-redis')).toBe(true);
  });

  it('Redis keeps its data, needs the password from the Secret and has a pinned image', () => {
    const sts = find(rendered.default, 'StatefulSet', 'gemini-plivo-redis');
    const c = sts.spec.template.spec.containers[0];
    expect(c.image).toMatch(/^redis:\d+\.\d+\.\d+/);
    expect(sts.spec.volumeClaimTemplates[0].metadata.name).toBe('data');
    expect(c.volumeMounts).toContainEqual(expect.objectContaining({ name: 'data', mountPath: '/data' }));
    expect(c.env.find((e: Any) => e.name === 'REDIS_PASSWORD').valueFrom.secretKeyRef.name).toBe(
      'gemini-plivo-gateway',
    );
    expect(c.args.join(' ')).toContain('--requirepass "$REDIS_PASSWORD"');
    expect(c.readinessProbe && c.livenessProbe && c.startupProbe).toBeTruthy();
    expect(sts.spec.template.spec.securityContext.seccompProfile.type).toBe('RuntimeDefault');
  });

  it('monitoring feeds the HPA and alerts on metrics the gateway exports', () => {
    const dep = find(rendered.default, 'Deployment', 'gemini-plivo-gateway');
    const hpa = find(rendered.default, 'HorizontalPodAutoscaler');
    const pm = find(rendered.monitoring, 'PodMonitor');
    expect(pm.spec.selector.matchLabels).toEqual(dep.spec.selector.matchLabels);
    const portNames = dep.spec.template.spec.containers[0].ports.map((p: Any) => p.name);
    expect(portNames).toContain(pm.spec.podMetricsEndpoints[0].port);
    expect(pm.spec.podMetricsEndpoints[0].path).toBe('/metrics');

    const adapter = parseYaml(readFileSync(join(k8s, 'monitoring', 'prometheus-adapter-values.yaml'), 'utf8')) as Any;
    const exposed = adapter.rules.custom.map((r: Any) => r.name.as);
    expect(exposed).toContain(hpa.spec.metrics[0].pods.metric.name);

    const exported = [
      ...readFileSync(join(root, 'src', 'server', 'metrics.ts'), 'utf8').matchAll(/'(gateway_\w+)'/g),
    ].map((m) => m[1]);
    expect(exported).toContain('gateway_active_calls');
    const rules = find(rendered.monitoring, 'PrometheusRule').spec.groups.flatMap((g: Any) => g.rules);
    const alerts = rules.map((r: Any) => r.alert);
    for (const a of [
      'GatewayCallSetupFailures',
      'GatewayDrainsHitDeadline',
      'GatewayGeminiReconnectStorm',
      'GatewaySilentTurns',
    ])
      expect(alerts).toContain(a);
    const used = new Set(rules.flatMap((r: Any) => [...String(r.expr).matchAll(/\b(gateway_\w+)/g)].map((m) => m[1])));
    // Histograms and summaries export _bucket/_sum/_count series under the declared name.
    const known = (m: string) =>
      exported.includes(m) || PLANNED_METRICS.includes(m) || exported.some((e) => m.startsWith(`${e}_`));
    expect([...used].filter((m) => !known(m as string))).toEqual([]);
  });

  it('the Dockerfile pulls no frontend image, copies .npmrc, keeps one uWebSockets.js binary, runs non-root', () => {
    const df = readFileSync(join(root, 'Dockerfile'), 'utf8');
    expect(df).not.toMatch(/^#\s*syntax=/m);
    expect(df).toMatch(/^COPY .*\.npmrc/m);
    expect(df).toMatch(/uWebSockets\.js/);
    expect(df).toMatch(/process\.versions\.modules/);
    const users = [...df.matchAll(/^USER\s+(\S+)/gm)].map((m) => m[1]);
    expect(users.at(-1)).toMatch(/^[1-9]\d*(:\d+)?$/);
  });

  it('the image, npm start and bench:capacity run the gateway with the same Node flags', () => {
    const df = readFileSync(join(root, 'Dockerfile'), 'utf8');
    const cmd = [...df.matchAll(/^CMD (\[.*\])$/gm)].at(-1)?.[1];
    expect(cmd).toBeDefined();
    const image = JSON.parse(cmd!) as string[];
    expect(image[0]).toBe('node');
    expect(image.at(-1)).toBe('src/main.ts');
    const start = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> })
      .scripts.start!;
    const npm = /&& node (.*)src\/main\.ts$/.exec(start)?.[1]?.trim().split(/\s+/).filter(Boolean);
    expect(npm).toEqual(image.slice(1, -1));
    expect([...GATEWAY_NODE_FLAGS]).toEqual(image.slice(1, -1));
  });

  it('every file an npm script of the Dockerfile runs was copied into the image before it', () => {
    // A script that gained a step (scripts/node-guard.cjs in front of build:native) broke the image build once.
    const df = readFileSync(join(root, 'Dockerfile'), 'utf8');
    const scripts = (
      JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> }
    ).scripts;
    const copied: string[] = [];
    const missing: string[] = [];
    for (const line of df.split('\n')) {
      const copy = /^COPY\s+(?!--from)(.+)\s+\S+$/.exec(line);
      if (copy) copied.push(...copy[1]!.split(/\s+/));
      const run = /^RUN npm run (\S+)/.exec(line);
      if (!run) continue;
      const command = scripts[run[1]!] ?? '';
      for (const m of command.matchAll(/\bnode\s+(\S+\.(?:c?js|ts))/g)) {
        const file = m[1]!;
        if (!copied.some((c) => file === c || file.startsWith(`${c.replace(/\/$/, '')}/`))) missing.push(file);
      }
    }
    expect(missing).toEqual([]);
  });
});

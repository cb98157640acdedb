// The gateway under test as a child process, and what the capacity benches read of it from /proc and /metrics.
// Shared by bench/capacity/run.ts (one gateway per step) and bench/capacity/ab.ts (two gateways side by side).
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../src/demo/free-port.ts';

const MAIN = fileURLToPath(new URL('../../src/main.ts', import.meta.url));
/** The wire floor (bench/capacity/floor-gateway.ts): the gateway's messages and nothing else. */
const FLOOR_MAIN = fileURLToPath(new URL('./floor-gateway.ts', import.meta.url));

/** What `--gateway` names: `floor` for the wire floor, a path for any other entry point, nothing for src/main.ts. */
export function gatewayMain(name: string | undefined): string | undefined {
  if (name === undefined || name === '') return undefined;
  return name === 'floor' ? FLOOR_MAIN : name;
}
export const AUTH_ID = 'MAEMULATOR0000000000';
export const AUTH_TOKEN = 'emulator-auth-token';

/** utime and stime of a process, in seconds (/proc/<pid>/stat fields 14 and 15, clock ticks of 1/100 s). */
export function procCpu(pid: number): { user: number; system: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { user: Number(f[11]) / 100, system: Number(f[12]) / 100 };
}

/**
 * Time the process's main thread spent runnable but waiting for a CPU (/proc/<pid>/schedstat, field 2, ns): on a
 * pinned process, time another process took from its core. The gateway's loop delay means nothing when this is high.
 */
export function runqWaitS(pid: number): number {
  try {
    return Number(readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ')[1]) / 1e9;
  } catch {
    return Number.NaN;
  }
}

/** Host CPU pressure (PSI `some avg10`, %): other tenants of a shared machine. */
export function cpuPressure(): number {
  try {
    const m = /some avg10=([\d.]+)/.exec(readFileSync('/proc/pressure/cpu', 'utf8'));
    return m ? Number(m[1]) : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

export function procRssKiB(pid: number): number {
  const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : Number.NaN;
}

/**
 * The Node flags the gateway runs with in production: the Dockerfile's CMD and `npm start` carry the same
 * (tests/deploy/manifests.test.ts checks that they agree), so the bench measures the gateway as it is deployed.
 */
export const GATEWAY_NODE_FLAGS: readonly string[] = ['--single-threaded-gc'];

/** The resolution of the histogram behind the gateway's `nodejs_eventloop_lag_*` (prom-client's default, 10 ms). */
export const GATEWAY_LOOP_RESOLUTION_MS = 10;

/**
 * Event-loop delay from a `monitorEventLoopDelay` reading: the histogram records the whole interval between its
 * timer's callbacks, so a loop that keeps up reads the resolution (measured here: p99 10.3 ms idle at resolution 10,
 * 2.2 ms at 2). prom-client exports it raw; subtracting it was asked in prometheus/client_js#370 and is not done in
 * 15.1.3. The gateway's own `gateway_event_loop_lag_seconds` subtracts it (src/server/overload.ts), and so does this.
 */
export function loopDelayMs(histogramMs: number, resolutionMs: number): number {
  return Math.max(0, histogramMs - resolutionMs);
}

/** Event-loop delay percentiles from the gateway's /metrics (prom-client resets them at every scrape). */
export async function scrape(base: string): Promise<Record<string, number>> {
  const text = await (await fetch(`${base}/metrics`, { signal: AbortSignal.timeout(10_000) })).text();
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const m =
      /^(nodejs_eventloop_lag_(?:p99|max|mean)_seconds|gateway_agent_frames_dropped_total|nodejs_heap_size_used_bytes|nodejs_external_memory_bytes)\S* (\S+)$/.exec(
        line,
      );
    if (m) out[m[1]!] = Number(m[2]);
  }
  return out;
}

export interface GatewayProc {
  proc: ChildProcess;
  base: string;
  exited: Promise<number | null>;
}

export async function startGateway(o: {
  core: string;
  geminiPort: number;
  /** The generator serves Gemini over plain ws:// (bench/capacity/run.ts --gemini-plain). */
  geminiPlain?: boolean;
  restPort: number;
  caPath: string;
  /** Where the gateway's output goes: a file descriptor, or 'ignore'. */
  logFd: number | 'ignore';
  /** Settings for this gateway only (bench/capacity/ab.ts), over the BENCH_GW_ ones. */
  env?: Record<string, string>;
  /** Another checkout's src/main.ts (bench/capacity/ab.ts compares code as well as settings). Default: this tree. */
  main?: string;
  /** Node flags for this gateway only (bench/capacity/ab.ts), after the production and BENCH_GATEWAY_NODE_FLAGS ones. */
  nodeFlags?: string[];
}): Promise<GatewayProc> {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    SERVER_HOST: '127.0.0.1',
    SERVER_PORT: String(port),
    PUBLIC_URL: base,
    PLIVO_AUTH_ID: AUTH_ID,
    PLIVO_AUTH_TOKEN: AUTH_TOKEN,
    PLIVO_PHONE_NUMBER: '+14155550100',
    PLIVO_API_BASE_URL: `http://127.0.0.1:${o.restPort}`,
    GEMINI_API_KEY: 'emulator-api-key',
    // The SDK's own variable, as an operator points @google/genai elsewhere; https, so the SDK speaks wss://.
    GOOGLE_GEMINI_BASE_URL: `${o.geminiPlain === true ? 'http' : 'https'}://127.0.0.1:${o.geminiPort}`,
    NODE_EXTRA_CA_CERTS: o.caPath,
    ENV_FILE: '/dev/null',
    LOG_LEVEL: process.env.BENCH_GATEWAY_LOG_LEVEL ?? 'warn',
    MAX_CALLS: '100000',
    // The knee is where a gate fails, not where load shedding would start refusing calls.
    OVERLOAD_LOOP_DELAY_MS: '0',
    DRAIN_TIMEOUT_S: '1',
    // Profiling the gateway alone, e.g. BENCH_GATEWAY_NODE_OPTIONS='--cpu-prof --cpu-prof-dir=/tmp/prof'.
    ...(process.env.BENCH_GATEWAY_NODE_OPTIONS ? { NODE_OPTIONS: process.env.BENCH_GATEWAY_NODE_OPTIONS } : {}),
    // Any other gateway setting under test, e.g. BENCH_GW_GEMINI_UPLINK_CHUNK_MS=100 sets GEMINI_UPLINK_CHUNK_MS.
    ...Object.fromEntries(
      Object.entries(process.env)
        .filter(([k]) => k.startsWith('BENCH_GW_'))
        .map(([k, v]) => [k.slice('BENCH_GW_'.length), v]),
    ),
    ...o.env,
  };
  // The gateway runs as the image runs it (GATEWAY_NODE_FLAGS), then any Node/V8 flags under test that NODE_OPTIONS
  // refuses (e.g. --trace-gc; --no-single-threaded-gc undoes the production one), before the entry point.
  const flags = [
    ...GATEWAY_NODE_FLAGS,
    ...(process.env.BENCH_GATEWAY_NODE_FLAGS ?? '').split(' ').filter((f) => f !== ''),
    ...(o.nodeFlags ?? []),
  ];
  const proc = spawn('taskset', ['-c', o.core, process.execPath, ...flags, o.main ?? MAIN], {
    env,
    stdio: ['ignore', o.logFd, o.logFd],
  });
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`gateway exited (${proc.exitCode}) at start: see the log`);
    try {
      const res = await fetch(`${base}/readyz`, { signal: AbortSignal.timeout(1000) });
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error('gateway did not become ready within 30 s');
    }
    await sleep(100);
  }
  return { proc, base, exited };
}

export async function stopGateway(g: GatewayProc): Promise<void> {
  if (g.proc.exitCode !== null) return;
  g.proc.kill('SIGTERM');
  const t = setTimeout(() => g.proc.kill('SIGKILL'), 8000);
  await g.exited;
  clearTimeout(t);
}

/** Pins every thread of this process (the load generator) to `core`; warns and goes on if taskset fails. */
export function pinThisProcess(core: string): void {
  try {
    execFileSync('taskset', ['-a', '-pc', core, String(process.pid)], { stdio: 'ignore' });
  } catch {
    console.warn(`taskset failed: generator not pinned to core ${core}`);
  }
}

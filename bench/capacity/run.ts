// `npm run bench:capacity [-- --smoke] [-- --steps 100,200,400] [-- --duration 20]`: calls per core to the knee.
// The gateway (src/main.ts, configured by environment as an operator runs it) is pinned to one core, this process —
// the load generator, both of the gateway's peers (bench/capacity/generator.ts) — to the other. For each step of
// concurrent calls: place them, let them talk for the measured window, check the gates, hang up, restart the
// gateway. Stops at the first step that fails a gate. Writes bench/results/capacity-<stamp>.json and .svg and
// prints a narrow table. Gemini Live is served over TLS with a CA made here and trusted by the gateway through
// NODE_EXTRA_CA_CERTS, as an operator behind a TLS-intercepting proxy would.
import { closeSync, openSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { makeCerts } from '../../src/demo/tls-certs.ts';
import { machineInfo, machineMarkdown, rowsMarkdown } from '../report.ts';
import { round } from '../stats.ts';
import type { BenchRow } from '../types.ts';
import {
  AUTH_ID,
  AUTH_TOKEN,
  cpuPressure,
  GATEWAY_LOOP_RESOLUTION_MS,
  gatewayMain,
  loopDelayMs,
  pinThisProcess,
  procCpu,
  procRssKiB,
  runqWaitS,
  scrape,
  startGateway,
  stopGateway,
} from './gateway-proc.ts';
import { GENERATOR_LOOP_P99_MS, GENERATOR_LOOP_RESOLUTION_MS, Generator, type StepMeasures } from './generator.ts';
import { capacitySvg } from './svg.ts';

const RESULTS = fileURLToPath(new URL('../results/', import.meta.url));

/** The gates of issue 9: a step that fails one is past the knee. */
export const GATES = {
  gapP90Ms: 5,
  deliveredMin: 0.999,
  latencyP99Ms: 20,
  loopP99Ms: 20,
};
/** The generator is behind when its own loop p99 exceeds GENERATOR_LOOP_P99_MS or it sent > 0.1 % of frames late. */
const GENERATOR_LATE_FRACTION = 0.001;
/** A step whose gateway or generator waited longer than this share of the window for its core measured the host. */
const HOST_WAIT_PCT = 10;

const USAGE = `usage: node bench/capacity/run.ts [--smoke] [--steps 100,200,400,…] [--duration s] [--ramp-cps n]
  [--gateway-core 0] [--generator-core 1] [--all-steps] [--allow-invalid] [--repeat 1]
  [--gateway floor|<file>] [--gemini-plain]
  --smoke          one 20-call step of 6 s (CI)
  --steps          concurrent calls per step (default 100,200,400,700,1000,1400,2000)
  --duration       measured seconds per step (default 20)
  --ramp-cps       cap on the call-placing rate (default 100/s; calls are placed one at a time anyway)
  --all-steps      keep stepping after a gate fails
  --repeat         runs per step (default 1): a step passes when most of its valid runs pass, fails when half or
                   more of them fail a gate (runs on a shared VM vary; one run is one sample)
  --allow-invalid  exit 0 even when the generator fell behind
  --gateway        what runs as the gateway: "floor" for the wire floor (bench/capacity/floor-gateway.ts: the
                   same messages, none of the work), or another entry point; default src/main.ts
  --gemini-plain   the Gemini leg over plain ws:// instead of TLS, to measure what TLS costs (the real service is
                   TLS-only: figures from such a run are not capacity)`;

interface StepResult {
  row: BenchRow;
  gatesFailed: string[];
}

/** The gateway's uplink chunk (its default, or BENCH_GW_GEMINI_UPLINK_CHUNK_MS). */
const uplinkChunkMs = Number(process.env.BENCH_GW_GEMINI_UPLINK_CHUNK_MS ?? 40);
/** The gateway's quiet uplink chunk (its default, or BENCH_GW_GEMINI_UPLINK_SILENCE_CHUNK_MS). */
const uplinkSilenceChunkMs = Number(process.env.BENCH_GW_GEMINI_UPLINK_SILENCE_CHUNK_MS ?? 200);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One row per step for the plot: with --repeat, the run of median CPU per call-second. */
function medianRuns(rows: readonly BenchRow[]): BenchRow[] {
  const byCalls = new Map<number, BenchRow[]>();
  for (const r of rows) {
    const k = r.calls ?? 0;
    const list = byCalls.get(k);
    if (list === undefined) byCalls.set(k, [r]);
    else list.push(r);
  }
  return [...byCalls.values()].map((runs) => {
    const sorted = runs.slice().sort((a, b) => Number(a.extra?.gwCpuUsPerCallS) - Number(b.extra?.gwCpuUsPerCallS));
    return sorted[(sorted.length - 1) >> 1]!;
  });
}

function pct(s: { p50: number; p99: number; max: number; count: number }) {
  return { p50: round(s.p50), p99: round(s.p99), max: round(s.max), n: s.count };
}

async function runStep(
  gen: Generator,
  calls: number,
  o: {
    duration: number;
    rampCps: number;
    core: string;
    caPath: string;
    logFd: number;
    main: string | undefined;
    geminiPlain: boolean;
  },
): Promise<StepResult> {
  gen.reset(calls, o.duration + 10);
  const gw = await startGateway({
    core: o.core,
    geminiPort: gen.geminiPort,
    restPort: gen.restPort,
    caPath: o.caPath,
    logFd: o.logFd,
    ...(o.main !== undefined ? { main: o.main } : {}),
    geminiPlain: o.geminiPlain,
  });
  const pid = gw.proc.pid!;
  try {
    await sleep(500);
    const rss0 = procRssKiB(pid);
    // Ramp: one call at a time (answer → stream → its Gemini session), at most rampCps per second.
    const rampStart = performance.now();
    let failed = 0;
    for (let i = 0; i < calls; i++) {
      const due = rampStart + (i * 1000) / o.rampCps;
      const wait = due - performance.now();
      if (wait > 0) await sleep(wait);
      if (!(await gen.placeCall(gw.base))) failed++;
    }
    const rampS = (performance.now() - rampStart) / 1000;
    await sleep(3000);
    // Measured window.
    await scrape(gw.base);
    gen.loop.reset();
    const cpu0 = procCpu(pid);
    const gcpu0 = process.cpuUsage();
    const gwWait0 = runqWaitS(pid);
    const genWait0 = runqWaitS(process.pid);
    const t0 = performance.now();
    gen.measuring = true;
    await sleep(o.duration * 1000);
    gen.measuring = false;
    const seconds = (performance.now() - t0) / 1000;
    const cpu1 = procCpu(pid);
    const gcpu = process.cpuUsage(gcpu0);
    const gwWaitPct = ((runqWaitS(pid) - gwWait0) / seconds) * 100;
    const genWaitPct = ((runqWaitS(process.pid) - genWait0) / seconds) * 100;
    const pressure = cpuPressure();
    const rss1 = procRssKiB(pid);
    const metrics = await scrape(gw.base);
    const genLoopP99 = loopDelayMs(gen.loop.percentile(99) / 1e6, GENERATOR_LOOP_RESOLUTION_MS);
    const genLoopMax = loopDelayMs(gen.loop.max / 1e6, GENERATOR_LOOP_RESOLUTION_MS);
    await gen.quiesce(600);
    const m = gen.m;
    await gen.hangupAll();
    return judge(calls, m, {
      failed,
      rampS,
      seconds,
      gwUser: cpu1.user - cpu0.user,
      gwSystem: cpu1.system - cpu0.system,
      rssPerCallKiB: (rss1 - rss0) / Math.max(1, calls - failed),
      rssKiB: rss1,
      loopP99Ms: loopDelayMs(
        (metrics.nodejs_eventloop_lag_p99_seconds ?? Number.NaN) * 1000,
        GATEWAY_LOOP_RESOLUTION_MS,
      ),
      loopMaxMs: loopDelayMs(
        (metrics.nodejs_eventloop_lag_max_seconds ?? Number.NaN) * 1000,
        GATEWAY_LOOP_RESOLUTION_MS,
      ),
      agentFramesDropped: metrics.gateway_agent_frames_dropped_total ?? 0,
      genCpuPct: ((gcpu.user + gcpu.system) / 1e6 / seconds) * 100,
      genSysPct: (gcpu.system / 1e6 / seconds) * 100,
      genLoopP99,
      genLoopMax,
      gwWaitPct,
      genWaitPct,
      pressure,
    });
  } finally {
    await stopGateway(gw);
  }
}

function judge(
  calls: number,
  m: StepMeasures,
  x: {
    failed: number;
    rampS: number;
    seconds: number;
    gwUser: number;
    gwSystem: number;
    rssPerCallKiB: number;
    rssKiB: number;
    loopP99Ms: number;
    loopMaxMs: number;
    agentFramesDropped: number;
    genCpuPct: number;
    genSysPct: number;
    genLoopP99: number;
    genLoopMax: number;
    gwWaitPct: number;
    genWaitPct: number;
    pressure: number;
  },
): StepResult {
  const callSeconds = (calls - x.failed) * x.seconds;
  const up = m.upLatencyMs.summary();
  const dlFirst = m.dlFirstMs.summary();
  const dlLate = m.dlLateMs.summary();
  const gap = m.gapMs.summary();
  const gapP90 = quantile(m.gaps, 0.9);
  const clear = m.clearMs.summary();
  const tool = m.toolMs.summary();
  const upRatio = m.upExpected === 0 ? Number.NaN : m.upDelivered / m.upExpected;
  const dlRatio = m.dlExpected === 0 ? Number.NaN : m.dlDelivered / m.dlExpected;
  const gates: string[] = [];
  if (x.failed > 0) gates.push(`${x.failed} failed call setups`);
  if (!(gapP90 <= GATES.gapP90Ms)) gates.push(`silence gap p90 ${round(gapP90)} ms > ${GATES.gapP90Ms}`);
  if (!(upRatio >= GATES.deliveredMin)) gates.push(`uplink delivered ${(upRatio * 100).toFixed(3)} %`);
  if (!(dlRatio >= GATES.deliveredMin)) gates.push(`downlink delivered ${(dlRatio * 100).toFixed(3)} %`);
  if (!(up.p99 <= GATES.latencyP99Ms)) gates.push(`uplink latency p99 ${round(up.p99)} ms`);
  if (!(dlFirst.p99 <= GATES.latencyP99Ms)) gates.push(`downlink first-frame latency p99 ${round(dlFirst.p99)} ms`);
  if (!(dlLate.p99 <= GATES.latencyP99Ms)) gates.push(`downlink frame lateness p99 ${round(dlLate.p99)} ms`);
  if (!(x.loopP99Ms <= GATES.loopP99Ms)) gates.push(`gateway loop p99 ${round(x.loopP99Ms)} ms`);
  const lateFraction = m.framesDue === 0 ? 0 : m.framesLate / m.framesDue;
  const invalid = [
    x.genLoopP99 > GENERATOR_LOOP_P99_MS ? `generator loop p99 ${round(x.genLoopP99)} ms` : '',
    lateFraction > GENERATOR_LATE_FRACTION ? `generator sent ${(lateFraction * 100).toFixed(2)} % of frames late` : '',
    m.unknownSessions > 0 ? `${m.unknownSessions} Gemini sessions the generator could not place` : '',
    // Pinned processes that wait for their own core: another tenant of the machine ran there.
    x.gwWaitPct > HOST_WAIT_PCT ? `gateway waited ${round(x.gwWaitPct)} % of the window for its core (host busy)` : '',
    x.genWaitPct > HOST_WAIT_PCT
      ? `generator waited ${round(x.genWaitPct)} % of the window for its core (host busy)`
      : '',
  ].filter(Boolean);
  const row: BenchRow = {
    suite: 'capacity',
    name: `${calls} calls`,
    calls,
    extra: {
      gwCpuUsPerCallS: round(((x.gwUser + x.gwSystem) * 1e6) / callSeconds),
      gwUserUsPerCallS: round((x.gwUser * 1e6) / callSeconds),
      gwSysUsPerCallS: round((x.gwSystem * 1e6) / callSeconds),
      gwCpuPct: round(((x.gwUser + x.gwSystem) / x.seconds) * 100),
      rssPerCallKiB: round(x.rssPerCallKiB),
      rssMiB: round(x.rssKiB / 1024),
      upP50Ms: round(up.p50),
      upP99Ms: round(up.p99),
      dlFirstP99Ms: round(dlFirst.p99),
      dlLateP99Ms: round(dlLate.p99),
      gapP90Ms: round(gapP90),
      gapMaxMs: round(gap.max),
      gwLoopP99Ms: round(x.loopP99Ms),
      gwLoopMaxMs: round(x.loopMaxMs),
      upMsgsPerCallS: round(m.upMessages / callSeconds),
      upDeliveredPct: round(upRatio * 100),
      dlDeliveredPct: round(dlRatio * 100),
      clearP99Ms: round(clear.p99),
      toolP99Ms: round(tool.p99),
      failedSetups: x.failed,
      genCpuPct: round(x.genCpuPct),
      genSysPct: round(x.genSysPct),
      genCpuUsPerCallS: round(((x.genCpuPct / 100) * x.seconds * 1e6) / callSeconds),
      genLoopP99Ms: round(x.genLoopP99),
      genLoopMaxMs: round(x.genLoopMax),
      genLateFrames: m.framesLate,
      gwRunqWaitPct: round(x.gwWaitPct),
      genRunqWaitPct: round(x.genWaitPct),
      hostCpuPressurePct: round(x.pressure),
      rampS: round(x.rampS),
      measuredS: round(x.seconds),
      turns: m.turns,
      interruptions: m.interruptions,
      toolCalls: m.toolCalls,
      openingTurns: m.openingTurns,
      geminiSessions: m.geminiSessions,
      geminiResumes: m.geminiResumes,
      agentFramesDropped: x.agentFramesDropped,
      gates: gates.length === 0 ? 'pass' : gates.join('; '),
      errors: m.errors.slice(0, 5).join(' | '),
      latency: JSON.stringify({
        upMs: pct(up),
        dlFirstMs: pct(dlFirst),
        dlLateMs: pct(dlLate),
        gapMs: pct(gap),
        clearMs: pct(clear),
        toolMs: pct(tool),
      }),
    },
    invalid: invalid.length > 0 ? invalid.join('; ') : undefined,
  };
  return { row, gatesFailed: gates };
}

function quantile(values: number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = values.slice().sort((x, y) => x - y);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

const COLUMNS = [
  'gwCpuUsPerCallS',
  'gwSysUsPerCallS',
  'upMsgsPerCallS',
  'rssPerCallKiB',
  'upP99Ms',
  'dlFirstP99Ms',
  'dlLateP99Ms',
  'gapP90Ms',
  'gwLoopP99Ms',
  'genCpuPct',
  'gwRunqWaitPct',
  'gates',
];

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      smoke: { type: 'boolean', default: false },
      steps: { type: 'string' },
      duration: { type: 'string' },
      'ramp-cps': { type: 'string' },
      'gateway-core': { type: 'string', default: '0' },
      'generator-core': { type: 'string', default: '1' },
      'all-steps': { type: 'boolean', default: false },
      'allow-invalid': { type: 'boolean', default: false },
      gateway: { type: 'string' },
      'gemini-plain': { type: 'boolean', default: false },
      repeat: { type: 'string', default: '1' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const smoke = values.smoke || ['1', 'true', 'yes'].includes(process.env.BENCH_SMOKE ?? '');
  const steps = (values.steps ?? (smoke ? '20' : '100,200,400,700,1000,1400,2000')).split(',').map(Number);
  if (steps.some((n) => !Number.isInteger(n) || n < 1)) {
    console.error(`--steps must be positive integers\n${USAGE}`);
    return 2;
  }
  const duration = Number(values.duration ?? (smoke ? 6 : 20));
  const rampCps = Number(values['ramp-cps'] ?? 100);
  const repeat = Number(values.repeat);
  if (!Number.isInteger(repeat) || repeat < 1) {
    console.error(`--repeat must be a positive integer\n${USAGE}`);
    return 2;
  }
  const gatewayCore = values['gateway-core'];
  const generatorCore = values['generator-core'];
  await mkdir(RESULTS, { recursive: true });
  const startedAt = new Date().toISOString();
  const stamp = startedAt.replace(/:/g, '-');
  const logPath = `${RESULTS}capacity-${stamp}.log`;
  const logFd = openSync(logPath, 'a');
  const certs = await makeCerts();
  // Before pinning: availableParallelism() reports the cores this process may use.
  const machine = await machineInfo();
  // This process is the generator: all its threads on their own core.
  pinThisProcess(generatorCore);

  const main = gatewayMain(values.gateway);
  console.log(
    `# Capacity${smoke ? ' (smoke)' : ''}: steps ${steps.join(', ')} calls, ${duration} s measured each` +
      (main !== undefined ? ` (gateway: ${values.gateway})` : ''),
  );
  console.log(machineMarkdown(machine));
  console.log(
    `- gateway on core ${gatewayCore}, generator on core ${generatorCore}; Gemini leg ${values['gemini-plain'] ? 'over plain ws:// (NOT capacity: the real service is TLS-only)' : 'over TLS'}; load ${os.loadavg()[0]?.toFixed(2)}\n`,
  );

  const gen = new Generator({
    tls: values['gemini-plain'] ? undefined : { key: certs.key, cert: certs.cert },
    authId: AUTH_ID,
    authToken: AUTH_TOKEN,
    conversation: { interruptP: 0.2, toolP: 0.15 },
    uplinkChunkMs,
    uplinkSilenceChunkMs,
  });
  await gen.start();
  const rows: BenchRow[] = [];
  const steppedVerdicts: {
    calls: number;
    runs: number;
    passed: number;
    failedGates: number;
    invalid: number;
    verdict: string;
  }[] = [];
  let knee: number | undefined;
  let generatorLimit: number | undefined;
  let failedAt: number | undefined;
  try {
    for (const calls of steps) {
      // Each run of a step: a fresh gateway. A step passes when most of its runs passed every gate with a valid
      // generator, and fails when at least half of them failed a gate: on a shared VM one run is one sample.
      let passed = 0;
      let failed = 0;
      let invalid = 0;
      for (let run = 1; run <= repeat; run++) {
        const loadBefore = os.loadavg()[0]!;
        const r = await runStep(gen, calls, {
          duration,
          rampCps,
          core: gatewayCore,
          caPath: certs.caPath,
          logFd,
          main,
          geminiPlain: values['gemini-plain'],
        });
        r.row.extra!.load1m = round(loadBefore);
        if (repeat > 1) r.row.name = `${calls} calls #${run}`;
        rows.push(r.row);
        const e = r.row.extra!;
        console.log(
          `- ${r.row.name}: gateway ${e.gwCpuUsPerCallS} µs/call·s (sys ${e.gwSysUsPerCallS}), loop p99 ${e.gwLoopP99Ms} ms, ` +
            `up p99 ${e.upP99Ms} ms, gap p90 ${e.gapP90Ms} ms: ${e.gates}${r.row.invalid ? ` [INVALID: ${r.row.invalid}]` : ''}`,
        );
        if (r.row.invalid !== undefined) invalid++;
        else if (r.gatesFailed.length === 0) passed++;
        else failed++;
      }
      // Only valid runs count: a run whose generator fell behind measured the generator. A step with none cannot be
      // judged, and a larger one will not go better for the generator.
      const valid = repeat - invalid;
      const verdict =
        valid === 0 ? 'invalid' : passed * 2 > valid ? 'pass' : failed * 2 >= valid ? 'fail' : 'undecided';
      if (repeat > 1)
        console.log(
          `  ${calls} calls: ${passed} of ${valid} valid runs passed, ${failed} failed a gate${invalid > 0 ? `, ${invalid} invalid` : ''}: ${verdict}`,
        );
      steppedVerdicts.push({ calls, runs: repeat, passed, failedGates: failed, invalid, verdict });
      if (verdict === 'pass') knee = calls;
      if (verdict === 'fail' && failedAt === undefined) failedAt = calls;
      if (verdict === 'invalid' && generatorLimit === undefined) generatorLimit = calls;
      if ((failedAt !== undefined || generatorLimit !== undefined) && !values['all-steps']) break;
    }
  } finally {
    await gen.close();
    certs.cleanup();
    closeSync(logFd);
  }

  console.log(`\n${rowsMarkdown(rows, COLUMNS)}\n`);
  for (const r of rows) if (r.invalid !== undefined) console.log(`- **invalid:** ${r.name}: ${r.invalid}`);
  const kneeText =
    knee === undefined
      ? 'no step passed every gate'
      : `knee: ${knee} calls passed every gate${repeat > 1 ? ` in most of ${repeat} runs` : ''}${failedAt !== undefined ? `, ${failedAt} did not` : ' (no step failed: raise --steps)'}`;
  console.log(kneeText);
  if (generatorLimit !== undefined)
    console.log(`the generator could not drive ${generatorLimit} calls on its core: no valid run there`);
  const result = {
    startedAt,
    smoke,
    machine,
    gates: GATES,
    config: {
      steps,
      repeat,
      duration,
      rampCps,
      gatewayCore,
      generatorCore,
      gateway: values.gateway ?? 'src/main.ts',
      geminiLeg: values['gemini-plain'] ? 'ws:// (plain: not capacity)' : 'wss:// (TLS)',
      uplinkChunkMs,
      uplinkSilenceChunkMs,
      downlinkChunkMs: 40,
    },
    note:
      `Uplink latency is from the last 20 ms frame of a ${uplinkChunkMs} ms uplink chunk leaving the generator to the ` +
      `chunk arriving: the chunk size itself (GEMINI_UPLINK_CHUNK_MS=${uplinkChunkMs}) adds another ` +
      `${uplinkChunkMs / 2 - 10} ms on average that is not counted here. While the caller is quiet (after a 1 s ` +
      `hangover) the gateway sends ${uplinkSilenceChunkMs} ms chunks (GEMINI_UPLINK_SILENCE_CHUNK_MS); the first loud ` +
      `frame flushes them, so speech is not delayed by it.`,
    knee: knee ?? null,
    failedAt: failedAt ?? null,
    generatorLimit: generatorLimit ?? null,
    steps: steppedVerdicts,
    rows,
  };
  // A floor run or a plain-ws run is not the gateway's capacity: its own files, and capacity-latest.svg untouched.
  const kind = main === undefined && !values['gemini-plain'] ? 'capacity' : 'capacity-probe';
  const jsonPath = `${RESULTS}${kind}-${stamp}.json`;
  const svgPath = `${RESULTS}${kind}-${stamp}.svg`;
  await writeFile(jsonPath, `${JSON.stringify(result, null, 2)}\n`);
  const title = main === undefined ? 'Gateway capacity' : `Capacity of ${values.gateway}`;
  const svg = capacitySvg(medianRuns(rows), { title: `${title} ${startedAt.slice(0, 16)}Z`, gates: GATES });
  await writeFile(svgPath, svg);
  if (kind === 'capacity') await writeFile(`${RESULTS}capacity-latest.svg`, svg);
  console.log(`results: ${jsonPath}\nplot: ${svgPath}\nlogs: ${logPath}`);
  if (rows.some((r) => r.invalid !== undefined)) {
    console.log('\nINVALID RUN: the generator fell behind; its figures describe the harness, not the gateway.');
    if (!values['allow-invalid']) return 1;
  }
  return 0;
}

process.exit(await main());

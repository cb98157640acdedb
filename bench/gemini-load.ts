// Load through the whole stack: N emulated calls, Plivo emulator → gateway (uWS edge + CallManager + real
// @google/genai sessions) → Gemini Live emulator and back. The gateway runs in a child process (this file with
// --gateway-child) so each side gets one of the two cores and its timings are not mixed with the emulators'.
// Each call: greeting; the caller asks something; the agent's long answer is cut off by the caller (barge-in); the
// agent answers again; the caller hangs up. Measured, per call count:
// - interrupted → clearAudio: from the gateway receiving Gemini's `interrupted` to the Plivo emulator receiving
//   `clearAudio` (end to end, across processes on one clock), and the gateway's own part (event → clearAudio
//   handed to uWS);
// - Gemini audio → first playAudio: from the gateway receiving the first audio chunk of an agent turn to the Plivo
//   emulator receiving the turn's first `playAudio` frame, and the gateway's own part (chunk → that frame handed to
//   uWS).
// Ramp-phase event-loop delays and per-call stream setup times are reported too: the ramp is where it breaks first.
// Run: node bench/run.ts --only gemini-load   (smoke: --smoke, 20 calls)
import { fork } from 'node:child_process';
import { subscribe } from 'node:diagnostics_channel';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import type { SimulatedCall } from '../src/emulators/plivo/types.ts';
import type { PlayAudioProbe } from '../src/probes/channels.ts';
import { childStdio } from './report.ts';
import type { BenchRow, BenchSuite } from './types.ts';

const SELF = fileURLToPath(import.meta.url);
const epoch = () => performance.timeOrigin + performance.now();

interface Summary {
  count: number;
  p50: number;
  p99: number;
  p999: number;
  max: number;
}

interface Arrivals {
  turnStarts: number[];
  interrupts: number[];
}

interface LoopSummary {
  p99: number;
  max: number;
}

type ChildMsg =
  | { type: 'ready'; port: number; backend: string }
  | {
      type: 'report';
      arrivals: Record<string, Arrivals>;
      clearProcUs: Summary;
      firstPlayProcUs: Summary;
      loop: Summary;
      rampLoop: LoopSummary;
      pacerMaxTickGapMs: number;
      cpuPct: number;
      seconds: number;
      endedCalls: number;
      fatal: number;
      endReasons: Record<string, number>;
    };

const LONG_ANSWER =
  'Of course. Let me walk you through everything about your order, the delivery options we have, the tracking ' +
  'updates you will receive by text and email, and what to do if the parcel arrives damaged or late.';

function scenario() {
  return {
    name: 'bench-barge-in',
    speech: 'synthetic' as const,
    voice: 'en-us',
    responseDelayMs: 150,
    turns: [
      // Played when the gateway sends its opening turn: the emulator, like the real models, never speaks first.
      { id: 'greeting', trigger: 'opening' as const, text: 'Hello, Acme Shop, how can I help?' },
      { id: 'long', trigger: 'caller-speech' as const, callerText: 'Tell me about my order.', text: LONG_ANSWER },
      { id: 'short', trigger: 'caller-speech' as const, callerText: 'Stop, just the date.', text: 'Sure, Thursday.' },
    ],
  };
}

// ---- gateway side (child process) -------------------------------------------------------------------------------

async function gatewayChild(): Promise<void> {
  const geminiUrl = process.env.BENCH_GEMINI_URL!;
  const plivoUrl = process.env.BENCH_PLIVO_URL!;
  const [
    { loadConfig },
    { emulatorEnv },
    { createAudioEngine },
    { composeGateway },
    { createLiveSession },
    { createMemoryCallStore },
    { createPlivoRestClient },
    { probes },
    { Samples },
    log,
    pino,
  ] = await Promise.all([
    import('../src/config.ts'),
    import('../src/demo/emulator-env.ts'),
    import('../src/audio/engine.ts'),
    import('../src/app.ts'),
    import('../src/gemini/live-session.ts'),
    import('../src/store/memory.ts'),
    import('../src/plivo/rest-client.ts'),
    import('../src/probes/channels.ts'),
    import('./stats.ts'),
    import('../src/log.ts'),
    import('pino'),
  ]);
  log.setRootLogger(pino.default({ level: 'silent' }));
  const config = loadConfig(
    emulatorEnv({
      SERVER_HOST: '127.0.0.1',
      SERVER_PORT: '0',
      MAX_CALLS: '100000',
      // The bench measures past overload; shedding (OVERLOAD_LOOP_DELAY_MS) would refuse those calls instead.
      OVERLOAD_LOOP_DELAY_MS: process.env.BENCH_OVERLOAD_LOOP_DELAY_MS ?? '0',
      LOG_LEVEL: 'silent',
      PLIVO_API_BASE_URL: plivoUrl,
      DRAIN_TIMEOUT_S: '0',
    }),
  );
  const { engine } = await createAudioEngine({ backend: 'auto', execution: 'inline', poolThreads: 1 });
  const plivoApi = createPlivoRestClient({
    authId: config.plivo.authId,
    authToken: config.plivo.authToken,
    baseUrl: plivoUrl,
    timeoutMs: 5000,
    maxRetries: 1,
  });
  const arrivals = new Map<string, Arrivals>();
  const clearProc = new Samples(1_000_000);
  const firstPlayProc = new Samples(1_000_000);
  // Gateway-side time to first audio: the turn's first Gemini chunk reaching the session callback (inside the
  // socket's message handler, after JSON parse and base64 decode) → the turn's first playAudio frame handed to uWS.
  // Keyed by call: set at a turn's first chunk, taken by the first frame the call's stream sends after it.
  const turnStartedAt = new Map<string, number>();
  let endedCalls = 0;
  const endReasons: Record<string, number> = {};
  let fatal = 0;
  // The production composition (src/app.ts), with the bench's observers and the emulator's Gemini URL.
  const { gateway, calls } = await composeGateway({
    config,
    audio: engine,
    plivoApi,
    store: createMemoryCallStore(),
    manager: {
      warmSessionTtlMs: 120_000,
      latency: { interruptToClear: (_id, ms) => clearProc.record(ms * 1000) },
      onCallEnded: (call) => {
        endedCalls++;
        const r = call.endReason ?? 'unknown';
        endReasons[r] = (endReasons[r] ?? 0) + 1;
      },
      onEvent: (_id, e) => {
        if (e.type === 'fatal') fatal++;
      },
    },
    // Timestamps where the gateway first sees each event: the session callbacks, before the call handles them.
    createSession: (cfg, opts) => {
      const rec: Arrivals = { turnStarts: [], interrupts: [] };
      arrivals.set(opts.callId, rec);
      const ev = opts.events;
      let inTurn = false;
      const events = {
        ...ev,
        onAudio(pcm: Int16Array) {
          if (!inTurn) {
            inTurn = true;
            const now = epoch();
            rec.turnStarts.push(now);
            turnStartedAt.set(opts.callId, now);
          }
          ev.onAudio(pcm);
        },
        onInterrupted() {
          rec.interrupts.push(epoch());
          inTurn = false;
          turnStartedAt.delete(opts.callId);
          ev.onInterrupted();
        },
        onTurnComplete() {
          inTurn = false;
          ev.onTurnComplete();
        },
      };
      return createLiveSession(cfg, { ...opts, events }, { baseUrl: geminiUrl });
    },
    gateway: { publicUrl: (port) => `http://127.0.0.1:${port}`, defaultMetrics: false },
  });
  const manager = calls.manager;
  // The turn's first playAudio frame handed to uWS, seen on the edge's probe channel (src/probes/channels.ts).
  subscribe(probes.playAudio.name, (m) => {
    const callId = (m as PlayAudioProbe).stream.callId;
    const t = turnStartedAt.get(callId);
    if (t !== undefined) {
      turnStartedAt.delete(callId);
      firstPlayProc.record((epoch() - t) * 1000);
    }
  });
  // Enabled from the start: the ramp (answers, upgrades, Gemini connects) is where handshakes time out, so its
  // delays are reported on their own rather than reset away.
  const loop = monitorEventLoopDelay({ resolution: 1 });
  loop.enable();
  let rampLoop: LoopSummary = { p99: Number.NaN, max: Number.NaN };
  let t0 = performance.now();
  let cpu0 = process.cpuUsage();
  const send = (m: ChildMsg) => process.send!(m);
  process.on('message', (m: { type: string }) => {
    if (m.type === 'measure') {
      rampLoop = { p99: loop.percentile(99) / 1e6, max: loop.max / 1e6 };
      clearProc.reset();
      firstPlayProc.reset();
      gateway.pacer.maxTickGapMs = 0;
      loop.reset();
      t0 = performance.now();
      cpu0 = process.cpuUsage();
    } else if (m.type === 'report') {
      loop.disable();
      const seconds = (performance.now() - t0) / 1000;
      const cpu = process.cpuUsage(cpu0);
      const ms = (p: number) => loop.percentile(p) / 1e6;
      send({
        type: 'report',
        arrivals: Object.fromEntries(arrivals),
        clearProcUs: clearProc.summary(),
        firstPlayProcUs: firstPlayProc.summary(),
        rampLoop,
        // The pacer's own timer: paced playAudio only flows when JS timers run, whatever the loop monitor says.
        pacerMaxTickGapMs: gateway.pacer.maxTickGapMs,
        loop: { count: loop.count, p50: ms(50), p99: ms(99), p999: ms(99.9), max: loop.max / 1e6 },
        cpuPct: ((cpu.user + cpu.system) / 1000 / (seconds * 1000)) * 100,
        seconds,
        endedCalls,
        fatal,
        endReasons,
      });
    } else if (m.type === 'stop') {
      void manager
        .close()
        .then(() => gateway.close())
        .then(() => calls.close())
        .then(() => process.exit(0));
    }
  });
  send({ type: 'ready', port: gateway.port, backend: engine.backend });
}

// ---- Gemini Live emulator (second child process) -----------------------------------------------------------------

async function geminiChild(): Promise<void> {
  const { startGeminiLiveEmulator } = await import('../src/emulators/gemini-live/index.ts');
  const log = await import('../src/log.ts');
  const pino = await import('pino');
  log.setRootLogger(pino.default({ level: 'silent' }));
  // BENCH_GEMINI_CHUNK_MS: audio per emulated Gemini message (default 40 ms, like the service's usual chunks).
  const chunkMs = Number(process.env.BENCH_GEMINI_CHUNK_MS ?? 40);
  const gemini = await startGeminiLiveEmulator({
    port: 0,
    scenario: scenario(),
    speech: 'synthetic',
    timing: { chunkMs },
  });
  const loop = monitorEventLoopDelay({ resolution: 1 });
  loop.enable();
  let rampLoop: LoopSummary = { p99: Number.NaN, max: Number.NaN };
  let t0 = performance.now();
  let cpu0 = process.cpuUsage();
  process.on('message', (m: { type: string }) => {
    if (m.type === 'measure') {
      rampLoop = { p99: loop.percentile(99) / 1e6, max: loop.max / 1e6 };
      loop.reset();
      t0 = performance.now();
      cpu0 = process.cpuUsage();
    } else if (m.type === 'report') {
      loop.disable();
      const cpu = process.cpuUsage(cpu0);
      process.send!({
        type: 'gemini-report',
        sessions: gemini.sessions.length,
        rampLoop,
        cpuPct: ((cpu.user + cpu.system) / 1000 / (performance.now() - t0)) * 100,
        loopP99Ms: loop.percentile(99) / 1e6,
        loopMaxMs: loop.max / 1e6,
      });
    } else if (m.type === 'stop') {
      void gemini.close().then(() => process.exit(0));
    }
  });
  process.send!({ type: 'gemini-ready', baseUrl: gemini.baseUrl });
}

// ---- driver side (this process: the Plivo emulator) ------------------------------------------------------------

type GeminiMsg =
  | { type: 'gemini-ready'; baseUrl: string }
  | {
      type: 'gemini-report';
      sessions: number;
      rampLoop: LoopSummary;
      cpuPct: number;
      loopP99Ms: number;
      loopMaxMs: number;
    };

function nextFrom<M extends { type: string }, T extends M['type']>(
  proc: ReturnType<typeof fork>,
  type: T,
): Promise<Extract<M, { type: T }>> {
  return new Promise((resolve, reject) => {
    const onMsg = (m: M) => {
      if (m.type === type) {
        proc.off('message', onMsg);
        resolve(m as Extract<M, { type: T }>);
      }
    };
    proc.on('message', onMsg);
    proc.once('exit', (code) => reject(new Error(`bench child exited (${code})`)));
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function runLoad(calls: number): Promise<BenchRow[]> {
  const { startPlivoEmulator } = await import('../src/emulators/plivo/index.ts');
  const { Samples } = await import('./stats.ts');
  const log = await import('../src/log.ts');
  const pino = await import('pino');
  log.setRootLogger(pino.default({ level: 'silent' }));
  // Three processes on two cores: the emulators would starve each other in one event loop at 1,000 calls.
  const geminiProc = fork(SELF, ['--gemini-child'], { stdio: childStdio() });
  const gemini = await nextFrom<GeminiMsg, 'gemini-ready'>(geminiProc, 'gemini-ready');
  const plivo = await startPlivoEmulator({
    authId: 'MAEMULATOR0000000000',
    authToken: 'emulator-auth-token',
    recordPlayed: false,
  });
  const child = fork(SELF, ['--gateway-child'], {
    stdio: childStdio(),
    // Profiling the gateway alone, e.g. BENCH_GATEWAY_NODE_OPTIONS='--cpu-prof --cpu-prof-dir=/tmp/prof'.
    execArgv: [...process.execArgv, ...(process.env.BENCH_GATEWAY_NODE_OPTIONS ?? '').split(' ').filter(Boolean)],
    env: { ...process.env, BENCH_GEMINI_URL: gemini.baseUrl, BENCH_PLIVO_URL: plivo.restBaseUrl },
  });
  const next = <T extends ChildMsg['type']>(type: T) =>
    new Promise<Extract<ChildMsg, { type: T }>>((resolve, reject) => {
      const onMsg = (m: ChildMsg) => {
        if (m.type === type) {
          child.off('message', onMsg);
          resolve(m as Extract<ChildMsg, { type: T }>);
        }
      };
      child.on('message', onMsg);
      child.once('exit', (code) => reject(new Error(`gateway child exited (${code})`)));
    });
  try {
    const ready = await next('ready');
    const base = `http://127.0.0.1:${ready.port}`;
    // Receipt times at the Plivo side, per call (epoch ms): every playAudio and clearAudio.
    const played = new Map<string, number[]>();
    const cleared = new Map<string, number[]>();
    // A steady ramp, one call every 1000/rate ms, each placed without waiting for the ones before it. Plivo admits
    // 10 inbound calls/s per account by default and a pod behind a load balancer sees tens per second, so the
    // default of 20/s is already a busy pod's share. The earlier ramp (50 calls at once, then wait for all 50
    // streams) put 50 answers, 50 Gemini connects and 50 lock-stepped greetings into one instant; together with the
    // calls already up that left the gateway's loop stalled for seconds and stream handshakes timed out.
    const rampCps = Number(process.env.BENCH_GEMINI_RAMP_CPS ?? 20);
    const rampStart = performance.now();
    const driverRampLoop = monitorEventLoopDelay({ resolution: 1 });
    driverRampLoop.enable();
    // Per call: from placing it (answer webhook sent) until its stream is up or the call gave up.
    const setup = new Samples(calls);
    const pending: Promise<SimulatedCall>[] = [];
    for (let i = 0; i < calls; i++) {
      const due = rampStart + (i * 1000) / rampCps;
      const wait = due - performance.now();
      if (wait > 0) await sleep(wait);
      const placedAt = performance.now();
      pending.push(
        plivo
          .placeInboundCall({
            answerUrl: `${base}/answer`,
            hangupUrl: `${base}/hangup`,
            from: `+1415556${String(1000 + (i % 9000)).padStart(4, '0')}`,
            to: '+14155550100',
            recordPlayed: false,
            idleMedia: 'silence',
          })
          .then((c) => {
            setup.record((performance.now() - placedAt) * 1000);
            const p: number[] = [];
            const cl: number[] = [];
            played.set(c.callUuid, p);
            cleared.set(c.callUuid, cl);
            // Never-matching waiters: a cheap way to timestamp every message of a kind as it arrives.
            const stamp = (into: number[]) => () => {
              into.push(epoch());
              return false;
            };
            c.waitForEvent('playAudio', stamp(p), 600_000).catch(() => {});
            c.waitForEvent('clearAudio', stamp(cl), 600_000).catch(() => {});
            return c;
          }),
      );
    }
    const placed = await Promise.all(pending);
    driverRampLoop.disable();
    const rampS = (performance.now() - rampStart) / 1000;
    const failed = placed.filter((c) => c.streamId === undefined).length;
    // Let the ramp settle (connects, greetings), then measure only what happens from here on.
    await sleep(2000);
    child.send({ type: 'measure' });
    geminiProc.send({ type: 'measure' });
    const measureFrom = epoch();
    const driverLoop = monitorEventLoopDelay({ resolution: 1 });
    driverLoop.enable();
    const driverT0 = performance.now();
    const driverCpu0 = process.cpuUsage();
    const utterance = (ms: number) => ({
      kind: 'sequence' as const,
      parts: [
        { kind: 'tone' as const, hz: 300, ms, amplitude: 0.3 },
        { kind: 'silence' as const, ms: 700 },
      ],
    });
    // Every call is up: each caller asks, interrupts the long answer, listens to the short one, hangs up.
    let droppedEarly = 0;
    await Promise.all(
      placed.map(async (c, i) => {
        if (c.streamId === undefined) return;
        try {
          await sleep(500 + (i * 2000) / calls);
          await c.sendAudio(utterance(500));
          await sleep(2500);
          await c.sendAudio(utterance(400));
          await sleep(3000);
          await c.hangup();
        } catch {
          droppedEarly++;
        }
      }),
    );
    await sleep(500);
    driverLoop.disable();
    const driverCpu = process.cpuUsage(driverCpu0);
    // Three processes share the machine's cores: their CPU together says whether the host, not one of them, is full.
    const driverCpuPct = ((driverCpu.user + driverCpu.system) / 1000 / (performance.now() - driverT0)) * 100;
    const reportP = next('report');
    child.send({ type: 'report' });
    const rep = await reportP;
    const gemReportP = nextFrom<GeminiMsg, 'gemini-report'>(geminiProc, 'gemini-report');
    geminiProc.send({ type: 'report' });
    const gemRep = await gemReportP;

    const clearE2e = new Samples(calls * 4);
    const firstFrame = new Samples(calls * 8);
    let unmatchedClears = 0;
    for (const [callId, a] of Object.entries(rep.arrivals)) {
      const p = played.get(callId) ?? [];
      const cl = cleared.get(callId) ?? [];
      for (const t of a.interrupts) {
        if (t < measureFrom) continue;
        const hit = cl.find((x) => x >= t);
        if (hit === undefined) unmatchedClears++;
        else clearE2e.record((hit - t) * 1000);
      }
      for (const t of a.turnStarts) {
        if (t < measureFrom) continue;
        const hit = p.find((x) => x >= t);
        if (hit !== undefined) firstFrame.record((hit - t) * 1000);
      }
    }
    const emuErrors = placed.reduce((n, c) => n + c.errors.length, 0);
    const errorKinds = [...new Set(placed.flatMap((c) => c.errors.map((e) => e.slice(0, 60))))].slice(0, 3);
    const setupS = setup.summary();
    const extra = {
      rampS: Math.round(rampS * 10) / 10,
      rampCps,
      streamSetupP50Ms: round(setupS.p50 / 1000),
      streamSetupP99Ms: round(setupS.p99 / 1000),
      streamSetupMaxMs: round(setupS.max / 1000),
      failedCalls: failed,
      droppedEarly,
      endReasons: Object.entries(rep.endReasons)
        .map(([k, v]) => `${k}:${v}`)
        .join(' '),
      fatalSessions: rep.fatal,
      emulatorErrors: emuErrors,
      emulatorErrorKinds: errorKinds.join(' / ') || 'none',
      gatewayCpuPct: Math.round(rep.cpuPct),
      plivoEmuCpuPct: Math.round(driverCpuPct),
      geminiEmuCpuPct: Math.round(gemRep.cpuPct),
      gatewayRampLoopMaxMs: round(rep.rampLoop.max),
      plivoEmuRampLoopMaxMs: round(driverRampLoop.max / 1e6),
      geminiEmuRampLoopMaxMs: round(gemRep.rampLoop.max),
      gatewayLoopP99Ms: round(rep.loop.p99),
      gatewayLoopMaxMs: round(rep.loop.max),
      gatewayPacerMaxGapMs: round(rep.pacerMaxTickGapMs),
      plivoEmuLoopP99Ms: round(driverLoop.percentile(99) / 1e6),
      plivoEmuLoopMaxMs: round(driverLoop.max / 1e6),
      geminiEmuLoopP99Ms: round(gemRep.loopP99Ms),
      geminiEmuLoopMaxMs: round(gemRep.loopMaxMs),
      unmatchedClears,
      // Caller frames the emulated Plivo could not hand to a gateway that stopped reading (its ~40 s send buffer
      // was full) or skipped because it fell behind itself: how far the backlog of uplink media got.
      plivoMediaDropped: placed.reduce((n, c) => n + c.stats.mediaDropped, 0),
      plivoMediaSkipped: placed.reduce((n, c) => n + c.stats.mediaSkipped, 0),
      geminiSessions: gemRep.sessions,
    };
    const row = (name: string, s: Summary, more: Record<string, number | string> = {}): BenchRow => ({
      suite: 'gemini-load',
      name,
      backend: ready.backend as 'native' | 'ts',
      execution: 'inline',
      calls,
      p50Us: round(s.p50),
      p99Us: round(s.p99),
      p999Us: round(s.p999),
      extra: { samples: s.count, maxUs: round(s.max), ...more },
    });
    // A run with failed or dropped calls, a stalled gateway loop, or emulators (the load generators) that fell
    // behind measures the harness, not the gateway: it is marked invalid and fails the bench.
    const problems = [
      failed > 0 ? `${failed} failed call setups` : '',
      droppedEarly > 0 ? `${droppedEarly} calls dropped early` : '',
      rep.fatal > 0 ? `${rep.fatal} fatal Gemini sessions` : '',
      Math.max(rep.rampLoop.max, rep.loop.max) > LOOP_STALL_MS
        ? `gateway event loop stalled ${Math.round(Math.max(rep.rampLoop.max, rep.loop.max))} ms`
        : '',
      extra.plivoMediaSkipped > 0 ? `Plivo emulator fell behind (${extra.plivoMediaSkipped} frames skipped)` : '',
      extra.plivoEmuLoopP99Ms > GENERATOR_LOOP_P99_MS || extra.geminiEmuLoopP99Ms > GENERATOR_LOOP_P99_MS
        ? `load generator loop p99 ${Math.max(extra.plivoEmuLoopP99Ms, extra.geminiEmuLoopP99Ms)} ms`
        : '',
    ].filter(Boolean);
    const invalid = problems.length > 0 ? problems.join('; ') : undefined;
    return [
      { ...row('interrupted → clearAudio at Plivo (end to end)', clearE2e.summary(), extra), invalid },
      row('interrupted → clearAudio handed to uWS (gateway only)', rep.clearProcUs),
      row('Gemini turn audio → first playAudio at Plivo', firstFrame.summary()),
      row('Gemini turn audio → first playAudio handed to uWS (gateway only)', rep.firstPlayProcUs),
    ];
  } finally {
    await plivo.close();
    child.send({ type: 'stop' });
    await new Promise((r) => child.once('exit', r));
    geminiProc.send({ type: 'stop' });
    await new Promise((r) => geminiProc.once('exit', r));
  }
}

function round(v: number): number {
  return Number.isFinite(v) ? Math.round(v * 10) / 10 : Number.NaN;
}

/** A gateway event-loop delay beyond this is a stall, not a latency figure. */
const LOOP_STALL_MS = 1000;
/** An emulator whose own loop p99 exceeds this cannot deliver frames on time: the load generator fell behind. */
const GENERATOR_LOOP_P99_MS = 50;

export const geminiLoadSuite: BenchSuite = {
  name: 'gemini-load',
  columns: ['failedCalls', 'gatewayCpuPct', 'gatewayLoopP99Ms', 'gatewayPacerMaxGapMs'],
  async run({ smoke }) {
    const plan = smoke ? [20] : (process.env.BENCH_GEMINI_CALLS ?? '100,1000').split(',').map(Number);
    const rows: BenchRow[] = [];
    for (const calls of plan) rows.push(...(await runLoad(calls)));
    return rows;
  },
};

if (process.argv.includes('--gemini-child')) {
  geminiChild().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}

if (process.argv.includes('--gateway-child')) {
  gatewayChild().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}

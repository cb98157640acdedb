// Load on the Plivo edge: N emulated calls stream μ-law through the real gateway (uWS, stream protocol, DSP) to the
// echo agent and back. The gateway runs in a child process (this file with --gateway-child) so its timings are not
// mixed with the emulator's work, and each process gets a core of the two. Reported per call count:
// - uplink: Plivo `media` message in → PCM16 16 kHz delivered to the handler (µs, every frame measured), and the
//   whole message callback including the echo handler's work;
// - downlink: playAgentAudio(20 ms at 24 kHz) → converted, framed, queued and (paced) playAudio handed to uWS;
// - send: one playAudio written and sent by the pacer;
// - event-loop delay of the gateway process, its CPU use, and frames per second in and out.
// Run: node bench/run.ts --only plivo-load   (smoke: --smoke, 20 calls)
import { fork } from 'node:child_process';
import { subscribe } from 'node:diagnostics_channel';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import type { StreamProbe } from '../src/probes/channels.ts';
import { childStdio } from './report.ts';
import type { BenchRow, BenchSuite } from './types.ts';

const SELF = fileURLToPath(import.meta.url);

interface Summary {
  count: number;
  p50: number;
  p99: number;
  p999: number;
  max: number;
}

type ChildMsg =
  | { type: 'ready'; port: number; backend: string }
  | {
      type: 'report';
      delivered: Summary;
      uplink: Summary;
      downlink: Summary;
      send: Summary;
      loop: Summary;
      cpuPct: number;
      framesIn: number;
      framesOut: number;
      seconds: number;
      activeStreams: number;
      maxTickGapMs: number;
      errors: Record<string, number>;
    };

// ---- gateway side (child process) -------------------------------------------------------------------------------

async function gatewayChild(): Promise<void> {
  const [
    { loadConfig },
    { emulatorEnv },
    { createAudioEngine },
    { startGateway },
    { createEchoAgent },
    { probes },
    { Samples },
    log,
    pino,
  ] = await Promise.all([
    import('../src/config.ts'),
    import('../src/demo/emulator-env.ts'),
    import('../src/audio/engine.ts'),
    import('../src/server/gateway.ts'),
    import('../src/demo/echo-agent.ts'),
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
      OVERLOAD_LOOP_DELAY_MS: '0',
      LOG_LEVEL: 'silent',
    }),
  );
  const { engine } = await createAudioEngine({ backend: 'auto', execution: 'inline', poolThreads: 1 });
  const echo = createEchoAgent({ dtmfToneHz: undefined });
  // "Message in → caller audio delivered": timed at the handler's entry, so the echo's own work (upsampling and
  // pushing the reply, measured separately as downlink) is not counted as uplink.
  // Subscribed to the edge's probe channel for arriving messages (src/probes/channels.ts): no hook in the product.
  let messageAt = 0;
  subscribe(probes.messageIn.name, (m) => {
    messageAt = (m as StreamProbe).at;
  });
  const agent: typeof echo = {
    ...echo,
    attachStream(ctx, leg, start) {
      const inner = echo.attachStream(ctx, leg, start);
      return {
        ...inner,
        onCallerAudio(pcm16k) {
          if (messageAt > 0) delivered.record((performance.now() - messageAt) * 1000);
          messageAt = 0;
          inner.onCallerAudio(pcm16k);
        },
      };
    },
  };
  const gateway = await startGateway({
    config,
    router: agent,
    audio: engine,
    publicUrl: (port) => `http://127.0.0.1:${port}`,
    sampleEvery: 1,
    defaultMetrics: false,
  });
  const cap = 4_000_000;
  const delivered = new Samples(cap);
  const up = new Samples(cap);
  const down = new Samples(cap);
  const send = new Samples(cap);
  gateway.stats.addObserver((dir, us) => {
    if (dir === 'uplink') up.record(us);
    else if (dir === 'downlink') down.record(us);
    else send.record(us);
  });
  const loop = monitorEventLoopDelay({ resolution: 1 });
  let t0 = 0;
  let cpu0 = process.cpuUsage();
  let in0 = 0;
  let out0 = 0;
  const send2 = (m: ChildMsg) => process.send!(m);
  process.on('message', (m: { type: string }) => {
    if (m.type === 'measure') {
      delivered.reset();
      up.reset();
      down.reset();
      send.reset();
      loop.reset();
      loop.enable();
      gateway.pacer.maxTickGapMs = 0;
      t0 = performance.now();
      cpu0 = process.cpuUsage();
      in0 = gateway.stats.framesIn;
      out0 = gateway.stats.framesOut;
    } else if (m.type === 'report') {
      loop.disable();
      const seconds = (performance.now() - t0) / 1000;
      const cpu = process.cpuUsage(cpu0);
      const ns = (p: number) => loop.percentile(p) / 1000;
      send2({
        type: 'report',
        delivered: delivered.summary(),
        uplink: up.summary(),
        downlink: down.summary(),
        send: send.summary(),
        loop: { count: loop.count, p50: ns(50), p99: ns(99), p999: ns(99.9), max: loop.max / 1000 },
        cpuPct: ((cpu.user + cpu.system) / 1000 / (seconds * 1000)) * 100,
        framesIn: gateway.stats.framesIn - in0,
        framesOut: gateway.stats.framesOut - out0,
        seconds,
        activeStreams: gateway.stats.activeStreams,
        maxTickGapMs: gateway.pacer.maxTickGapMs,
        errors: Object.fromEntries(gateway.stats.errors),
      });
    } else if (m.type === 'stop') {
      void gateway.close().then(() => process.exit(0));
    }
  });
  send2({ type: 'ready', port: gateway.port, backend: engine.backend });
}

// ---- driver side (this process: the Plivo emulator) ------------------------------------------------------------

async function runLoad(calls: number, measureS: number): Promise<BenchRow[]> {
  const { startPlivoEmulator } = await import('../src/emulators/plivo/index.ts');
  // PLIVO_LOAD_CHILD_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" profiles the gateway process.
  const execArgv = (process.env.PLIVO_LOAD_CHILD_ARGS ?? '').split(' ').filter(Boolean);
  const child = fork(SELF, ['--gateway-child'], { stdio: childStdio(), execArgv });
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
  const ready = await next('ready');
  const base = `http://127.0.0.1:${ready.port}`;
  const emulator = await startPlivoEmulator({
    authId: 'MAEMULATOR0000000000',
    authToken: 'emulator-auth-token',
    recordPlayed: false,
  });
  try {
    // Ramp up in batches: answer webhook + WebSocket upgrade per call.
    const placed = [];
    const batch = 50;
    for (let i = 0; i < calls; i += batch) {
      const n = Math.min(batch, calls - i);
      placed.push(
        ...(await Promise.all(
          Array.from({ length: n }, (_, k) =>
            emulator.placeInboundCall({
              answerUrl: `${base}/answer`,
              from: `+1415555${String(1000 + ((i + k) % 9000)).padStart(4, '0')}`,
              to: '+14155550100',
              recordPlayed: false,
              // A short tone, then a real phone's continuous silence: per-call pre-rendered audio stays small.
              audio: { kind: 'tone', hz: 300 + ((i + k) % 50) * 10, ms: 500, amplitude: 0.2 },
              idleMedia: 'silence',
            }),
          ),
        )),
      );
    }
    const failed = placed.filter((c) => c.streamId === undefined).length;
    // Let the ramp settle (resampler warm-up, first turns), then measure.
    await new Promise((r) => setTimeout(r, 2000));
    child.send({ type: 'measure' });
    await new Promise((r) => setTimeout(r, measureS * 1000));
    const reportP = next('report');
    child.send({ type: 'report' });
    const rep = await reportP;
    const emuErrors = placed.reduce((n, c) => n + c.errors.length, 0);
    // The emulator skips frames when its own process falls behind (overloaded host): those never reached the
    // gateway, so a shortfall in framesInPerS with emulatorSkipped > 0 is the driver's limit, not the gateway's.
    let emulatorSkipped = 0;
    let emulatorDropped = 0;
    for (const c of placed) {
      const st = emulator.call(c.callUuid)?.stats as { mediaSkipped?: number; mediaDropped?: number } | undefined;
      emulatorSkipped += st?.mediaSkipped ?? 0;
      emulatorDropped += st?.mediaDropped ?? 0;
    }
    const extra = {
      cpuPct: Math.round(rep.cpuPct),
      framesInPerS: Math.round(rep.framesIn / rep.seconds),
      framesOutPerS: Math.round(rep.framesOut / rep.seconds),
      expectedPerS: calls * 50,
      streams: rep.activeStreams,
      failedCalls: failed,
      emulatorErrors: emuErrors,
      emulatorSkipped,
      emulatorDropped,
      maxPacerTickGapMs: Math.round(rep.maxTickGapMs),
      streamErrors: Object.values(rep.errors).reduce((a, b) => a + b, 0),
    };
    const row = (name: string, s: Summary, more: Record<string, number | string> = {}): BenchRow => ({
      suite: 'plivo-load',
      name,
      backend: ready.backend as 'native' | 'ts',
      execution: 'inline',
      calls,
      p50Us: round(s.p50),
      p99Us: round(s.p99),
      p999Us: round(s.p999),
      extra: { samples: s.count, maxUs: round(s.max), ...more },
    });
    // Figures of a run where calls failed or the emulator (the load generator) fell behind describe the harness.
    const expectedFrames = calls * 50 * rep.seconds;
    // The measurement window cuts each call's 20 ms cadence at both ends: up to one frame per call either way is
    // the window's edge, not a lost frame (at 20 calls for 3 s that alone is 0.7 %).
    const edge = Math.max(0.001 * expectedFrames, 2 * calls);
    const problems = [
      failed > 0 ? `${failed} failed call setups` : '',
      emulatorSkipped > 0 ? `load generator fell behind (${emulatorSkipped} frames skipped)` : '',
      rep.framesIn < expectedFrames - edge
        ? `${Math.round(rep.framesIn)} of ${Math.round(expectedFrames)} frames in`
        : '',
      extra.streamErrors > 0 ? `${extra.streamErrors} stream errors` : '',
    ].filter(Boolean);
    const invalid = problems.length > 0 ? problems.join('; ') : undefined;
    return [
      { ...row('uplink: media message → audio delivered to handler', rep.delivered, extra), invalid },
      row('uplink + echo handler (whole message callback)', rep.uplink),
      row('downlink: playAgentAudio(20 ms) → playAudio out', rep.downlink),
      row('send: one playAudio to uWS', rep.send),
      row('gateway event-loop delay', rep.loop),
    ];
  } finally {
    await emulator.close();
    child.send({ type: 'stop' });
    await new Promise((r) => child.once('exit', r));
  }
}

async function until(pred: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function round(v: number): number {
  return Number.isFinite(v) ? Math.round(v * 10) / 10 : Number.NaN;
}

/**
 * The pacing decision, measured: one call, the agent bursts 5 s of audio (as Gemini does), the caller barges in
 * after 1 s. Paced (lead 60 ms) vs unpaced (everything sent at once): how much audio Plivo holds at the barge-in
 * (what clearAudio must cancel, and what the caller keeps hearing if clearAudio is slow or lost), and how far
 * pendingPlayoutMs() is from what is really left.
 */
async function pacingComparison(): Promise<BenchRow[]> {
  const [{ createEchoAgent }, { startEdgeStack }] = await Promise.all([
    import('../src/demo/echo-agent.ts'),
    import('../src/demo/edge-stack.ts'),
  ]);
  const rows: BenchRow[] = [];
  for (const [label, leadMs] of [
    ['paced, lead 60 ms', 60],
    ['unpaced (send as produced)', 1e9],
  ] as const) {
    const agent = createEchoAgent({ echo: false, dtmfToneMs: 5000 });
    const h = await startEdgeStack(agent, { gateway: { leadMs } });
    try {
      const call = await h.emulator.placeInboundCall({
        answerUrl: `${h.base}/answer`,
        from: '+14155550123',
        to: '+14155550100',
        idleMedia: 'none',
      });
      const ac = await agent.waitForCall(call.callUuid);
      call.sendDtmf('1');
      await until(() => call.played.length > 0, 5000, 'agent audio');
      const firstAt = call.played[0]!.at;
      await new Promise((r) => setTimeout(r, 1000));
      const pendingAtBargeIn = ac.leg.pendingPlayoutMs();
      const last = call.played[call.played.length - 1]!;
      const bufferedAtPlivoMs = Math.max(0, last.endAt - performance.now());
      const t0 = performance.now();
      call.sendDtmf('*');
      await until(() => ac.cleared === 1, 5000, 'clearedAudio');
      const clearRoundTripMs = performance.now() - t0;
      rows.push({
        suite: 'plivo-load',
        name: `barge-in after 1 s of a 5 s turn: ${label}`,
        calls: 1,
        extra: {
          bufferedAtPlivoMs: Math.round(bufferedAtPlivoMs),
          pendingPlayoutMs: Math.round(pendingAtBargeIn),
          playAudioSentIn1s: call.played.filter((c) => c.at - firstAt < 1000).length,
          clearRoundTripMs: Math.round(clearRoundTripMs * 10) / 10,
        },
      });
      await call.hangup();
    } finally {
      await h.close();
    }
  }
  return rows;
}

export const plivoLoadSuite: BenchSuite = {
  name: 'plivo-load',
  columns: [
    'cpuPct',
    'framesInPerS',
    'framesOutPerS',
    'failedCalls',
    'maxPacerTickGapMs',
    'bufferedAtPlivoMs',
    'clearRoundTripMs',
  ],
  async run({ smoke }) {
    // PLIVO_LOAD_CALLS=N runs only N calls (experiments).
    const only = Number(process.env.PLIVO_LOAD_CALLS ?? '');
    const plan =
      only > 0
        ? [{ calls: only, seconds: 10 }]
        : smoke
          ? [{ calls: 20, seconds: 3 }]
          : [
              { calls: 100, seconds: 10 },
              { calls: 1000, seconds: 10 },
            ];
    const rows: BenchRow[] = await pacingComparison();
    for (const p of plan) rows.push(...(await runLoad(p.calls, p.seconds)));
    return rows;
  },
};

if (process.argv.includes('--gateway-child')) {
  gatewayChild().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}

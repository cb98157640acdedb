// Inline vs pool execution under simulated call load. Every call has one uplink (μ-law 8 kHz → PCM16 16 kHz) and
// one downlink (PCM16 24 kHz → μ-law 8 kHz) converter; one timer fires every 20 ms, like the phone and Gemini
// clocks, and pushes one 20 ms frame each way for every call. Measured, after a warm-up:
// - latency per frame from its push() to its onFrame (p50/p99/p99.9), and from the start of its tick (when all of
//   the tick's frames arrive at once) to its onFrame ("tick→frame": adds the wait behind the rest of the burst);
// - CPU of the main thread (the one that also owns every socket) and of the whole process, per call-second.
import os from 'node:os';
import { createPoolEngine, type PoolEngine } from '../src/audio/pool/index.ts';
import type { WorkerEngine } from '../src/audio/pool/worker-engine.ts';
import type { AudioEngine, DownlinkConverter, UplinkConverter } from '../src/audio/types.ts';
import { round, Samples } from './stats.ts';
import type { BenchRow, BenchSuite } from './types.ts';

const TICK_MS = 20;
/** Push times kept per stream (2.56 s of backlog); beyond that the case is overloaded and says so. */
const RING = 128;

export interface LoadCase {
  label: string;
  execution: 'inline' | 'pool';
  threads?: number;
  tickMs?: number;
  maxBatchRecords?: number;
  calls: number;
  /** Converters that do no DSP and answer synchronously: what the harness itself costs. */
  baseline?: boolean;
}

export interface LoadResult {
  row: BenchRow;
  /** Main-thread CPU µs per call-second: the figure that decides the default execution mode. */
  mainCpuUsPerCallSec: number;
}

// Module that builds the engine inside each worker; the inline runs use the same module on the main thread, so
// both modes run identical code. BENCH_ENGINE_MODULE swaps it (e.g. to bench the machinery with a toy engine).
const ENGINE_MODULE =
  process.env.BENCH_ENGINE_MODULE ?? new URL('../src/audio/pool/worker-engine.ts', import.meta.url).href;
const BACKEND = (process.env.BENCH_AUDIO_BACKEND ?? 'auto') as 'auto' | 'native' | 'ts';

async function makeEngine(c: LoadCase): Promise<AudioEngine> {
  if (c.baseline) return nullEngine();
  if (c.execution === 'pool') {
    return createPoolEngine({
      backendPreference: BACKEND,
      threads: c.threads ?? 1,
      tickMs: c.tickMs ?? 0,
      ...(c.maxBatchRecords === undefined ? {} : { maxBatchRecords: c.maxBatchRecords }),
      engineModule: ENGINE_MODULE,
    });
  }
  const mod = (await import(ENGINE_MODULE)) as { createWorkerEngine(p: typeof BACKEND): Promise<WorkerEngine> };
  return (await mod.createWorkerEngine(BACKEND)).engine;
}

function nullEngine(): AudioEngine {
  const pcm = new Int16Array(320);
  const phone = new Uint8Array(160);
  return {
    backend: 'ts',
    execution: 'inline',
    createUplink: (_f, onFrame) => ({ push: () => onFrame(pcm), close: () => {} }),
    createDownlink: (_f, onFrame) => ({
      push: () => onFrame(phone),
      flush: () => {},
      clear: () => {},
      close: () => {},
    }),
    close: async () => {},
  };
}

function testSignal(): { ulaw: Uint8Array; pcm24k: Int16Array } {
  // A voiced-ish test signal: the kernels' cost does not depend on content, but silence could flatter a future
  // kernel that special-cases it.
  const pcm24k = new Int16Array((24000 * TICK_MS) / 1000);
  for (let i = 0; i < pcm24k.length; i++) {
    pcm24k[i] = Math.round(8000 * Math.sin((2 * Math.PI * 220 * i) / 24000) + 2000 * Math.sin(i * 0.37));
  }
  const ulaw = new Uint8Array((8000 * TICK_MS) / 1000);
  for (let i = 0; i < ulaw.length; i++) ulaw[i] = (i * 37 + 11) & 0xff;
  return { ulaw, pcm24k };
}

/** Run one load case for `warmupTicks + ticks` ticks of 20 ms and summarise the measured ticks. */
export async function runLoadCase(c: LoadCase, ticks: number, warmupTicks: number): Promise<LoadResult> {
  const engine = await makeEngine(c);
  const n = c.calls;
  const streams = 2 * n; // uplink i, downlink n + i
  const pushT = new Float64Array(streams * RING);
  const pushSeq = new Uint32Array(streams);
  const frameSeq = new Uint32Array(streams);
  const tickOf = new Float64Array(streams * RING);
  const lat = new Samples(streams * ticks + 16);
  const fromTick = new Samples(streams * ticks + 16);
  let recording = false;
  let frames = 0;

  const onFrameFor = (s: number) => () => {
    const now = performance.now();
    const q = frameSeq[s]!;
    frameSeq[s] = q + 1;
    const k = s * RING + (q & (RING - 1));
    // Frames pushed during the warm-up (tickOf < 0) may come back after measuring started: not counted.
    if (!recording || tickOf[k]! < 0) return;
    frames++;
    lat.record((now - pushT[k]!) * 1000);
    fromTick.record((now - tickOf[k]!) * 1000);
  };
  const ups: UplinkConverter[] = [];
  const downs: DownlinkConverter[] = [];
  for (let i = 0; i < n; i++) ups.push(engine.createUplink({ encoding: 'mulaw', sampleRate: 8000 }, onFrameFor(i)));
  for (let i = 0; i < n; i++) {
    downs.push(engine.createDownlink({ encoding: 'mulaw', sampleRate: 8000 }, onFrameFor(n + i)));
  }
  const { ulaw, pcm24k } = testSignal();

  let tick = 0;
  let pushes = 0;
  let lateTicks = 0;
  let overruns = 0;
  let cpu0 = process.cpuUsage();
  let thread0 = process.threadCpuUsage();
  let wall0 = performance.now();
  const total = warmupTicks + ticks;
  const start = performance.now() + TICK_MS;

  await new Promise<void>((resolve) => {
    const onTick = (): void => {
      // Frames of this tick "arrive" now; how late the timer fired is the simulator's problem, not the engine's.
      const arrival = performance.now();
      if (arrival - (start + tick * TICK_MS) > TICK_MS) lateTicks++;
      if (tick === warmupTicks) {
        recording = true;
        lateTicks = 0;
        overruns = 0;
        cpu0 = process.cpuUsage();
        thread0 = process.threadCpuUsage();
        wall0 = performance.now();
      }
      const stamp = recording ? arrival : -1;
      for (let i = 0; i < n; i++) {
        const t = performance.now();
        let q = pushSeq[i]!;
        if (q - frameSeq[i]! >= RING) overruns++;
        pushSeq[i] = q + 1;
        let k = i * RING + (q & (RING - 1));
        pushT[k] = t;
        tickOf[k] = stamp;
        ups[i]!.push(ulaw);
        q = pushSeq[n + i]!;
        pushSeq[n + i] = q + 1;
        k = (n + i) * RING + (q & (RING - 1));
        pushT[k] = t;
        tickOf[k] = stamp;
        downs[i]!.push(pcm24k);
      }
      if (recording) pushes += 2 * n;
      tick++;
      if (tick >= total) {
        resolve();
        return;
      }
      // One timer for all calls, re-aimed at the ideal schedule so that a slow tick does not shift later ones.
      setTimeout(onTick, Math.max(0, start + tick * TICK_MS - performance.now()));
    };
    setTimeout(onTick, Math.max(0, start - performance.now()));
  });
  if (c.execution === 'pool' && !c.baseline) await (engine as PoolEngine).whenIdle();
  const wallUs = (performance.now() - wall0) * 1000;
  const cpu = process.cpuUsage(cpu0);
  const thread = process.threadCpuUsage(thread0);
  recording = false;
  for (const u of ups) u.close();
  for (const d of downs) d.close();
  await engine.close();

  const callSeconds = (n * ticks * TICK_MS) / 1000;
  const mainCpuUs = thread.user + thread.system;
  const totalCpuUs = cpu.user + cpu.system;
  const l = lat.summary();
  const t = fromTick.summary();
  const mainCpuUsPerCallSec = mainCpuUs / callSeconds;
  const row: BenchRow = {
    suite: 'pool',
    name: c.label,
    backend: c.baseline ? undefined : engine.backend,
    execution: c.execution,
    calls: n,
    p50Us: round(l.p50),
    p99Us: round(l.p99),
    p999Us: round(l.p999),
    // Frames converted per second of CPU, all threads counted (the pool's workers included).
    framesPerSecPerCore: Math.round(frames / (totalCpuUs / 1e6)),
    extra: {
      'tick→frame p99 µs': round(t.p99),
      'tick→frame p99.9 µs': round(t.p999),
      'main CPU µs/call·s': round(mainCpuUsPerCallSec),
      'total CPU µs/call·s': round(totalCpuUs / callSeconds),
      'main busy %': round((100 * mainCpuUs) / wallUs),
      'late ticks': lateTicks,
      // Other processes share this CPU: the 1-minute load average says how much they did during the case.
      load: round(os.loadavg()[0] ?? 0),
      'lost frames': pushes - frames,
      // Late ticks, lost frames or a backlog longer than the push-time ring: the figures above describe an overload.
      'kept up': lateTicks <= ticks / 20 && pushes === frames && overruns === 0 ? 'yes' : 'NO',
    },
  };
  return { row, mainCpuUsPerCallSec };
}

function cases(smoke: boolean): LoadCase[] {
  const out: LoadCase[] = [];
  const counts = smoke ? [100] : [10, 100, 1000, 5000];
  for (const calls of counts) {
    out.push({ label: 'baseline (harness, no DSP)', execution: 'inline', calls, baseline: true });
    out.push({ label: 'inline', execution: 'inline', calls });
    out.push({ label: 'pool ×1', execution: 'pool', threads: 1, calls });
    if (!smoke) out.push({ label: 'pool ×2', execution: 'pool', threads: 2, calls });
    if (!smoke && calls === 1000) {
      out.push({ label: 'pool ×1, 5 ms tick', execution: 'pool', threads: 1, tickMs: 5, calls });
      out.push({
        label: 'pool ×1, whole-burst batches',
        execution: 'pool',
        threads: 1,
        maxBatchRecords: Number.POSITIVE_INFINITY,
        calls,
      });
    }
  }
  return out;
}

export const poolSuite: BenchSuite = {
  name: 'audio execution: inline vs pool (20 ms ticks, μ-law both ways)',
  columns: ['main CPU net µs/call·s', 'total CPU µs/call·s', 'lost frames', 'kept up'],
  async run({ smoke }) {
    // Smoke: 100 calls for ~1 s. Full: 1 s warm-up, 5 s measured per case.
    const ticks = smoke ? 40 : 250;
    const warmup = smoke ? 10 : 50;
    const rows: BenchRow[] = [];
    const baseline = new Map<number, number>();
    const inline = new Map<number, number>();
    for (const c of cases(smoke)) {
      const { row, mainCpuUsPerCallSec: main } = await runLoadCase(c, ticks, warmup);
      if (c.baseline) baseline.set(c.calls, main);
      else if (c.execution === 'inline') inline.set(c.calls, main);
      const base = baseline.get(c.calls);
      const ref = inline.get(c.calls);
      // The harness (timer, timestamps, recording) costs the same in every mode; net figures leave it out.
      if (!c.baseline && base !== undefined) row.extra!['main CPU net µs/call·s'] = round(main - base);
      if (c.execution === 'pool' && base !== undefined && ref !== undefined) {
        row.extra!['net main CPU ÷ inline'] = round((main - base) / (ref - base));
      }
      rows.push(row);
    }
    return rows;
  },
};

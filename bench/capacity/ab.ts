// `node bench/capacity/ab.ts --a KEY=V[,KEY=V…] --b KEY=V[,KEY=V…] [--a-tree DIR] [--calls 140] [--rounds 8]`
// A paired comparison of two gateway settings, or of two versions of the code (`--a-tree`: another checkout, e.g.
// `git worktree add /tmp/base HEAD~1` with its node_modules and native build). On a shared VM the same gateway measures anywhere from 2.4 to 5.1
// ms of CPU per call-second from one run to the next (the host, not the code), which hides any change smaller than
// that. So both gateways run AT ONCE, pinned to the same core, each carrying half the calls of one generator
// (bench/capacity/generator.ts, the capacity bench's conversation, on the other core): whatever the host does, it
// does to both. Each round reads both gateways' CPU over the same window; the result is the median of the per-round
// ratios B/A with its range. A run whose generator fell behind or whose calls failed is invalid and exits 1.
import { closeSync, openSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { makeCerts } from '../../src/demo/tls-certs.ts';
import { machineInfo, machineMarkdown } from '../report.ts';
import { round } from '../stats.ts';
import {
  AUTH_ID,
  AUTH_TOKEN,
  type GatewayProc,
  gatewayMain,
  loopDelayMs,
  pinThisProcess,
  procCpu,
  procRssKiB,
  scrape,
  startGateway,
  stopGateway,
} from './gateway-proc.ts';
import { GENERATOR_LOOP_P99_MS, GENERATOR_LOOP_RESOLUTION_MS, Generator } from './generator.ts';

const RESULTS = fileURLToPath(new URL('../results/', import.meta.url));
const GENERATOR_LATE_FRACTION = 0.001;

const USAGE = `usage: node bench/capacity/ab.ts --a KEY=V[,KEY=V…] --b KEY=V[,KEY=V…] [--a-tree DIR] [--b-tree DIR]
  [--calls 140] [--rounds 8] [--window 10] [--gateway-core 0] [--generator-core 1]
  --a, --b     gateway settings of the two sides (environment variables; an empty string for the defaults)
  --a-tree, --b-tree
               run that side's gateway from another checkout (its src/main.ts); default this one
  --a-flags, --b-flags
               Node flags for that side's gateway, space-separated, after the production ones (e.g.
               --a-flags=--no-single-threaded-gc)
  --a-gateway, --b-gateway
               run "floor" on that side (bench/capacity/floor-gateway.ts: the gateway's messages and none of its
               work), or another entry point
  --calls      concurrent calls in all, half on each gateway (default 140)
  --rounds     measured windows (default 8)
  --window     seconds per window (default 10)`;

function parseSettings(text: string | undefined, flag: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (text ?? '').split(',')) {
    if (part.trim() === '') continue;
    const eq = part.indexOf('=');
    if (eq <= 0) throw new Error(`${flag}: "${part}" is not KEY=VALUE`);
    out[part.slice(0, eq).trim()] = part.slice(eq + 1).trim();
  }
  return out;
}

function median(values: number[]): number {
  const s = values.slice().sort((x, y) => x - y);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      a: { type: 'string' },
      b: { type: 'string' },
      'a-tree': { type: 'string' },
      'b-tree': { type: 'string' },
      'a-flags': { type: 'string' },
      'b-flags': { type: 'string' },
      'a-gateway': { type: 'string' },
      'b-gateway': { type: 'string' },
      calls: { type: 'string', default: '140' },
      rounds: { type: 'string', default: '8' },
      window: { type: 'string', default: '10' },
      'gateway-core': { type: 'string', default: '0' },
      'generator-core': { type: 'string', default: '1' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help || values.a === undefined || values.b === undefined) {
    console.log(USAGE);
    return values.help ? 0 : 2;
  }
  const sides = { A: parseSettings(values.a, '--a'), B: parseSettings(values.b, '--b') };
  const calls = Number(values.calls);
  const rounds = Number(values.rounds);
  const windowS = Number(values.window);
  if (![calls, rounds, windowS].every((n) => Number.isInteger(n) && n > 0) || calls < 2) {
    console.error(`--calls (2 or more), --rounds and --window must be positive integers\n${USAGE}`);
    return 2;
  }
  const gatewayCore = values['gateway-core'];
  const generatorCore = values['generator-core'];

  await mkdir(RESULTS, { recursive: true });
  const startedAt = new Date().toISOString();
  const stamp = startedAt.replace(/:/g, '-');
  const logPath = `${RESULTS}ab-${stamp}.log`;
  const logFd = openSync(logPath, 'a');
  const certs = await makeCerts();
  const machine = await machineInfo();
  pinThisProcess(generatorCore);
  console.log(`# A/B: ${calls} calls (half each), ${rounds} × ${windowS} s, both gateways on core ${gatewayCore}`);
  console.log(machineMarkdown(machine));
  const tree = (t: string | undefined, g: string | undefined, f: string | undefined) =>
    (t === undefined ? '' : ` (code from ${t})`) +
    (g === undefined ? '' : ` (gateway: ${g})`) +
    (f === undefined || f === '' ? '' : ` (node ${f})`);
  console.log(
    `- A: ${values.a || '(defaults)'}${tree(values['a-tree'], values['a-gateway'], values['a-flags'])}\n` +
      `- B: ${values.b || '(defaults)'}${tree(values['b-tree'], values['b-gateway'], values['b-flags'])}\n`,
  );

  const silenceChunk = (env: Record<string, string>) => Number(env.GEMINI_UPLINK_SILENCE_CHUNK_MS ?? 200);
  const chunk = (env: Record<string, string>) => Number(env.GEMINI_UPLINK_CHUNK_MS ?? 40);
  const gen = new Generator({
    tls: { key: certs.key, cert: certs.cert },
    authId: AUTH_ID,
    authToken: AUTH_TOKEN,
    conversation: { interruptP: 0.2, toolP: 0.15 },
    uplinkChunkMs: Math.max(chunk(sides.A), chunk(sides.B)),
    uplinkSilenceChunkMs: Math.max(silenceChunk(sides.A), silenceChunk(sides.B)),
  });
  await gen.start();
  gen.reset(calls, rounds * windowS + 10);
  const gws: GatewayProc[] = [];
  const perRound: { a: number; b: number; ratio: number }[] = [];
  let failed = 0;
  let genLoopP99 = 0;
  try {
    const trees = [values['a-tree'], values['b-tree']];
    const mains = [gatewayMain(values['a-gateway']), gatewayMain(values['b-gateway'])];
    const nodeFlags = [values['a-flags'], values['b-flags']].map((f) => (f ?? '').split(' ').filter((x) => x !== ''));
    for (const [i, side] of [sides.A, sides.B].entries()) {
      const tree = trees[i];
      const main = mains[i] ?? (tree !== undefined ? resolve(tree, 'src/main.ts') : undefined);
      gws.push(
        await startGateway({
          core: gatewayCore,
          geminiPort: gen.geminiPort,
          restPort: gen.restPort,
          caPath: certs.caPath,
          logFd,
          env: side,
          nodeFlags: nodeFlags[i]!,
          ...(main !== undefined ? { main } : {}),
        }),
      );
    }
    const [a, b] = gws as [GatewayProc, GatewayProc];
    await sleep(500);
    const rss0 = [procRssKiB(a.proc.pid!), procRssKiB(b.proc.pid!)] as const;
    const mem0 = [await scrape(a.base), await scrape(b.base)] as const;
    // Alternate, so both sides get the same mix of call ages and conversation states.
    for (let i = 0; i < calls; i++) {
      if (!(await gen.placeCall((i % 2 === 0 ? a : b).base))) failed++;
      await sleep(10);
    }
    await sleep(3000);
    const onA = gen.callsOn(a.base).calls;
    const onB = gen.callsOn(b.base).calls;
    gen.loop.reset();
    for (let r = 0; r < rounds; r++) {
      const a0 = procCpu(a.proc.pid!);
      const b0 = procCpu(b.proc.pid!);
      const t0 = performance.now();
      gen.measuring = true;
      await sleep(windowS * 1000);
      gen.measuring = false;
      const s = (performance.now() - t0) / 1000;
      const a1 = procCpu(a.proc.pid!);
      const b1 = procCpu(b.proc.pid!);
      const usA = ((a1.user + a1.system - a0.user - a0.system) * 1e6) / (onA * s);
      const usB = ((b1.user + b1.system - b0.user - b0.system) * 1e6) / (onB * s);
      perRound.push({ a: round(usA), b: round(usB), ratio: usB / usA });
      console.log(`- round ${r + 1}: A ${round(usA)} · B ${round(usB)} µs/call·s, B/A ${(usB / usA).toFixed(3)}`);
    }
    genLoopP99 = loopDelayMs(gen.loop.percentile(99) / 1e6, GENERATOR_LOOP_RESOLUTION_MS);
    const rssA = (procRssKiB(a.proc.pid!) - rss0[0]) / onA;
    const rssB = (procRssKiB(b.proc.pid!) - rss0[1]) / onB;
    // JS heap in use (garbage not yet collected included) and external memory (ArrayBuffers, Buffers) per call.
    const mem1 = [await scrape(a.base), await scrape(b.base)] as const;
    const perCall = (i: 0 | 1, key: string, n: number) => ((mem1[i][key] ?? 0) - (mem0[i][key] ?? 0)) / 1024 / n;
    await gen.quiesce(600);
    await gen.hangupAll();
    const measuredS = rounds * windowS;
    const ratios = perRound.map((p) => p.ratio);
    const m = gen.m;
    const late = m.framesDue === 0 ? 0 : m.framesLate / m.framesDue;
    const invalid = [
      failed > 0 ? `${failed} calls failed to set up` : '',
      genLoopP99 > GENERATOR_LOOP_P99_MS ? `generator loop p99 ${round(genLoopP99)} ms` : '',
      late > GENERATOR_LATE_FRACTION ? `generator sent ${(late * 100).toFixed(2)} % of frames late` : '',
    ].filter(Boolean);
    const upA = gen.callsOn(a.base).upMessages / (onA * measuredS);
    const upB = gen.callsOn(b.base).upMessages / (onB * measuredS);
    const summary = {
      ratioMedian: round(median(ratios)),
      ratioMin: round(Math.min(...ratios)),
      ratioMax: round(Math.max(...ratios)),
      aMedianUsPerCallS: round(median(perRound.map((p) => p.a))),
      bMedianUsPerCallS: round(median(perRound.map((p) => p.b))),
      aUpMsgsPerCallS: round(upA),
      bUpMsgsPerCallS: round(upB),
      aRssPerCallKiB: round(rssA),
      bRssPerCallKiB: round(rssB),
      aHeapPerCallKiB: round(perCall(0, 'nodejs_heap_size_used_bytes', onA)),
      bHeapPerCallKiB: round(perCall(1, 'nodejs_heap_size_used_bytes', onB)),
      aExternalPerCallKiB: round(perCall(0, 'nodejs_external_memory_bytes', onA)),
      bExternalPerCallKiB: round(perCall(1, 'nodejs_external_memory_bytes', onB)),
    };
    console.log(
      `\nB/A median ${summary.ratioMedian.toFixed(3)} (range ${summary.ratioMin.toFixed(3)}–${summary.ratioMax.toFixed(3)}); ` +
        `A ${summary.aMedianUsPerCallS} · B ${summary.bMedianUsPerCallS} µs/call·s (medians); ` +
        `uplink messages per call-second A ${summary.aUpMsgsPerCallS} · B ${summary.bUpMsgsPerCallS}; ` +
        `RSS per call A ${summary.aRssPerCallKiB} · B ${summary.bRssPerCallKiB} KiB (JS heap ${summary.aHeapPerCallKiB} · ` +
        `${summary.bHeapPerCallKiB}, external ${summary.aExternalPerCallKiB} · ${summary.bExternalPerCallKiB})`,
    );
    const jsonPath = `${RESULTS}ab-${stamp}.json`;
    await writeFile(
      jsonPath,
      `${JSON.stringify(
        {
          startedAt,
          machine,
          config: {
            a: sides.A,
            b: sides.B,
            aTree: values['a-tree'],
            bTree: values['b-tree'],
            aGateway: values['a-gateway'],
            bGateway: values['b-gateway'],
            calls,
            onA,
            onB,
            rounds,
            windowS,
            gatewayCore,
            generatorCore,
          },
          rounds: perRound,
          summary,
          invalid: invalid.length > 0 ? invalid : undefined,
        },
        null,
        2,
      )}\n`,
    );
    console.log(`results: ${jsonPath}\nlogs: ${logPath}`);
    if (invalid.length > 0) {
      console.log(`\nINVALID RUN: ${invalid.join('; ')}`);
      return 1;
    }
    return 0;
  } finally {
    for (const g of gws) await stopGateway(g);
    await gen.close();
    certs.cleanup();
    closeSync(logFd);
  }
}

process.exit(await main());

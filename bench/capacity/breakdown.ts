// Where the gateway's CPU per call-second goes, by component: a V8 CPU profile of the gateway taken during one
// capacity step (BENCH_GATEWAY_NODE_OPTIONS='--cpu-prof --cpu-prof-dir=DIR'), its samples' self time grouped by
// what the code serves (the nearest caller of ours or of a package), scaled to the step's measured user CPU per call-second. System (kernel) time is not in a V8
// profile; it is the step's measured figure, reported as its own row.
//   node bench/capacity/breakdown.ts <profile.cpuprofile> <user µs/call·s> <system µs/call·s>
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** First match wins: [component, test on "url functionName"]. */
const COMPONENTS: Array<[string, RegExp]> = [
  ['idle', /^ \(idle\)$/],
  ['garbage collection', /^ \(garbage collector\)$/],
  ['Gemini leg: TLS and socket writes', /node:internal\/tls|node:tls| writev$|stream_base_commons|node:net/],
  ['Gemini leg: ws framing', /node_modules\/ws\//],
  ['Gemini leg: SDK', /node_modules\/@google\/genai\//],
  ['Gemini leg: session, wire codec', /\/src\/gemini\//],
  ['Plivo leg: uWS sends, stream route', /\/src\/server\/stream-route\.ts/],
  ['Plivo leg: stream protocol, pacer, base64', /\/src\/plivo\//],
  ['DSP (addon and engine)', /\/src\/audio\//],
  ['calls, observers, probes', /\/src\/(calls|observability|probes|operator|records)\//],
  ['metrics (prom-client)', /node_modules\/prom-client\//],
  ['Redis, store', /node_modules\/ioredis\/|\/src\/store\//],
  ['startup (module loading, compile)', /node:internal\/modules|amaro|cjs-module-lexer|node:internal\/bootstrap/],
];

/**
 * Each sample goes to the first component found walking up from the sampled frame: a native or Node-internal
 * function (base64, Buffer, streams, JSON.parse) counts for the code of ours or the package that called it.
 */
export function breakdown(profile: Profile): Map<string, number> {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const memo = new Map<number, string>();
  const componentOf = (id: number): string => {
    const known = memo.get(id);
    if (known !== undefined) return known;
    const frame = byId.get(id)?.callFrame;
    const key = frame === undefined ? '' : `${frame.url} ${frame.functionName}`;
    const up = parent.get(id);
    const name =
      COMPONENTS.find(([, re]) => re.test(key))?.[0] ??
      (up === undefined ? 'other (Node internals, native)' : componentOf(up));
    memo.set(id, name);
    return name;
  };
  const out = new Map<string, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const name = componentOf(profile.samples[i]!);
    out.set(name, (out.get(name) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  return out;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [file, user, system] = process.argv.slice(2);
  if (file === undefined || user === undefined || system === undefined) {
    console.error('usage: node bench/capacity/breakdown.ts <profile.cpuprofile> <user µs/call·s> <system µs/call·s>');
    process.exit(2);
  }
  const parts = breakdown(JSON.parse(readFileSync(file, 'utf8')) as Profile);
  parts.delete('idle');
  parts.delete('startup (module loading, compile)');
  const busy = [...parts.values()].reduce((a, b) => a + b, 0);
  const userUs = Number(user);
  console.log('| Component | µs per call-second | share |');
  console.log('|---|---:|---:|');
  for (const [name, t] of [...parts].sort((a, b) => b[1] - a[1])) {
    console.log(`| ${name} | ${Math.round((t / busy) * userUs)} | ${((100 * t) / busy).toFixed(1)} % of user |`);
  }
  console.log(`| kernel (system time, measured) | ${Math.round(Number(system))} | |`);
  console.log(`| **total** | **${Math.round(userUs + Number(system))}** | |`);
}

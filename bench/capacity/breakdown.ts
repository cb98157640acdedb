// Where the gateway's CPU per call-second goes, by component: a V8 CPU profile of the gateway taken during one
// capacity step (BENCH_GATEWAY_NODE_OPTIONS='--cpu-prof --cpu-prof-dir=DIR'), its samples' self time grouped by
// what the code serves, scaled to the step's measured user CPU per call-second. System (kernel) time is not in a V8
// profile; it is the step's measured figure, reported as its own row.
//   node bench/capacity/breakdown.ts <profile.cpuprofile> <user µs/call·s> <system µs/call·s>
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string };
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

export function breakdown(profile: Profile): Map<string, number> {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const out = new Map<string, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const frame = byId.get(profile.samples[i]!)?.callFrame;
    const key = frame === undefined ? '' : `${frame.url} ${frame.functionName}`;
    const name = COMPONENTS.find(([, re]) => re.test(key))?.[0] ?? 'other (Node internals, native)';
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

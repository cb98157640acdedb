// `npm run bench [-- --smoke] [-- --only pool,dsp]`: runs every benchmark suite that exists, prints a markdown
// table per suite and writes bench/results/<timestamp>.json (+ latest.json). A suite module that is missing is
// reported and skipped; a suite that throws is reported and makes the exit code non-zero.
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import {
  type BenchResults,
  machineInfo,
  machineNote,
  resultsMarkdown,
  type SuiteOutcome,
  writeResults,
} from './report.ts';
import type { BenchSuite } from './types.ts';

const SUITES: readonly { key: string; file: string; exportName: string }[] = [
  { key: 'dsp', file: './dsp.ts', exportName: 'dspSuite' },
  { key: 'quality', file: './quality.ts', exportName: 'qualitySuite' },
  { key: 'pool', file: './pool.ts', exportName: 'poolSuite' },
  { key: 'plivo-load', file: './plivo-load.ts', exportName: 'plivoLoadSuite' },
  { key: 'gemini-load', file: './gemini-load.ts', exportName: 'geminiLoadSuite' },
];

const USAGE = `usage: node bench/run.ts [--smoke] [--only <suite>[,<suite>…]] [--out <dir>]
  suites: ${SUITES.map((s) => s.key).join(', ')}
  --smoke   fast version for CI (also BENCH_SMOKE=1)
  --out     results directory (default bench/results)`;

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      smoke: { type: 'boolean', default: false },
      only: { type: 'string', multiple: true },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const smoke = values.smoke || ['1', 'true', 'yes'].includes(process.env.BENCH_SMOKE ?? '');
  const only = (values.only ?? [])
    .flatMap((v) => v.split(','))
    .map((v) => v.trim())
    .filter(Boolean);
  const unknown = only.filter((k) => !SUITES.some((s) => s.key === k));
  if (unknown.length > 0) {
    console.error(`unknown suite(s): ${unknown.join(', ')}\n${USAGE}`);
    return 2;
  }
  const selected = only.length === 0 ? SUITES : SUITES.filter((s) => only.includes(s.key));

  const machine = await machineInfo();
  const results: BenchResults = {
    startedAt: new Date().toISOString(),
    smoke,
    machine,
    note: machineNote(machine),
    suites: [],
  };
  console.log(`# Benchmark${smoke ? ' (smoke)' : ''}: ${selected.map((s) => s.key).join(', ')}`);
  console.log(`> ${results.note}\n`);

  for (const entry of selected) {
    const outcome = await runOne(entry, smoke);
    results.suites.push(outcome);
    const label = outcome.name ?? entry.key;
    if (outcome.status === 'missing') console.log(`- ${label}: skipped (${outcome.error})`);
    else if (outcome.status === 'failed') console.log(`- ${label}: FAILED: ${outcome.error}`);
    else console.log(`- ${label}: ${outcome.rows.length} rows in ${outcome.seconds?.toFixed(1)} s`);
  }

  console.log(`\n${resultsMarkdown(results)}\n`);
  const dir =
    values.out !== undefined ? new URL(`file://${pathResolve(values.out)}/`) : new URL('./results/', import.meta.url);
  const file = await writeResults(results, dir);
  console.log(`results: ${file}`);
  return results.suites.some((s) => s.status === 'failed') ? 1 : 0;
}

async function runOne(entry: (typeof SUITES)[number], smoke: boolean): Promise<SuiteOutcome> {
  const url = new URL(entry.file, import.meta.url);
  if (!existsSync(url))
    return { key: entry.key, status: 'missing', rows: [], error: `bench/${entry.file.slice(2)} not found` };
  let suite: BenchSuite | undefined;
  try {
    const mod = (await import(url.href)) as Record<string, unknown>;
    suite = mod[entry.exportName] as BenchSuite | undefined;
  } catch (err) {
    return { key: entry.key, status: 'failed', rows: [], error: `import failed: ${describe(err)}` };
  }
  if (suite === undefined || typeof suite.run !== 'function') {
    return {
      key: entry.key,
      status: 'missing',
      rows: [],
      error: `bench/${entry.file.slice(2)} exports no ${entry.exportName}`,
    };
  }
  const started = performance.now();
  try {
    const rows = await suite.run({ smoke });
    return { key: entry.key, name: suite.name, status: 'ok', rows, seconds: (performance.now() - started) / 1000 };
  } catch (err) {
    return {
      key: entry.key,
      name: suite.name,
      status: 'failed',
      rows: [],
      error: describe(err),
      seconds: (performance.now() - started) / 1000,
    };
  }
}

function describe(err: unknown): string {
  if (err instanceof Error) return err.stack ?? err.message;
  return String(err);
}

function pathResolve(p: string): string {
  return p.startsWith('/') ? p : `${process.cwd()}/${p}`;
}

// Exit explicitly: a suite that leaves a socket or timer behind must not hang CI after the results are written.
process.exit(await main());

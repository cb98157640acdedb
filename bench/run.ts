// `npm run bench [-- --smoke] [-- --only pool,dsp]`: runs the benchmark suites, prints one narrow markdown table per
// suite (the figures a reader needs; everything else is in bench/results/<timestamp>.json, + latest.json), and
// sends the logs of everything it starts to bench/results/<timestamp>.log. A suite that throws, or a row marked
// invalid (failed setups, a load generator that fell behind, loop stalls), makes the exit code non-zero.
import { mkdir } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { setRootLogger } from '../src/log.ts';
import { dspSuite } from './dsp.ts';
import { geminiLoadSuite } from './gemini-load.ts';
import { plivoLoadSuite } from './plivo-load.ts';
import { poolSuite } from './pool.ts';
import { qualitySuite } from './quality.ts';
import {
  type BenchResults,
  benchLogFd,
  closeBenchLog,
  invalidRows,
  machineInfo,
  machineNote,
  openBenchLog,
  resultsMarkdown,
  type SuiteOutcome,
  writeResults,
} from './report.ts';
import type { BenchSuite } from './types.ts';

const SUITES: readonly { key: string; suite: BenchSuite }[] = [
  { key: 'dsp', suite: dspSuite },
  { key: 'quality', suite: qualitySuite },
  { key: 'pool', suite: poolSuite },
  { key: 'plivo-load', suite: plivoLoadSuite },
  { key: 'gemini-load', suite: geminiLoadSuite },
];

const USAGE = `usage: node bench/run.ts [--smoke] [--only <suite>[,<suite>…]] [--out <dir>] [--allow-invalid]
  suites: ${SUITES.map((s) => s.key).join(', ')}
  --smoke          fast version for CI (also BENCH_SMOKE=1)
  --out            results directory (default bench/results)
  --allow-invalid  exit 0 even when a row is invalid (failed setups, generator behind, loop stalls)`;

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      smoke: { type: 'boolean', default: false },
      only: { type: 'string', multiple: true },
      out: { type: 'string' },
      'allow-invalid': { type: 'boolean', default: false },
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

  const dir =
    values.out !== undefined ? new URL(`file://${pathResolve(values.out)}/`) : new URL('./results/', import.meta.url);
  await mkdir(dir, { recursive: true });
  const startedAt = new Date().toISOString();
  const logPath = new URL(`${startedAt.replace(/:/g, '-')}.log`, dir).pathname;
  openBenchLog(logPath);
  setRootLogger(
    pino({ level: process.env.LOG_LEVEL ?? 'info' }, pino.destination({ fd: benchLogFd() ?? 1, sync: true })),
  );

  const machine = await machineInfo();
  const results: BenchResults = {
    startedAt,
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
    if (outcome.status === 'failed') console.log(`- ${label}: FAILED: ${outcome.error}`);
    else console.log(`- ${label}: ${outcome.rows.length} rows in ${outcome.seconds?.toFixed(1)} s`);
  }

  console.log(`\n${resultsMarkdown(results)}\n`);
  const file = await writeResults(results, dir);
  closeBenchLog();
  console.log(`results: ${file}\nlogs: ${logPath}`);
  const invalid = invalidRows(results);
  if (invalid.length > 0) {
    console.log(
      `\nINVALID RUN: ${invalid.length} row(s) describe the harness, not the gateway:\n${invalid.map((l) => `  - ${l}`).join('\n')}`,
    );
    if (!values['allow-invalid']) return 1;
  }
  return results.suites.some((s) => s.status === 'failed') ? 1 : 0;
}

async function runOne(entry: (typeof SUITES)[number], smoke: boolean): Promise<SuiteOutcome> {
  const { suite } = entry;
  const started = performance.now();
  try {
    const rows = await suite.run({ smoke });
    return {
      key: entry.key,
      name: suite.name,
      status: 'ok',
      rows,
      seconds: (performance.now() - started) / 1000,
      columns: suite.columns,
    };
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

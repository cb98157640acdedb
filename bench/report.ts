// Output side of the benchmark: machine description, one markdown table per suite, and the JSON record under
// bench/results/.
import { closeSync, openSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import type { BenchRow } from './types.ts';

export interface MachineInfo {
  cpuModel: string;
  cores: number;
  /** Load average over the last minute when the run started: others share this CPU. */
  loadAvg1m: number;
  memoryGiB: number;
  node: string;
  platform: string;
  arch: string;
  /** What AUDIO_BACKEND=auto loads here, and why not native when it falls back. */
  backend: string;
  backendWarning?: string | undefined;
}

export interface SuiteOutcome {
  key: string;
  status: 'ok' | 'failed';
  name?: string;
  rows: BenchRow[];
  error?: string;
  seconds?: number;
  /** The suite's printed `extra` columns. */
  columns?: readonly string[];
}

export interface BenchResults {
  startedAt: string;
  smoke: boolean;
  machine: MachineInfo;
  note: string;
  suites: SuiteOutcome[];
}

export async function machineInfo(): Promise<MachineInfo> {
  const cpus = os.cpus();
  let backend = 'unknown';
  let backendWarning: string | undefined;
  try {
    const { loadAudioBackend } = await import('../src/audio/backend.ts');
    const loaded = loadAudioBackend('auto');
    backend = loaded.backend.name;
    backendWarning = loaded.warning;
  } catch (err) {
    backendWarning = `backend could not be loaded: ${(err as Error).message}`;
  }
  return {
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    cores: os.availableParallelism(),
    loadAvg1m: Math.round((os.loadavg()[0] ?? 0) * 100) / 100,
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    platform: os.platform(),
    arch: os.arch(),
    backend,
    backendWarning,
  };
}

export function machineNote(m: MachineInfo): string {
  const shared =
    m.cores <= 2
      ? `Measured on a ${m.cores}-core shared machine: figures are indicative, compare rows of one run rather than runs.`
      : `Measured on ${m.cores} cores; on shared machines figures are indicative.`;
  return `${shared} 1-minute load average at start: ${m.loadAvg1m}.`;
}

export function machineMarkdown(m: MachineInfo): string {
  const lines = [
    `- CPU: ${m.cpuModel} × ${m.cores} (load ${m.loadAvg1m}), ${m.memoryGiB} GiB`,
    `- Node ${m.node} on ${m.platform}/${m.arch}`,
    `- DSP backend (AUDIO_BACKEND=auto): ${m.backend}`,
  ];
  if (m.backendWarning !== undefined) lines.push(`  - ${m.backendWarning}`);
  return lines.join('\n');
}

const fmt = (v: number | string | undefined): string => {
  if (v === undefined) return '';
  if (typeof v === 'string') return v;
  // NaN or ±Infinity come from an empty sample set (nothing measured): a dash, not a number that looks like one.
  if (!Number.isFinite(v)) return '—';
  if (Math.abs(v) >= 1000) return Math.round(v).toLocaleString('en-US');
  if (Math.abs(v) >= 100) return String(Math.round(v));
  return String(Number(v.toPrecision(3)));
};

/**
 * One narrow markdown table: the fixed columns somebody filled, then the suite's chosen `extra` columns (all other
 * extras stay in the JSON), then `valid` when any row of the run was invalid.
 */
export function rowsMarkdown(rows: readonly BenchRow[], columns: readonly string[] = []): string {
  if (rows.length === 0) return '_no rows_';
  const fixed: [string, (r: BenchRow) => number | string | undefined][] = [
    ['name', (r) => r.name],
    ['backend', (r) => r.backend],
    ['execution', (r) => r.execution],
    ['calls', (r) => r.calls],
    ['p50 µs', (r) => r.p50Us],
    ['p99 µs', (r) => r.p99Us],
    ['p99.9 µs', (r) => r.p999Us],
    ['frames/s/core', (r) => r.framesPerSecPerCore],
  ];
  const cols = fixed.filter(([, get]) => rows.some((r) => get(r) !== undefined));
  for (const k of columns) if (rows.some((r) => r.extra?.[k] !== undefined)) cols.push([k, (r) => r.extra?.[k]]);
  if (rows.some((r) => r.invalid !== undefined)) cols.push(['valid', (r) => (r.invalid === undefined ? 'yes' : 'NO')]);
  const esc = (s: string) => s.replace(/\|/g, '\\|');
  const head = `| ${cols.map(([h]) => esc(h)).join(' | ')} |`;
  const sep = `|${cols.map(([h], i) => (i === 0 || h === 'backend' || h === 'execution' || h === 'valid' ? '---' : '---:')).join('|')}|`;
  const body = rows.map((r) => `| ${cols.map(([, get]) => esc(fmt(get(r)))).join(' | ')} |`);
  return [head, sep, ...body].join('\n');
}

/** Every invalid row of the run, as `suite: row name: reason` lines. */
export function invalidRows(results: BenchResults): string[] {
  return results.suites.flatMap((s) =>
    s.rows.filter((r) => r.invalid !== undefined).map((r) => `${s.name ?? s.key}: ${r.name}: ${r.invalid}`),
  );
}

export function resultsMarkdown(results: BenchResults): string {
  const parts = [
    `# Benchmark ${results.startedAt}${results.smoke ? ' (smoke)' : ''}`,
    '',
    machineMarkdown(results.machine),
    '',
    `> ${results.note}`,
  ];
  for (const s of results.suites) {
    parts.push('', `## ${s.name ?? s.key}`);
    if (s.status === 'failed') parts.push('', `**failed:** ${s.error}`);
    else parts.push('', rowsMarkdown(s.rows, s.columns), '', `_${s.seconds?.toFixed(1)} s_`);
    for (const r of s.rows) if (r.invalid !== undefined) parts.push(`- **invalid:** ${r.name}: ${r.invalid}`);
  }
  return parts.join('\n');
}

/** Writes bench/results/<timestamp>.json and bench/results/latest.json; returns the timestamped path. */
export async function writeResults(results: BenchResults, dir: URL): Promise<string> {
  await mkdir(dir, { recursive: true });
  const stamp = results.startedAt.replace(/:/g, '-');
  const json = `${JSON.stringify(results, null, 2)}\n`;
  const file = new URL(`${stamp}.json`, dir);
  await writeFile(file, json);
  await writeFile(new URL('latest.json', dir), json);
  return file.pathname;
}

// Logs of the processes a suite starts go to one file beside the results, never between the tables on stdout.
let logFd: number | undefined;

export function openBenchLog(path: string): void {
  logFd = openSync(path, 'a');
}

export function closeBenchLog(): void {
  if (logFd !== undefined) closeSync(logFd);
  logFd = undefined;
}

/** stdio for a forked gateway or emulator process: its output to the bench log when run.ts opened one. */
export function childStdio(): ['ignore', number | 'inherit', number | 'inherit', 'ipc'] {
  const out = logFd ?? 'inherit';
  return ['ignore', out, out, 'ipc'];
}

/** The bench process's own gateway/emulator logs: into the bench log (pino destination) when there is one. */
export function benchLogFd(): number | undefined {
  return logFd;
}

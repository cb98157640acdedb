// Shape of a benchmark result row: every suite returns these, bench/run.ts prints them as a markdown table and
// writes them to bench/results/<timestamp>.json.
export interface BenchRow {
  suite: string;
  /** What was measured, e.g. 'uplink fused (μ-law 8k → PCM16 16k)'. */
  name: string;
  backend?: 'native' | 'ts' | 'naive' | undefined;
  execution?: 'inline' | 'pool' | undefined;
  /** Simulated concurrent calls, for load rows. */
  calls?: number | undefined;
  p50Us?: number | undefined;
  p99Us?: number | undefined;
  p999Us?: number | undefined;
  /** Frames per second one core sustains (1e6 / mean µs). */
  framesPerSecPerCore?: number | undefined;
  /** Anything else worth a column (dB, ms, counts). */
  extra?: Record<string, number | string> | undefined;
}

export interface BenchSuite {
  name: string;
  run(opts: { smoke: boolean }): Promise<BenchRow[]>;
}

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
  /** Anything else measured (dB, ms, counts): all of it goes to the JSON; `BenchSuite.columns` picks the printed. */
  extra?: Record<string, number | string> | undefined;
  /**
   * Why this row's figures describe the harness rather than the gateway (failed setups, a load generator that fell
   * behind, event-loop stalls past a bound). An invalid row is marked in the table and fails the run.
   */
  invalid?: string | undefined;
}

export interface BenchSuite {
  name: string;
  /** The `extra` keys worth a column in the printed table (a reader's few figures); the rest stay in the JSON. */
  columns?: readonly string[];
  run(opts: { smoke: boolean }): Promise<BenchRow[]>;
}

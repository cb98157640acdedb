// Latency samples for benchmark suites: a preallocated Float64Array (recording never allocates, so the recorder does
// not perturb what it measures) and exact percentiles by sorting once at the end.

export class Samples {
  private readonly values: Float64Array;
  private n = 0;
  /** Samples offered after the buffer was full (not recorded). */
  overflow = 0;

  constructor(capacity: number) {
    this.values = new Float64Array(Math.max(1, Math.ceil(capacity)));
  }

  record(v: number): void {
    if (this.n < this.values.length) this.values[this.n++] = v;
    else this.overflow++;
  }

  get count(): number {
    return this.n;
  }

  reset(): void {
    this.n = 0;
    this.overflow = 0;
  }

  /** Sorts the recorded samples in place; call once recording is over. */
  summary(): Summary {
    const v = this.values.subarray(0, this.n).sort();
    let sum = 0;
    for (let i = 0; i < v.length; i++) sum += v[i]!;
    return {
      count: v.length,
      mean: v.length === 0 ? Number.NaN : sum / v.length,
      p50: percentile(v, 0.5),
      p99: percentile(v, 0.99),
      p999: percentile(v, 0.999),
      max: v.length === 0 ? Number.NaN : v[v.length - 1]!,
    };
  }
}

export interface Summary {
  count: number;
  mean: number;
  p50: number;
  p99: number;
  p999: number;
  max: number;
}

/** Nearest-rank percentile of sorted values (q in 0..1). */
export function percentile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank]!;
}

/** Round for display and JSON: 3 significant digits below 100, integers above. */
export function round(v: number): number {
  if (!Number.isFinite(v)) return v;
  if (Math.abs(v) >= 100) return Math.round(v);
  return Number(v.toPrecision(3));
}

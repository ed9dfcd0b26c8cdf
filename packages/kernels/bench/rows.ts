/** A target set for a measured ratio (the issue set them on SwiftShader): value >= min, or value <= max. */
export interface Target {
  what: string;
  value: number;
  min?: number;
  max?: number;
}

export function meets(t: Target): boolean {
  return (t.min === undefined || t.value >= t.min) && (t.max === undefined || t.value <= t.max);
}

/** One measurement: `value` in `metric` units for implementation `impl` on `case`. */
export interface BenchRow {
  suite: string;
  case: string;
  impl: string;
  ms: number;
  reps: number;
  metric: 'GFLOP/s' | 'GB/s';
  value: number;
  /** Speed-up over the peers on the same case (their time / ours), when measured. */
  vsTfjs?: number;
  vsJax?: number;
  vsNaive?: number;
  /** A transposed layout: its time over the NN layout's on the same shape. */
  vsNN?: number;
  /** On a peer's or the naive kernel's row: the largest |theirs - webtune's| over the result, once checked within float32 rounding. */
  maxAbsDiff?: number;
  /** This implementation did not run here, and why (ms and value are NaN, null in the JSON). */
  skipped?: string;
  /** On webtune's rows: the target this case is judged by. */
  target?: Target;
}

export interface BenchRequest {
  quick: boolean;
  /** Milliseconds of timed work per round per implementation. */
  budgetMs: number;
  /** Run one part only. */
  only?: 'matmul' | 'bandwidth';
}

declare global {
  interface Window {
    /** Defined by the kernel bench page; Node calls it and gets every row. */
    __webtuneBench(request: BenchRequest): Promise<BenchRow[]>;
  }
}

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
  vsNaive?: number;
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

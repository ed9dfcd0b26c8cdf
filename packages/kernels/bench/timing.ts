// One timing method for every implementation in a comparison: wall clock around `reps` runs,
// ended by queue.onSubmittedWorkDone() on the shared device, after warm-up runs (which also
// compile pipelines). Per-run milliseconds, median of `rounds`.

export interface Timing {
  ms: number;
  reps: number;
}

export async function timeGpu(
  device: GPUDevice,
  run: () => void | Promise<void>,
  flush: () => void,
  reps: number,
  rounds = 3,
): Promise<Timing> {
  await run(); // warm-up: compiles, allocates
  flush();
  await device.queue.onSubmittedWorkDone();
  const samples: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) await run();
    flush();
    await device.queue.onSubmittedWorkDone();
    samples.push((performance.now() - t0) / reps);
  }
  samples.sort((a, b) => a - b);
  return { ms: samples[Math.floor(samples.length / 2)], reps };
}

/** Enough repetitions for roughly `budgetMs` per round, given one run's estimated cost. */
export function repsFor(estimateMs: number, budgetMs: number): number {
  return Math.max(1, Math.min(50, Math.round(budgetMs / Math.max(estimateMs, 0.01))));
}

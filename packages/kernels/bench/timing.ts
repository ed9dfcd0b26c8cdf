// One timing method for every implementation in a comparison: after a warm-up run (which also
// compiles pipelines) and one timed calibration run, `rounds` rounds of `reps` runs, each round
// timed by wall clock up to queue.onSubmittedWorkDone() on the shared device. reps fills about
// `budgetMs` per round (at least 1, at most 50), so a slow implementation (the naive kernel)
// costs about as much wall time as a fast one. Per-run milliseconds: the median round.

export interface Timing {
  ms: number;
  reps: number;
}

export const ROUNDS = 3;

export async function timeGpu(
  device: GPUDevice,
  run: () => void | Promise<void>,
  flush: () => void,
  budgetMs: number,
  rounds = ROUNDS,
): Promise<Timing> {
  const once = async () => {
    const t0 = performance.now();
    await run();
    flush();
    await device.queue.onSubmittedWorkDone();
    return performance.now() - t0;
  };
  await once(); // warm-up: compiles, allocates
  const reps = repsFor(await once(), budgetMs);
  const samples: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) await run();
    flush();
    await device.queue.onSubmittedWorkDone();
    samples.push((performance.now() - t0) / reps);
  }
  return { ms: median(samples), reps };
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** Runs per round for about `budgetMs`, given one run's measured time. */
function repsFor(runMs: number, budgetMs: number): number {
  return Math.max(1, Math.min(50, Math.round(budgetMs / Math.max(runMs, 0.01))));
}

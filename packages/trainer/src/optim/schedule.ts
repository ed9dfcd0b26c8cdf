// Learning-rate schedules as transformers' get_scheduler builds them (LambdaLR multipliers).
// The update of optimizer step k (1-based) uses lr * lambda(k - 1), exactly like HF, where the
// scheduler steps after the optimizer: with warmup the very first update has lr 0.

export const LR_SCHEDULERS = ['linear', 'cosine', 'constant', 'constant_with_warmup'] as const;
export type LrSchedulerType = (typeof LR_SCHEDULERS)[number];

/** lambda(step) for `step` scheduler steps taken so far (0-based). */
export function lrLambda(type: LrSchedulerType, step: number, warmupSteps: number, totalSteps: number): number {
  if (type === 'constant') return 1; // HF's "constant" ignores warmup_steps
  if (step < warmupSteps) return step / Math.max(1, warmupSteps);
  if (type === 'constant_with_warmup') return 1;
  const progress = (step - warmupSteps) / Math.max(1, totalSteps - warmupSteps);
  if (type === 'linear') return Math.max(0, (totalSteps - step) / Math.max(1, totalSteps - warmupSteps));
  return Math.max(0, 0.5 * (1 + Math.cos(Math.PI * 0.5 * 2 * progress))); // cosine, num_cycles = 0.5
}

/** Learning rate used by optimizer step `k` (1-based). */
export function lrForStep(type: LrSchedulerType, baseLr: number, k: number, warmupSteps: number, totalSteps: number): number {
  return baseLr * lrLambda(type, k - 1, warmupSteps, totalSteps);
}

// Grid folding under test. On a real device a grid folds only past 65535 workgroups per
// dimension, which takes huge tensors; a Gpu that folds past FOLD_AT reaches the same path
// (wid.y > 0, spare workgroups past the end that must return) with a few workgroups.
import { type Dispatch, Gpu } from '../runtime/gpu.ts';

/** Workgroups per dimension of a folding Gpu: its grids hold at most FOLD_AT^2 workgroups. */
export const FOLD_AT = 3;

export function foldingGpu(device: GPUDevice): Gpu {
  return new Gpu(device, { maxWorkgroupsPerDimension: FOLD_AT });
}

/** Throws unless every dispatch's grid was folded: otherwise the test would not test folding. */
export function assertFolded(dispatches: readonly Dispatch[], label: string): void {
  for (const d of dispatches) {
    if (d.workgroups[1] < 2) throw new Error(`${label}: ${d.label} ran on a [${d.workgroups}] grid, not a folded one`);
  }
}

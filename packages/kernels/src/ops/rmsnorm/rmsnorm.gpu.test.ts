// rmsnorm on the GPU against its float64 reference: row lengths that do not divide the
// workgroup, large magnitudes, all-zero (padding) rows where eps decides, dw over many rows,
// dx overwritten without being read, and accumulated into, grids folded at 3 workgroups per dimension.
import { assertAllClose, gpuTest, reductionTolerance } from '@webtune/harness/page';
import { type Dispatch, Gpu } from '../../runtime/gpu.ts';
import { assertFolded, foldingGpu } from '../../testing/folding.ts';
import { uniform } from '../../testing/random.ts';
import { rmsnormBackwardRef, rmsnormForwardRef } from './rmsnorm.ref.ts';
import { rmsnormBackward, rmsnormForward } from './rmsnorm.ts';

const abs = (a: ArrayLike<number>) => Float64Array.from(a, Math.abs);

/** x [N, C] of values in ±scale with rows `zeroRows` all zero (padding). */
function input(N: number, C: number, seed: number, scale: number, zeroRows: number[] = []): Float32Array {
  const x = uniform(N * C, seed, scale);
  for (const n of zeroRows) x.fill(0, n * C, (n + 1) * C);
  return x;
}

async function checkForward(
  gpu: Gpu,
  N: number,
  C: number,
  scale: number,
  eps: number,
  seed: number,
  zeroRows: number[] = [],
): Promise<Dispatch[]> {
  const x = input(N, C, seed, scale, zeroRows);
  const w = uniform(C, seed + 1, 2);
  const X = gpu.upload(x, [N, C], 'x');
  const W = gpu.upload(w, [C], 'w');
  const Y = gpu.tensor([N, C], 'y');
  const R = gpu.tensor([N], 'rstd');
  const dispatches = await rmsnormForward(gpu, { y: Y, rstd: R, x: X, w: W }, { eps });
  gpu.run(...dispatches);
  const ref = rmsnormForwardRef(x, w, eps);
  const label = `(N=${N} C=${C} scale=${scale} eps=${eps})`;
  // rstd's relative error is half the mean square's (a sum of C terms), and y carries it.
  assertAllClose(await gpu.read(R), ref.rstd, reductionTolerance(C, ref.rstd), `rstd ${label}`);
  assertAllClose(await gpu.read(Y), ref.y, reductionTolerance(C, abs(ref.y)), `y ${label}`);
  for (const t of [X, W, Y, R]) t.buffer.destroy();
  return dispatches;
}

gpuTest('forward: odd shapes, rows shorter and longer than the workgroup, zero rows', async ({ device }) => {
  const gpu = new Gpu(device);
  await checkForward(gpu, 7, 203, 1, 1e-6, 10, [3]);
  await checkForward(gpu, 3, 5, 1, 1e-5, 11, [0]);
  await checkForward(gpu, 5, 1001, 1, 1e-6, 12);
});

gpuTest('forward: large magnitudes, and tiny ones where eps dominates', async ({ device }) => {
  const gpu = new Gpu(device);
  await checkForward(gpu, 9, 333, 1000, 1e-6, 20);
  await checkForward(gpu, 4, 77, 1e-4, 1e-5, 21);
});

async function checkBackward(
  gpu: Gpu,
  N: number,
  C: number,
  scale: number,
  seed: number,
  accumulate: boolean,
  zeroRows: number[] = [],
): Promise<Dispatch[]> {
  const eps = 1e-6;
  const x = input(N, C, seed, scale, zeroRows);
  const w = uniform(C, seed + 1, 2);
  const dy = uniform(N * C, seed + 2);
  // Both sides start from the same float32 rstd, as the GPU backward reads the forward's.
  const rstd = Float32Array.from(rmsnormForwardRef(x, w, eps).rstd);
  const dx0 = accumulate ? uniform(N * C, seed + 3, 5) : new Float32Array(N * C).fill(Number.NaN);
  const X = gpu.upload(x, [N, C], 'x');
  const W = gpu.upload(w, [C], 'w');
  const DY = gpu.upload(dy, [N, C], 'dy');
  const R = gpu.upload(rstd, [N], 'rstd');
  const DX = gpu.upload(dx0, [N, C], 'dx');
  const DW = gpu.upload(new Float32Array(C).fill(Number.NaN), [C], 'dw');
  const dispatches = await rmsnormBackward(gpu, { dx: DX, dy: DY, x: X, w: W, rstd: R, dw: DW }, { accumulate });
  gpu.run(...dispatches);
  const ref = rmsnormBackwardRef(dy, x, w, rstd, accumulate ? dx0 : undefined);
  const label = `(N=${N} C=${C} scale=${scale}${accumulate ? ' accumulate' : ''})`;
  assertAllClose(await gpu.read(DX), ref.dx, reductionTolerance(C, ref.dxMagnitude), `dx ${label}`);
  assertAllClose(await gpu.read(DW), ref.dw, reductionTolerance(N, ref.dwMagnitude), `dw ${label}`);
  for (const t of [X, W, DY, R, DX, DW]) t.buffer.destroy();
  return dispatches;
}

gpuTest('backward: dx overwritten (NaN there is never read) and dw, odd shapes', async ({ device }) => {
  const gpu = new Gpu(device);
  await checkBackward(gpu, 37, 45, 1, 40, false, [5, 36]);
  await checkBackward(gpu, 5, 300, 1, 41, false);
  await checkBackward(gpu, 3, 7, 1, 42, false);
});

gpuTest('backward: accumulate into dx, large magnitudes', async ({ device }) => {
  const gpu = new Gpu(device);
  await checkBackward(gpu, 11, 259, 1000, 50, true, [2]);
});

gpuTest('folded grids: a few workgroups, at most 3 per dimension', async ({ device }) => {
  const gpu = foldingGpu(device);
  // 7 rows (one workgroup each) and 250 columns (8 dw workgroups of 32): 3 x 3 grids with spares.
  assertFolded(await checkForward(gpu, 7, 250, 1, 1e-6, 60, [2]), 'rmsnorm');
  assertFolded(await checkBackward(gpu, 7, 250, 1, 61, false, [2]), 'rmsnorm backward');
});

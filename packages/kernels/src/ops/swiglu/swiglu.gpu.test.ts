// swiglu on the GPU against its float64 reference: sizes that do not divide the workgroup,
// gates far into both tails of the sigmoid (|gate| up to 100) and at its edge cases, large
// values of up and dout, gradients written over NaN, grids folded at 3 workgroups per dimension.
import { F32_EPS, gpuTest, type Tolerance } from '@webtune/harness/page';
import { Gpu } from '../../runtime/gpu.ts';
import { assertFolded, foldingGpu } from '../../testing/folding.ts';
import { checkGated, type GatedOp, MIN_NORMAL } from '../../testing/gated.ts';
import { swigluBackwardRef, swigluForwardRef } from './swiglu.ref.ts';
import { swigluBackward, swigluForward } from './swiglu.ts';

/**
 * Per element: the sigmoid comes from exp(-|g|), which WGSL allows an error of 3 + 2|g| ULP
 * (a ULP is at most 2 unit roundoffs), then a few roundings follow; all relative to the
 * terms' magnitude. A subnormal exp (|g| > 87) or result may be flushed to zero: an absolute
 * 2^-126 times what multiplies it (|g| and `factor`).
 */
function expTolerance(gate: ArrayLike<number>, magnitude: ArrayLike<number>, factor: ArrayLike<number>): Tolerance {
  const atol = Float64Array.from(gate, (g, i) => {
    const a = Math.abs(g);
    return (12 + 4 * a) * F32_EPS * magnitude[i] + MIN_NORMAL * (1 + a) * (1 + Math.abs(factor[i]));
  });
  return { atol, rtol: 0 };
}

/** Edge cases first: zero, the activation's minimum, where its exp underflows or overflows, ±100. */
const SWIGLU: GatedOp = {
  forward: swigluForward,
  backward: swigluBackward,
  forwardRef: swigluForwardRef,
  backwardRef: swigluBackwardRef,
  tolerance: expTolerance,
  edgeGates: [0, -0, 1e-30, -1.2784645, 88.7, -88.7, 100, -100, 20, -20, 1e-8],
};

const check = (gpu: Gpu, N: number, I: number, range: number, scale: number, seed: number) =>
  checkGated(SWIGLU, gpu, N, I, range, scale, seed);

gpuTest('forward and backward: odd sizes, gates through the sigmoid', async ({ device }) => {
  const gpu = new Gpu(device);
  await check(gpu, 7, 131, 6, 1, 10);
  await check(gpu, 1, 11, 6, 1, 11);
});

gpuTest('forward and backward: gates up to ±100, large up and dout', async ({ device }) => {
  const gpu = new Gpu(device);
  await check(gpu, 13, 301, 100, 1000, 20);
});

gpuTest('folded grids: a few workgroups, at most 3 per dimension', async ({ device }) => {
  // 7 x 250 elements: 7 workgroups of 256 threads, a 3 x 3 grid with 2 spare.
  assertFolded(await check(foldingGpu(device), 7, 250, 6, 1, 30), 'swiglu');
});

// geglu on the GPU against its float64 reference (Math.tanh, not the kernels' exp form): sizes that do not divide
// the workgroup, gates far into both tails (|gate| up to 100, where tanh through sinh / cosh would overflow), large
// values of up and dout, outputs written over NaN, grids folded at 3 workgroups per dimension.
import { F32_EPS, gpuTest, type Tolerance } from '@webtune/harness/page';
import { Gpu } from '../../runtime/gpu.ts';
import { assertFolded, foldingGpu } from '../../testing/folding.ts';
import { checkGated, type GatedOp, MIN_NORMAL } from '../../testing/gated.ts';
import { gegluBackwardRef, gegluForwardRef, geluTanhArg } from './geglu.ref.ts';
import { gegluBackward, gegluForward } from './geglu.ts';

/**
 * Per element: e = exp(-2|u|) may be off by 3 + 4|u| ULP (WGSL's exp bound; a ULP is at most 2 eps), u itself by a
 * few roundings times |u|, and a few roundings follow; relative to the terms' magnitude. Where u >= 0 the forward
 * only sees e through 1 / (1 + e), so its error there stays a few eps (the bound is loose, not wrong). A subnormal
 * result may be flushed to zero: an absolute 2^-126 times what multiplies it.
 */
function tolerance(gate: ArrayLike<number>, magnitude: ArrayLike<number>, factor: ArrayLike<number>): Tolerance {
  const atol = Float64Array.from(gate, (g, i) => {
    const u = Math.abs(geluTanhArg(g));
    // The reference's own error: 1 + tanh(u) and 1 - tanh(u)^2 cancel in float64 for very negative g (as in torch's
    // float64 gelu, which gives 0 there), an absolute 2^-52 times what multiplies them.
    const reference = 2 ** -52 * (1 + Math.abs(g) * (1 + 0.14 * g * g)) * Math.abs(factor[i]);
    return (16 + 16 * u) * F32_EPS * magnitude[i] + MIN_NORMAL * (1 + Math.abs(g)) * (1 + Math.abs(factor[i])) + reference;
  });
  return { atol, rtol: 0 };
}

/** Edge cases first: zero, the activation's minimum, where its exp underflows or overflows, ±100. */
const GEGLU: GatedOp = {
  forward: gegluForward,
  backward: gegluBackward,
  forwardRef: gegluForwardRef,
  backwardRef: gegluBackwardRef,
  tolerance: tolerance,
  edgeGates: [0, -0, 1e-30, -0.7517916, 9.5, -9.5, 100, -100, 20, -20, 1e-8],
};

const check = (gpu: Gpu, N: number, I: number, range: number, scale: number, seed: number) =>
  checkGated(GEGLU, gpu, N, I, range, scale, seed);

gpuTest('forward and backward: odd sizes, gates through the tanh', async ({ device }) => {
  const gpu = new Gpu(device);
  await check(gpu, 7, 131, 4, 1, 10);
  await check(gpu, 1, 11, 4, 1, 11);
});

gpuTest('forward and backward: gates up to ±100, large up and dout', async ({ device }) => {
  const gpu = new Gpu(device);
  await check(gpu, 13, 301, 100, 1000, 20);
});

gpuTest('folded grids: a few workgroups, at most 3 per dimension', async ({ device }) => {
  assertFolded(await check(foldingGpu(device), 7, 250, 4, 1, 30), 'geglu');
});

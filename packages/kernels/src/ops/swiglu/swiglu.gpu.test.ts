// swiglu on the GPU against its float64 reference: sizes that do not divide the workgroup,
// gates far into both tails of the sigmoid (|gate| up to 100) and at its edge cases, large
// values of up and dout, gradients written over NaN, grids folded at 3 workgroups per dimension.
import { assertAllClose, F32_EPS, gpuTest, type Tolerance } from '@webtune/harness/page';
import { type Dispatch, Gpu } from '../../runtime/gpu.ts';
import { assertFolded, foldingGpu } from '../../testing/folding.ts';
import { uniform } from '../../testing/random.ts';
import { swigluBackwardRef, swigluForwardRef } from './swiglu.ref.ts';
import { swigluBackward, swigluForward } from './swiglu.ts';

/** Smallest normal float32: a GPU may flush anything smaller to zero. */
const MIN_NORMAL = 2 ** -126;

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

/** Gates over ±range, with the sigmoid's edge cases first: zero, the silu minimum, the float32 exp limits, ±100. */
function gates(n: number, seed: number, range: number): Float32Array {
  const g = uniform(n, seed, range);
  g.set([0, -0, 1e-30, -1.2784645, 88.7, -88.7, 100, -100, 20, -20, 1e-8].slice(0, n));
  return g;
}

const abs = (a: ArrayLike<number>) => Float64Array.from(a, Math.abs);
const times = (a: ArrayLike<number>, b: ArrayLike<number>) => Float64Array.from(a, (v, i) => v * b[i]);

async function check(gpu: Gpu, N: number, I: number, range: number, scale: number, seed: number): Promise<Dispatch[]> {
  const n = N * I;
  const gate = gates(n, seed, range);
  const up = uniform(n, seed + 1, scale);
  const dout = uniform(n, seed + 2, scale);
  const G = gpu.upload(gate, [N, I], 'gate');
  const U = gpu.upload(up, [N, I], 'up');
  const DO = gpu.upload(dout, [N, I], 'dout');
  const nan = new Float32Array(n).fill(Number.NaN);
  const OUT = gpu.upload(nan, [N, I], 'out');
  const DG = gpu.upload(nan, [N, I], 'dgate');
  const DU = gpu.upload(nan, [N, I], 'dup');
  const dispatches = [
    ...(await swigluForward(gpu, { out: OUT, gate: G, up: U })),
    ...(await swigluBackward(gpu, { dgate: DG, dup: DU, dout: DO, gate: G, up: U })),
  ];
  gpu.run(...dispatches);
  const out = swigluForwardRef(gate, up);
  const ref = swigluBackwardRef(dout, gate, up);
  const label = `(N=${N} I=${I} gate range ${range} scale ${scale})`;
  assertAllClose(await gpu.read(OUT), out, expTolerance(gate, abs(out), up), `out ${label}`);
  assertAllClose(await gpu.read(DU), ref.dup, expTolerance(gate, abs(ref.dup), dout), `dup ${label}`);
  assertAllClose(await gpu.read(DG), ref.dgate, expTolerance(gate, ref.dgateMagnitude, times(dout, up)), `dgate ${label}`);
  for (const t of [G, U, DO, OUT, DG, DU]) t.buffer.destroy();
  return dispatches;
}

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

// sumOfSquares on the GPU against a float64 sum: odd sizes (one workgroup and several), tensors
// followed by huge values in their buffer that must not be summed, and a size where every thread
// of the capped grid strides through several vec4s, and a first pass on a folded grid.
import { assertAllClose, gpuTest, reductionTolerance } from '@webtune/harness/page';
import { type Dispatch, Gpu } from '../../runtime/gpu.ts';
import { assertFolded, foldingGpu } from '../../testing/folding.ts';
import { padded } from '../../testing/padded.ts';
import { uniform } from '../../testing/random.ts';
import { sumOfSquaresRef } from './sumsq.ref.ts';
import { sumOfSquares } from './sumsq.ts';

async function check(gpu: Gpu, n: number, seed: number): Promise<Dispatch[]> {
  const x = uniform(n, seed, 1000);
  // padded(): the sentinels after x (1e30 among them) would overflow the sum if read.
  const X = padded(gpu, x, 'x');
  const out = gpu.tensor([1], 'sumsq');
  const dispatches = await sumOfSquares(gpu, out, X);
  gpu.run(...dispatches);
  const want = sumOfSquaresRef(x);
  assertAllClose(await gpu.read(out), [want], reductionTolerance(n, want), `sum of squares (n=${n})`);
  X.buffer.destroy();
  return dispatches;
}

gpuTest('odd sizes: a partial vec4, one workgroup, several', async ({ device }) => {
  const gpu = new Gpu(device);
  for (const n of [1, 3, 6, 1001, 4097, 250007]) await check(gpu, n, n);
});

gpuTest('millions of elements: each thread of the capped grid strides through several vec4s', async ({ device }) => {
  await check(new Gpu(device), 70000 * 64 + 1, 5);
});

gpuTest('folded grid: a first pass of a few workgroups, at most 3 per dimension', async ({ device }) => {
  // 7 workgroups of 256 vec4s (a 3 x 3 grid, 2 spare), then one to add their partials.
  const [first] = await check(foldingGpu(device), 7 * 1024 - 5, 6);
  assertFolded([first], 'sumOfSquares');
});

// rope on the GPU against its float64 reference: Llama (theta 1e4) and Qwen2 (theta 1e6)
// frequencies, positions up to ~4000 out of order and repeated, large magnitudes, a head
// count and half-dimension that do not divide the workgroup, the inverse, and rows whose
// position is past the tables, and a grid folded at 3 workgroups per dimension.
import { assertAllClose, gpuTest, reductionTolerance } from '@webtune/harness/page';
import { type Dispatch, Gpu } from '../../runtime/gpu.ts';
import { assertFolded, foldingGpu } from '../../testing/folding.ts';
import { randint, uniform } from '../../testing/random.ts';
import { ropeRef } from './rope.ref.ts';
import { defaultInvFreq, rope, ropeTables } from './rope.ts';

interface Case {
  N: number;
  heads: number;
  hd: number;
  theta: number;
  /** Table rows; positions are drawn below it unless given. */
  P: number;
  positions?: Uint32Array;
  scale?: number;
  inverse?: boolean;
}

async function check(gpu: Gpu, c: Case, seed: number): Promise<Dispatch[]> {
  const { N, heads, hd, P, scale = 1, inverse = false } = c;
  const { cos, sin } = ropeTables(defaultInvFreq(hd, c.theta), P);
  const positions = c.positions ?? randint(N, seed, P);
  const x = uniform(N * heads * hd, seed + 1, scale);
  const X = gpu.upload(x, [N, heads, hd], 'x');
  const POS = gpu.upload(positions, [N], 'positions');
  const COS = gpu.upload(cos, [P, hd / 2], 'cos');
  const SIN = gpu.upload(sin, [P, hd / 2], 'sin');
  const dispatches = await rope(gpu, { x: X, positions: POS, cos: COS, sin: SIN }, { inverse });
  gpu.run(...dispatches);
  const ref = ropeRef(x, positions, cos, sin, hd, inverse);
  const label = `x (N=${N} heads=${heads} hd=${hd} theta=${c.theta}${inverse ? ' inverse' : ''})`;
  // Each output is a two-term sum.
  assertAllClose(await gpu.read(X), ref.y, reductionTolerance(2, ref.magnitude), label);
  for (const t of [X, POS, COS, SIN]) t.buffer.destroy();
  return dispatches;
}

gpuTest('Llama frequencies (theta 1e4): odd head dims, positions out of order up to ~4000', async ({ device }) => {
  const gpu = new Gpu(device);
  await check(gpu, { N: 37, heads: 3, hd: 34, theta: 10000, P: 4100 }, 10);
  await check(gpu, { N: 9, heads: 5, hd: 2, theta: 10000, P: 4100, scale: 1000 }, 11);
});

gpuTest('Qwen2 frequencies (theta 1e6): hd 64, large magnitudes, repeated positions', async ({ device }) => {
  const gpu = new Gpu(device);
  const positions = Uint32Array.from([4095, 3, 3, 0, 2048, 4095, 17, 1, 4000, 3999, 2]);
  await check(gpu, { N: positions.length, heads: 7, hd: 64, theta: 1e6, P: 4096, positions, scale: 1000 }, 20);
});

gpuTest('inverse (the backward) and positions past the tables', async ({ device }) => {
  const gpu = new Gpu(device);
  await check(gpu, { N: 23, heads: 2, hd: 18, theta: 1e6, P: 3000, inverse: true }, 30);
  const positions = Uint32Array.from([5, 300, 2, 299, 7000, 0]); // 300 and 7000 are past the 300 rows: left unchanged
  await check(gpu, { N: positions.length, heads: 3, hd: 10, theta: 10000, P: 300, positions, inverse: true }, 31);
});

gpuTest('forward then inverse gives x back', async ({ device }) => {
  const gpu = new Gpu(device);
  const [N, heads, hd, P] = [19, 4, 24, 4096];
  const { cos, sin } = ropeTables(defaultInvFreq(hd, 10000), P);
  const x = uniform(N * heads * hd, 40, 50);
  const X = gpu.upload(x, [N, heads, hd], 'x');
  const POS = gpu.upload(randint(N, 41, P), [N], 'positions');
  const COS = gpu.upload(cos, [P, hd / 2], 'cos');
  const SIN = gpu.upload(sin, [P, hd / 2], 'sin');
  const t = { x: X, positions: POS, cos: COS, sin: SIN };
  gpu.run(...(await rope(gpu, t)), ...(await rope(gpu, t, { inverse: true })));
  // Two rotations of two-term sums, and cos^2 + sin^2 = 1 only to float32 rounding.
  assertAllClose(await gpu.read(X), x, reductionTolerance(4, 2 * 50), 'x after rope and its inverse');
});

gpuTest('folded grid: a few workgroups, at most 3 per dimension', async ({ device }) => {
  // 7 rows x 4 heads x 64 pairs: 7 workgroups of 256 threads, a 3 x 3 grid with 2 spare.
  assertFolded(await check(foldingGpu(device), { N: 7, heads: 4, hd: 128, theta: 10000, P: 4096 }, 50), 'rope');
});

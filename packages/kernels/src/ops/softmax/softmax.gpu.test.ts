// softmax on the GPU against its float64 reference: rows that do not divide the workgroup, a
// single column, long rows, large magnitudes, causal masks for training and for generation, grids
// folded at 3 workgroups per dimension.
import { assertAllClose, F32_EPS, gpuTest, type Tolerance } from '@webtune/harness/page';
import { type Dispatch, Gpu } from '../../runtime/gpu.ts';
import { assertFolded, foldingGpu } from '../../testing/folding.ts';
import { uniform } from '../../testing/random.ts';
import { softmaxBackwardRef, softmaxForwardRef, visibleColumns } from './softmax.ref.ts';
import { type CausalMask, softmaxBackward, softmaxForward } from './softmax.ts';

interface Case {
  rows: number;
  L: number;
  scale?: number;
  causal?: CausalMask;
  /** x is uniform in [shift - magnitude, shift + magnitude); dp in [-dpMagnitude, dpMagnitude). */
  magnitude?: number;
  shift?: number;
  dpMagnitude?: number;
}

/** The reference's error bound (in eps) as a tolerance, with reductionTolerance's slack of 8. */
const tolerance = (bound: ArrayLike<number>): Tolerance => ({ atol: Float64Array.from(bound, (b) => 8 * F32_EPS * b), rtol: 4 * F32_EPS });

function assertMaskedZero(got: Float32Array, c: Case, label: string): void {
  for (let r = 0; r < c.rows; r++) {
    const { first, end } = visibleColumns(r, c.L, c.causal);
    for (let j = 0; j < c.L; j++) {
      if ((j < first || j >= end) && got[r * c.L + j] !== 0) throw new Error(`${label}: masked [${r}, ${j}] is ${got[r * c.L + j]}, not 0`);
    }
  }
}

/** Forward, then backward through the GPU's own probabilities; outputs start as NaN so every element must be written. */
async function check(gpu: Gpu, c: Case, seed: number): Promise<Dispatch[]> {
  const n = c.rows * c.L;
  const x = uniform(n, seed, c.magnitude ?? 4).map((v) => v + (c.shift ?? 0));
  const dp = uniform(n, seed + 1, c.dpMagnitude ?? 1);
  const X = gpu.upload(x, [c.rows, c.L], 'x');
  const P = gpu.upload(new Float32Array(n).fill(Number.NaN), [c.rows, c.L], 'p');
  const dP = gpu.upload(dp, [c.rows, c.L], 'dp');
  const dX = gpu.upload(new Float32Array(n).fill(Number.NaN), [c.rows, c.L], 'dx');
  const dispatches = [
    ...(await softmaxForward(gpu, P, X, { scale: c.scale, causal: c.causal })),
    ...(await softmaxBackward(gpu, dX, P, dP)),
  ];
  gpu.run(...dispatches);
  const [p, dx] = [await gpu.read(P), await gpu.read(dX)];
  const mask = c.causal ? ` causal ${c.causal.queries}+${c.causal.offset}${c.causal.window ? ` window ${c.causal.window}` : ''}` : '';
  const label = `[${c.rows}, ${c.L}] scale=${c.scale ?? 1} x~${c.shift ?? 0}±${c.magnitude ?? 4}${mask}`;

  const fwd = softmaxForwardRef(x, c.L, c);
  assertMaskedZero(p, c, `p ${label}`);
  assertAllClose(p, fwd.p, tolerance(fwd.bound), `p ${label}`);
  // The backward is a function of the p it is given: the GPU's, exactly as float32.
  const bwd = softmaxBackwardRef(p, dp, c.L);
  assertMaskedZero(dx, c, `dx ${label}`);
  assertAllClose(dx, bwd.dx, tolerance(bwd.bound), `dx ${label}`);
  for (const t of [X, P, dP, dX]) t.buffer.destroy();
  return dispatches;
}

gpuTest('rows that do not divide the workgroup, a single column, long rows', async ({ device }) => {
  const gpu = new Gpu(device);
  await check(gpu, { rows: 5, L: 37 }, 10);
  await check(gpu, { rows: 3, L: 200, scale: 0.3 }, 11); // several strides of a 64-thread row
  await check(gpu, { rows: 3, L: 1 }, 12); // p = 1, dx = 0
  await check(gpu, { rows: 3, L: 2500 }, 13); // 256 threads per row
});

gpuTest('large magnitudes: x ~ 1e3 with a scale, rows far above and below 0, large dp', async ({ device }) => {
  const gpu = new Gpu(device);
  await check(gpu, { rows: 4, L: 37, magnitude: 1000, scale: 0.37, dpMagnitude: 1000 }, 20);
  // Without the max shift, exp overflows (above) or every term underflows to 0 (below).
  await check(gpu, { rows: 4, L: 45, magnitude: 30, shift: 2000 }, 21);
  await check(gpu, { rows: 4, L: 45, magnitude: 30, shift: -2000 }, 22);
});

gpuTest('causal masks: training (offset 0), generation (offset > 0), a padded cache', async ({ device }) => {
  const gpu = new Gpu(device);
  await check(gpu, { rows: 2 * 7, L: 7, scale: 0.35, causal: { queries: 7, offset: 0 } }, 30);
  await check(gpu, { rows: 3 * 3, L: 11, causal: { queries: 3, offset: 8 } }, 31);
  await check(gpu, { rows: 2 * 1, L: 9, magnitude: 50, causal: { queries: 1, offset: 8 } }, 32); // one new token
  await check(gpu, { rows: 3 * 3, L: 11, causal: { queries: 3, offset: 5 } }, 33); // keys past queries + offset masked too
});

gpuTest('sliding windows: shorter than the rows, in training and generation, wider than every row (no-op)', async ({ device }) => {
  const gpu = new Gpu(device);
  await check(gpu, { rows: 2 * 7, L: 7, scale: 0.35, causal: { queries: 7, offset: 0, window: 3 } }, 35);
  await check(gpu, { rows: 3 * 3, L: 11, causal: { queries: 3, offset: 8, window: 4 } }, 36);
  await check(gpu, { rows: 2 * 1, L: 9, magnitude: 50, causal: { queries: 1, offset: 8, window: 1 } }, 37); // itself only
  await check(gpu, { rows: 2 * 70, L: 70, causal: { queries: 70, offset: 0, window: 5 } }, 38); // first column past a stride
  await check(gpu, { rows: 2 * 7, L: 7, causal: { queries: 7, offset: 0, window: 100 } }, 39);
});

gpuTest('folded grids: a few rows, at most 3 workgroups per dimension', async ({ device }) => {
  // 7 rows, one workgroup each: a 3 x 3 grid with 2 spare.
  assertFolded(await check(foldingGpu(device), { rows: 7, L: 37, causal: { queries: 7, offset: 0 } }, 40), 'softmax');
});

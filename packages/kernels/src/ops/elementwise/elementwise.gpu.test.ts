// The elementwise ops and biasGrad on the GPU against their float64 references: sizes with a
// partial last vec4 and a partial workgroup, tensors followed by other data in their buffer (which
// must stay untouched), large magnitudes, NaN in outputs that must not be read, and grids folded
// past the per-dimension limit (the device's, and a tiny one).
import { assertAllClose, F32_EPS, gpuTest, reductionTolerance } from '@webtune/harness/page';
import { type Dispatch, Gpu } from '../../runtime/gpu.ts';
import { assertFolded, foldingGpu } from '../../testing/folding.ts';
import { padded, readPadded } from '../../testing/padded.ts';
import { uniform } from '../../testing/random.ts';
import { addBiasRef, addRef, axpyRef, biasGradRef, scaleRef, softcapRef } from './elementwise.ref.ts';
import { add, addBias, axpy, biasGrad, fill, scale, softcap } from './elementwise.ts';

/** Per element, the sum of the terms' absolute values: the scale rounding errors grow with. */
const sumAbs = (...terms: ArrayLike<number>[]) => Float64Array.from(terms[0], (_, i) => terms.reduce((s, t) => s + Math.abs(t[i]), 0));

/** fill, scale, axpy, add and softcap on n elements against the references; returns the dispatches run. */
async function checkFlat(gpu: Gpu, n: number): Promise<Dispatch[]> {
  const [a, b, y0, x0] = [1, 2, 3, 4].map((s) => uniform(n, 10 * n + s, 1000));
  const nan = new Float32Array(n).fill(Number.NaN);
  const [A, B] = [gpu.upload(a, [n], 'a'), gpu.upload(b, [n], 'b')];
  const z0 = uniform(n, 10 * n + 5, 40); // past the cap, where tanh saturates
  const [Y, X, O, F, Z] = [
    padded(gpu, y0, 'y'),
    padded(gpu, x0, 'x'),
    padded(gpu, nan, 'out'),
    padded(gpu, nan, 'f'),
    padded(gpu, z0, 'z'),
  ];
  const [alpha, s, cap] = [-0.7, 1.3e3, 10];
  const dispatches = [
    ...(await axpy(gpu, Y, A, alpha)),
    ...(await scale(gpu, X, s)),
    ...(await add(gpu, O, A, B)),
    ...(await fill(gpu, F, -2.5)),
    ...(await softcap(gpu, Z, cap)),
  ];
  gpu.run(...dispatches);
  assertAllClose(await readPadded(gpu, Y), axpyRef(y0, a, alpha), reductionTolerance(2, sumAbs(y0, scaleRef(a, alpha))), `axpy n=${n}`);
  assertAllClose(await readPadded(gpu, X), scaleRef(x0, s), reductionTolerance(1, sumAbs(scaleRef(x0, s))), `scale n=${n}`);
  assertAllClose(await readPadded(gpu, O), addRef(a, b), reductionTolerance(2, sumAbs(a, b)), `add n=${n}`);
  assertAllClose(await readPadded(gpu, F), new Float64Array(n).fill(-2.5), { atol: 0, rtol: 0 }, `fill n=${n}`);
  // As cross_entropy.gpu.test.ts bounds it: exp(-2|u|)'s ULPs and four more roundings, relative to |y| <= cap.
  const capTol = Float64Array.from(z0, (v) => 32 * F32_EPS * (1 + Math.min(Math.abs(v / cap), 8)) * cap);
  assertAllClose(await readPadded(gpu, Z), softcapRef(z0, cap), { atol: capTol, rtol: 0 }, `softcap n=${n}`);
  return dispatches;
}

gpuTest('fill, scale, axpy, add and softcap on sizes with a partial vec4 and a partial workgroup', async ({ device }) => {
  const gpu = new Gpu(device);
  for (const n of [1, 3, 6, 257, 1001]) await checkFlat(gpu, n);
});

gpuTest('fill, axpy and scale past the per-dimension workgroup limit', async ({ device }) => {
  const gpu = new Gpu(device);
  // More vec4-per-thread workgroups of 64 than one grid dimension holds, and a partial vec4.
  const n = (device.limits.maxComputeWorkgroupsPerDimension + 100) * 64 * 4 + 3;
  // Small integers keep every result exact: y = 2 * (2.5 + 0.5 * x) = 5 + x.
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) x[i] = (i % 1001) - 500;
  const X = gpu.upload(x, [n], 'x');
  const Y = gpu.tensor([n], 'y');
  gpu.run(...(await fill(gpu, Y, 2.5)), ...(await axpy(gpu, Y, X, 0.5)), ...(await scale(gpu, Y, 2)));
  const want = x.map((v) => v + 5);
  assertAllClose(await gpu.read(Y), want, { atol: 0, rtol: 0 }, `y (n=${n})`);
  X.buffer.destroy();
  Y.buffer.destroy();
});

async function checkAddBias(gpu: Gpu, shape: readonly number[], seed: number): Promise<Dispatch[]> {
  const n = shape.reduce((p, d) => p * d, 1);
  const D = shape.at(-1) ?? 1;
  const y0 = uniform(n, seed, 1000);
  const bias = uniform(D, seed + 100, 1000);
  const Y = padded(gpu, y0, 'y').view(shape);
  const dispatches = await addBias(gpu, Y, gpu.upload(bias, [D], 'bias'));
  gpu.run(...dispatches);
  const magnitude = sumAbs(y0, addBiasRef(new Float32Array(n), bias));
  assertAllClose(await readPadded(gpu, Y), addBiasRef(y0, bias), reductionTolerance(2, magnitude), `y [${shape}]`);
  return dispatches;
}

gpuTest('addBias on odd shapes, rows straddling vec4s, large magnitudes', async ({ device }) => {
  const gpu = new Gpu(device);
  for (const [shape, seed] of [
    [[37, 67], 1],
    [[5, 3], 2],
    [[2, 9, 5], 3],
  ] as const) {
    await checkAddBias(gpu, shape, seed);
  }
});

async function checkBiasGrad(gpu: Gpu, rows: number, D: number, accumulate: boolean, seed: number): Promise<Dispatch[]> {
  const dy = uniform(rows * D, seed, 1000);
  const initial = accumulate ? uniform(D, seed + 100, 1000) : new Float32Array(D).fill(Number.NaN);
  const dbias = padded(gpu, initial, 'dbias');
  const dispatches = await biasGrad(gpu, dbias, gpu.upload(dy, [rows, D], 'dy'), { accumulate });
  gpu.run(...dispatches);
  const ref = biasGradRef(dy, D, accumulate ? initial : undefined);
  const label = `dbias (rows=${rows} D=${D}${accumulate ? ' accumulate' : ''})`;
  assertAllClose(await readPadded(gpu, dbias), ref.dbias, reductionTolerance(rows + 1, ref.magnitude), label);
  return dispatches;
}

gpuTest('biasGrad: one slab or several, overwrite (NaN in dbias never read) or accumulate', async ({ device }) => {
  const gpu = new Gpu(device);
  for (const [rows, D, accumulate, seed] of [
    [700, 67, false, 1], // 3 slabs of 256 rows, 2 column blocks, the second partial
    [700, 67, true, 2],
    [37, 130, false, 3], // one slab: written directly
    [37, 130, true, 4],
  ] as const) {
    await checkBiasGrad(gpu, rows, D, accumulate, seed);
  }
});

gpuTest('folded grids: every op on a few workgroups, at most 3 per dimension', async ({ device }) => {
  const gpu = foldingGpu(device);
  // 29 * 61 = 1769 elements: 7 workgroups of 64 vec4s (a 3 x 3 grid, 2 spare) and a partial vec4.
  assertFolded(await checkFlat(gpu, 29 * 61), 'fill, scale, axpy, add, softcap');
  assertFolded(await checkAddBias(gpu, [29, 61], 5), 'addBias');
  // 4 column blocks of 64 (the last partial) x 2 slabs of 256 rows: 8 workgroups, then 4 to finish.
  assertFolded(await checkBiasGrad(gpu, 300, 255, false, 6), 'biasGrad');
});

// dropout on the GPU: its mask bit for bit against dropoutMaskRef, values against the float64
// reference, p = 0 as an exact copy, re-seeding a built dispatch, the backward as the same op on
// the upstream gradient, and grids folded past the per-dimension limit (the device's, and a tiny one).
import { assertAllClose, F32_EPS, gpuTest } from '@webtune/harness/page';
import { Gpu } from '../../runtime/gpu.ts';
import { assertFolded, foldingGpu } from '../../testing/folding.ts';
import { padded, readPadded } from '../../testing/padded.ts';
import { uniform } from '../../testing/random.ts';
import { fill } from '../elementwise/elementwise.ts';
import { dropoutMaskRef, dropoutRef } from './dropout.ref.ts';
import { dropout } from './dropout.ts';

/** Kept values are x * f32(1 / (1 - p)): two roundings. */
const KEPT_TOLERANCE = { atol: 0, rtol: 2 * F32_EPS * (1 + F32_EPS) };

/** Throws unless `got` is nonzero exactly where the reference mask keeps (x has no zeros). */
function assertMask(got: Float32Array, p: number, seed: number, label: string): void {
  const want = dropoutMaskRef(got.length, p, seed);
  const bad = want.findIndex((keep, i) => keep !== (got[i] !== 0 ? 1 : 0));
  if (bad >= 0) throw new Error(`${label}: mask differs from dropoutMaskRef at [${bad}]: got ${got[bad]}, reference keeps=${want[bad]}`);
}

gpuTest('the mask is dropoutMaskRef bit for bit, kept values are x / (1 - p)', async ({ device }) => {
  const gpu = new Gpu(device);
  for (const [n, p, seed] of [
    [40001, 0.3, 0xdeadbeef],
    [1003, 0.9, 1],
  ] as const) {
    const x = uniform(n, seed, 1000).map((v) => v || 1); // no zeros: the mask reads off the result
    const out = padded(gpu, new Float32Array(n).fill(Number.NaN), 'out');
    gpu.run(...(await dropout(gpu, out, gpu.upload(x, [n], 'x'), { p, seed })).dispatches);
    const got = await readPadded(gpu, out);
    const label = `dropout n=${n} p=${p} seed=${seed}`;
    assertMask(got, p, seed, label);
    assertAllClose(got, dropoutRef(x, p, seed), KEPT_TOLERANCE, label);
  }
});

gpuTest('p = 0 copies exactly; setSeed re-seeds a built dispatch', async ({ device }) => {
  const gpu = new Gpu(device);
  const n = 5001;
  const x = uniform(n, 3, 1000).map((v) => v || 1);
  const X = gpu.upload(x, [n], 'x');
  const out = gpu.tensor([n], 'out');
  gpu.run(...(await dropout(gpu, out, X, { p: 0, seed: 5 })).dispatches);
  const copy = await gpu.read(out);
  const changed = copy.findIndex((v, i) => v !== x[i]);
  if (changed >= 0) throw new Error(`p = 0: element ${changed} is ${copy[changed]}, not ${x[changed]}`);

  const d = await dropout(gpu, out, X, { p: 0.5, seed: 1 });
  gpu.run(...d.dispatches);
  assertMask(await gpu.read(out), 0.5, 1, 'seed 1');
  d.setSeed(2);
  gpu.run(...d.dispatches);
  assertMask(await gpu.read(out), 0.5, 2, 'after setSeed(2)');
});

gpuTest('backward: the same op and seed on dy drops the same elements and gives dx', async ({ device }) => {
  const gpu = new Gpu(device);
  const [n, p, seed] = [10007, 0.2, 77];
  const x = uniform(n, 4, 50).map((v) => v || 1);
  const dy = uniform(n, 5, 1000).map((v) => v || 1);
  const [out, dx] = [gpu.tensor([n], 'out'), gpu.tensor([n], 'dx')];
  const forward = await dropout(gpu, out, gpu.upload(x, [n], 'x'), { p, seed });
  const backward = await dropout(gpu, dx, gpu.upload(dy, [n], 'dy'), { p, seed });
  gpu.run(...forward.dispatches, ...backward.dispatches);
  const [o, g] = [await gpu.read(out), await gpu.read(dx)];
  const differ = o.findIndex((v, i) => (v === 0) !== (g[i] === 0));
  if (differ >= 0) throw new Error(`forward and backward masks differ at [${differ}]: out ${o[differ]}, dx ${g[differ]}`);
  assertAllClose(g, dropoutRef(dy, p, seed), KEPT_TOLERANCE, 'dx');
});

gpuTest('past the per-dimension workgroup limit', async ({ device }) => {
  const gpu = new Gpu(device);
  const n = (device.limits.maxComputeWorkgroupsPerDimension + 100) * 64 * 4 + 3;
  const [p, seed] = [0.25, 9];
  const [ones, out] = [gpu.tensor([n], 'ones'), gpu.tensor([n], 'out')];
  gpu.run(...(await fill(gpu, ones, 1)), ...(await dropout(gpu, out, ones, { p, seed })).dispatches);
  assertMask(await gpu.read(out), p, seed, `dropout n=${n}`);
  ones.buffer.destroy();
  out.buffer.destroy();
});

gpuTest('folded grid: a few workgroups, at most 3 per dimension', async ({ device }) => {
  const gpu = foldingGpu(device);
  const [n, p, seed] = [7 * 256 - 3, 0.4, 123]; // 7 workgroups of 64 vec4s: a 3 x 3 grid with 2 spare
  const x = uniform(n, 6, 1000).map((v) => v || 1);
  const out = padded(gpu, new Float32Array(n).fill(Number.NaN), 'out');
  const d = await dropout(gpu, out, gpu.upload(x, [n], 'x'), { p, seed });
  assertFolded(d.dispatches, 'dropout');
  gpu.run(...d.dispatches);
  const got = await readPadded(gpu, out);
  assertMask(got, p, seed, `dropout n=${n} folded`);
  assertAllClose(got, dropoutRef(x, p, seed), KEPT_TOLERANCE, `dropout n=${n} folded`);
});

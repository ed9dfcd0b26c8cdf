// flagNonFinite on the GPU against the reference: NaN, +-Infinity and the largest finite float32 at odd places of odd
// sizes, weighted and not; the flag stays raised once set (it gathers several tensors) and a folded grid reaches the end.
import { gpuTest } from '@webtune/harness/page';
import { Gpu } from '../../runtime/gpu.ts';
import { assertFolded, foldingGpu } from '../../testing/folding.ts';
import { hasNonFiniteRef } from './nonfinite.ref.ts';
import { flagNonFinite } from './nonfinite.ts';

async function flagged(gpu: Gpu, x: number[], w?: number[], start = 0): Promise<number> {
  const flag = gpu.upload(Uint32Array.of(start), [1], 'halt');
  const X = gpu.upload(x, [x.length], 'x');
  const W = w ? gpu.upload(w, [w.length], 'w') : undefined;
  gpu.run(await flagNonFinite(gpu, { x: X, weights: W, flag }));
  const [out] = await gpu.read(flag, 'u32');
  for (const t of [flag, X, W]) t?.buffer.destroy();
  return out;
}

function expectFlag(got: number, x: number[], w: number[] | undefined, what: string): void {
  const want = hasNonFiniteRef(x, w) ? 1 : 0;
  if (got !== want) throw new Error(`${what}: flag ${got}, want ${want}`);
}

gpuTest('raises the flag for NaN and infinities, only where the weight is not 0; never lowers it', async ({ device }) => {
  const gpu = new Gpu(device);
  const MAX = 3.4028234663852886e38;
  for (const n of [1, 5, 257, 1000]) {
    const base = Array.from({ length: n }, (_, i) => (i % 2 ? -MAX : i * 0.5));
    expectFlag(await flagged(gpu, base), base, undefined, `finite n=${n}`);
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
      const x = base.slice();
      x[n - 1] = bad;
      expectFlag(await flagged(gpu, x), x, undefined, `${bad} last of n=${n}`);
      const w: number[] = x.map((_, i) => (i === n - 1 ? 0 : 1));
      expectFlag(await flagged(gpu, x, w), x, w, `${bad} last of n=${n}, weight 0`);
      w[n - 1] = 1e-3;
      expectFlag(await flagged(gpu, x, w), x, w, `${bad} last of n=${n}, weight 1e-3`);
    }
  }
  if ((await flagged(gpu, [1, 2], undefined, 1)) !== 1) throw new Error('a raised flag was lowered by finite values');
});

gpuTest('folded grid: the last element is reached', async ({ device }) => {
  const gpu = foldingGpu(device);
  const x = Array.from({ length: 7 * 256 - 3 }, () => 1);
  x[x.length - 1] = Number.NaN;
  const flag = gpu.tensor([1], 'halt', 'u32');
  const d = await flagNonFinite(gpu, { x: gpu.upload(x, [x.length], 'x'), flag });
  assertFolded([d], 'flagNonFinite');
  gpu.run(d);
  const [out] = await gpu.read(flag, 'u32');
  if (out !== 1) throw new Error(`folded grid: flag ${out}, want 1`);
});

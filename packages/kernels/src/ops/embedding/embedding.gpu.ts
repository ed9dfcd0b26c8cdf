// embedding on the GPU against its float64 reference: widths that do not divide the
// workgroup, ids out of order and repeated many times, ids past the table, large values,
// dtable overwritten (over NaN) and accumulated into.
import { assertAllClose, gpuTest, reductionTolerance } from '@webtune/harness/page';
import { Gpu } from '../../runtime/gpu.ts';
import { randint, uniform } from '../../testing/random.ts';
import { embeddingBackwardRef, embeddingForwardRef } from './embedding.ref.ts';
import { embeddingBackward, embeddingForward } from './embedding.ts';

/** N ids below V, with id 3 repeated throughout and two ids past the table (V and the largest u32). */
function tokenIds(N: number, V: number, seed: number): Uint32Array {
  const ids = randint(N, seed, V);
  for (let n = 0; n < N; n += 4) ids[n] = 3;
  ids[1] = V;
  ids[N - 2] = 0xffffffff;
  return ids;
}

gpuTest('forward: gathers rows, zeros for ids past the table', async ({ device }) => {
  const gpu = new Gpu(device);
  const [V, C, N] = [50, 97, 61];
  const table = uniform(V * C, 10, 1000);
  const ids = tokenIds(N, V, 11);
  const T = gpu.upload(table, [V, C], 'table');
  const IDS = gpu.upload(ids, [N], 'ids');
  const OUT = gpu.upload(new Float32Array(N * C).fill(Number.NaN), [N, C], 'out');
  gpu.run(...(await embeddingForward(gpu, { out: OUT, table: T, ids: IDS })));
  // A copy: exact.
  assertAllClose(await gpu.read(OUT), embeddingForwardRef(table, ids, C), { atol: 0, rtol: 0 }, `out (V=${V} C=${C} N=${N})`);
});

async function checkBackward(gpu: Gpu, V: number, C: number, N: number, accumulate: boolean, seed: number): Promise<void> {
  const ids = tokenIds(N, V, seed);
  const dout = uniform(N * C, seed + 1, 1000);
  const dtable0 = accumulate ? uniform(V * C, seed + 2, 1000) : new Float32Array(V * C).fill(Number.NaN);
  const DO = gpu.upload(dout, [N, C], 'dout');
  const IDS = gpu.upload(ids, [N], 'ids');
  const DT = gpu.upload(dtable0, [V, C], 'dtable');
  gpu.run(...(await embeddingBackward(gpu, { dtable: DT, dout: DO, ids: IDS }, { accumulate })));
  const ref = embeddingBackwardRef(dout, ids, V, accumulate ? dtable0 : undefined);
  // Each element sums the prior value (or zero) and one term per occurrence of its id.
  const terms = 1 + Math.max(...Array.from({ length: V }, (_, v) => ids.filter((id) => id === v).length));
  const label = `dtable (V=${V} C=${C} N=${N}${accumulate ? ' accumulate' : ''})`;
  assertAllClose(await gpu.read(DT), ref.dtable, reductionTolerance(terms, ref.magnitude), label);
  for (const t of [DO, IDS, DT]) t.buffer.destroy();
}

gpuTest('backward: repeated ids sum, dtable overwritten (NaN there is never read)', async ({ device }) => {
  const gpu = new Gpu(device);
  await checkBackward(gpu, 40, 150, 57, false, 20);
  await checkBackward(gpu, 7, 5, 9, false, 21);
});

gpuTest('backward: accumulate into dtable', async ({ device }) => {
  const gpu = new Gpu(device);
  await checkBackward(gpu, 33, 131, 45, true, 30);
});

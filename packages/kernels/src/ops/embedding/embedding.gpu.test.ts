// embedding on the GPU against its float64 reference: widths that do not divide the
// workgroup, ids out of order and repeated many times, ids past the table, large values,
// dtable overwritten (over NaN) and accumulated into, grids folded at 3 workgroups per dimension,
// and the table packed as bf16 / f16 (frozen weights in their checkpoint's dtype).
import { assertAllClose, gpuTest, reductionTolerance } from '@webtune/harness/page';
import { type Dispatch, Gpu } from '../../runtime/gpu.ts';
import { assertFolded, foldingGpu } from '../../testing/folding.ts';
import { randomHalves } from '../../testing/halves.ts';
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

async function checkForward(gpu: Gpu, V: number, C: number, N: number, seed: number): Promise<Dispatch[]> {
  const table = uniform(V * C, seed, 1000);
  const ids = tokenIds(N, V, seed + 1);
  const T = gpu.upload(table, [V, C], 'table');
  const IDS = gpu.upload(ids, [N], 'ids');
  const OUT = gpu.upload(new Float32Array(N * C).fill(Number.NaN), [N, C], 'out');
  const dispatches = await embeddingForward(gpu, { out: OUT, table: T, ids: IDS });
  gpu.run(...dispatches);
  // A copy: exact.
  assertAllClose(await gpu.read(OUT), embeddingForwardRef(table, ids, C), { atol: 0, rtol: 0 }, `out (V=${V} C=${C} N=${N})`);
  for (const t of [T, IDS, OUT]) t.buffer.destroy();
  return dispatches;
}

gpuTest('forward: gathers rows, zeros for ids past the table', async ({ device }) => {
  await checkForward(new Gpu(device), 50, 97, 61, 10);
});

for (const dtype of ['bf16', 'f16'] as const) {
  gpuTest(`forward: a table packed as ${dtype} gathers its exact values (odd width: rows start mid-word)`, async ({ device }) => {
    const gpu = new Gpu(device);
    const [V, C, N] = [50, 97, 61];
    const table = randomHalves(V * C, dtype, 12);
    const ids = tokenIds(N, V, 13);
    const T = gpu.uploadHalves(table.bits, dtype, [V, C], 'table');
    const IDS = gpu.upload(ids, [N], 'ids');
    const OUT = gpu.upload(new Float32Array(N * C).fill(Number.NaN), [N, C], 'out');
    gpu.run(...(await embeddingForward(gpu, { out: OUT, table: T, ids: IDS })));
    assertAllClose(await gpu.read(OUT), embeddingForwardRef(table.values, ids, C), { atol: 0, rtol: 0 }, `out (${dtype} table)`);
    for (const t of [T, IDS, OUT]) t.buffer.destroy();
  });
}

async function checkBackward(gpu: Gpu, V: number, C: number, N: number, accumulate: boolean, seed: number): Promise<Dispatch[]> {
  const ids = tokenIds(N, V, seed);
  const dout = uniform(N * C, seed + 1, 1000);
  const dtable0 = accumulate ? uniform(V * C, seed + 2, 1000) : new Float32Array(V * C).fill(Number.NaN);
  const DO = gpu.upload(dout, [N, C], 'dout');
  const IDS = gpu.upload(ids, [N], 'ids');
  const DT = gpu.upload(dtable0, [V, C], 'dtable');
  const dispatches = await embeddingBackward(gpu, { dtable: DT, dout: DO, ids: IDS }, { accumulate });
  gpu.run(...dispatches);
  const ref = embeddingBackwardRef(dout, ids, V, accumulate ? dtable0 : undefined);
  // Each element sums the prior value (or zero) and one term per occurrence of its id.
  const terms = 1 + Math.max(...Array.from({ length: V }, (_, v) => ids.filter((id) => id === v).length));
  const label = `dtable (V=${V} C=${C} N=${N}${accumulate ? ' accumulate' : ''})`;
  assertAllClose(await gpu.read(DT), ref.dtable, reductionTolerance(terms, ref.magnitude), label);
  for (const t of [DO, IDS, DT]) t.buffer.destroy();
  return dispatches;
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

gpuTest('backward: tokens in several chunks of 256, rows first seen in a later chunk, wider than a workgroup', async ({ device }) => {
  const gpu = new Gpu(device);
  // 700 tokens (three chunks), C = 300 > 256 columns. Over 400 ids about half the rows are first
  // seen past token 256; over 60 ids every row's tokens spread across the chunks.
  await checkBackward(gpu, 400, 300, 700, false, 35);
  await checkBackward(gpu, 60, 300, 700, true, 36);
});

gpuTest('folded grids: a few workgroups, at most 3 per dimension', async ({ device }) => {
  const gpu = foldingGpu(device);
  // V = N = 5, C = 400: gather and zeroing 8 workgroups of 256 elements, scatter one per token (5).
  assertFolded(await checkForward(gpu, 5, 400, 5, 40), 'embedding');
  assertFolded(await checkBackward(gpu, 5, 400, 5, false, 41), 'embedding backward');
});

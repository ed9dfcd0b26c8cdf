// matmul on the GPU against its float64 reference: every layout, odd and aligned shapes,
// LoRA-skinny shapes, split-K, strided attention heads with grouped-query sharing, folded grids,
// and B (the frozen weights) packed as bf16 or f16 halves.
import { assertAllClose, gpuTest, reductionTolerance } from '@webtune/harness/page';
import { type Dispatch, Gpu } from '../../runtime/gpu.ts';
import type { HalfDType } from '../../runtime/tensor.ts';
import { assertFolded, foldingGpu } from '../../testing/folding.ts';
import { randomHalves } from '../../testing/halves.ts';
import { uniform } from '../../testing/random.ts';
import { matmulRef } from './matmul.ref.ts';
import { geometryFromShapes, type MatmulGeometry, matmul } from './matmul.ts';

interface Case {
  M: number;
  N: number;
  K: number;
  transA?: boolean;
  transB?: boolean;
  batch?: number;
  sharedB?: boolean;
  alpha?: number;
  beta?: number;
  scale?: number;
  splits?: number;
  /** B stored packed in this dtype (its values random halves, the reference on the same values). */
  packB?: HalfDType;
}

async function check(gpu: Gpu, c: Case, seed: number): Promise<Dispatch[]> {
  const { M, N, K, transA = false, transB = false, batch = 1, alpha = 1, beta = 0, scale = 1 } = c;
  const aShape = [batch, ...(transA ? [K, M] : [M, K])];
  const bShape = [...(c.sharedB ? [] : [batch]), ...(transB ? [N, K] : [K, N])];
  const cShape = [batch, M, N];
  const a = uniform(
    aShape.reduce((x, y) => x * y),
    seed,
    scale,
  );
  const bCount = bShape.reduce((x, y) => x * y);
  const halves = c.packB ? randomHalves(bCount, c.packB, seed + 1) : undefined;
  const b = halves ? halves.values : uniform(bCount, seed + 1, scale);
  const c0 = uniform(batch * M * N, seed + 2, scale);
  const A = gpu.upload(a, aShape, 'A');
  const B = halves && c.packB ? gpu.uploadHalves(halves.bits, c.packB, bShape, 'B') : gpu.upload(b, bShape, 'B');
  const C = gpu.upload(c0, cShape, 'C');
  const dispatches = await matmul(gpu, C, A, B, { transA, transB, alpha, beta, splits: c.splits });
  gpu.run(...dispatches);
  const got = await gpu.read(C);
  const g = geometryFromShapes('ref', C, A, B, transA, transB);
  const ref = matmulRef(g, a, b, c0, alpha, beta);
  const label = `C (M=${M} N=${N} K=${K}${transA ? ' Aᵀ' : ''}${transB ? ' Bᵀ' : ''} batch=${batch}${c.packB ? ` B ${c.packB}` : ''})`;
  assertAllClose(got, ref.C, reductionTolerance(K, ref.magnitude), label);
  for (const t of [A, B, C]) t.buffer.destroy();
  return dispatches;
}

const LAYOUTS = [
  [false, false],
  [false, true],
  [true, false],
  [true, true],
] as const;

gpuTest(
  'odd shapes that do not divide the tile, every layout',
  async ({ device }) => {
    const gpu = new Gpu(device);
    for (const [transA, transB] of LAYOUTS) await check(gpu, { M: 37, N: 29, K: 53, transA, transB }, 10);
  },
  { sweep: true },
);

gpuTest('short K (the direct path, no staging): every layout, odd and aligned', async ({ device }) => {
  const gpu = new Gpu(device);
  for (const [transA, transB] of LAYOUTS) {
    await check(gpu, { M: 37, N: 29, K: 5, transA, transB }, 15);
    await check(gpu, { M: 68, N: 72, K: 16, transA, transB, beta: 1 }, 16);
  }
});

gpuTest(
  '4-aligned shapes (vec4 loads), every layout, several tiles',
  async ({ device }) => {
    const gpu = new Gpu(device);
    for (const [transA, transB] of LAYOUTS) await check(gpu, { M: 72, N: 136, K: 100, transA, transB }, 20);
  },
  { sweep: true },
);

gpuTest('alpha and beta: scale, accumulate, large magnitudes', async ({ device }) => {
  const gpu = new Gpu(device);
  await check(gpu, { M: 33, N: 65, K: 47, alpha: -0.5, beta: 1, scale: 1000 }, 30);
  await check(gpu, { M: 16, N: 16, K: 16, alpha: 2, beta: 0.25, transB: true }, 31);
});

gpuTest('beta = 0 never reads C (NaN there stays out of the result)', async ({ device }) => {
  const gpu = new Gpu(device);
  const A = gpu.upload(uniform(6 * 5, 1), [6, 5], 'A');
  const B = gpu.upload(uniform(5 * 7, 2), [5, 7], 'B');
  const C = gpu.upload(new Float32Array(42).fill(Number.NaN), [6, 7], 'C');
  gpu.run(...(await matmul(gpu, C, A, B)));
  const got = await gpu.read(C);
  const ref = matmulRef(geometryFromShapes('ref', C, A, B, false, false), await gpu.read(A), await gpu.read(B), new Float64Array(42));
  assertAllClose(got, ref.C, reductionTolerance(5, ref.magnitude), 'C');
});

gpuTest('batched, and weights shared across the batch', async ({ device }) => {
  const gpu = new Gpu(device);
  await check(gpu, { M: 19, N: 24, K: 31, batch: 3 }, 40);
  await check(gpu, { M: 19, N: 24, K: 32, batch: 3, sharedB: true, transB: true }, 41);
});

gpuTest(
  'LoRA-skinny shapes: [T,H]x[H,r], [r,T]x[T,H], and their backward layouts',
  async ({ device }) => {
    const gpu = new Gpu(device);
    await check(gpu, { M: 75, N: 8, K: 96 }, 50); // x A^T: rank-8 output
    await check(gpu, { M: 75, N: 96, K: 8 }, 51); // h B^T: rank-8 inner dimension
    await check(gpu, { M: 8, N: 96, K: 75, transA: true }, 52); // dA = dhᵀ x
    await check(gpu, { M: 96, N: 8, K: 75, transA: true }, 53); // dB = dyᵀ h
    await check(gpu, { M: 1, N: 40, K: 33 }, 54); // a single row (generation)
  },
  { sweep: true },
);

gpuTest('split-K: forced and automatic, with beta', async ({ device }) => {
  const gpu = new Gpu(device);
  await check(gpu, { M: 21, N: 18, K: 300, splits: 3, beta: 1 }, 60);
  await check(gpu, { M: 8, N: 24, K: 4096, transA: true }, 61); // chooses split-K itself
});

gpuTest('split-K matmuls share one partials buffer: recorded together and run in one submit, each is right', async ({ device }) => {
  const gpu = new Gpu(device);
  const cases = [
    { M: 21, N: 18, K: 300, splits: 3 },
    { M: 9, N: 12, K: 200, splits: 4 },
    { M: 21, N: 18, K: 120, splits: 2 },
  ];
  const made = cases.map(({ M, N, K }, i) => {
    const [a, b] = [uniform(M * K, 70 + 2 * i), uniform(K * N, 71 + 2 * i)];
    return { a, b, A: gpu.upload(a, [1, M, K], 'A'), B: gpu.upload(b, [1, K, N], 'B'), C: gpu.tensor([1, M, N], 'C') };
  });
  const dispatches = [];
  let afterFirst = 0;
  for (const [i, m] of made.entries()) {
    dispatches.push(...(await matmul(gpu, m.C, m.A, m.B, { splits: cases[i].splits })));
    if (i === 0) afterFirst = gpu.ledger.memory.currentTotal;
  }
  // The first made the partials buffer (3 x 21 x 18); the others fit in it: they add their uniforms only, fewer bytes
  // than the smaller of their own partials (4 x 9 x 12 floats) would take.
  const added = gpu.ledger.memory.currentTotal - afterFirst;
  if (added >= 4 * 4 * 9 * 12) throw new Error(`recording 2 more split-K matmuls took ${added} B: the partials are not shared`);
  gpu.run(...dispatches);
  for (const [i, m] of made.entries()) {
    const ref = matmulRef(
      geometryFromShapes('ref', m.C, m.A, m.B, false, false),
      m.a,
      m.b,
      new Float64Array(cases[i].M * cases[i].N),
      1,
      0,
    );
    assertAllClose(await gpu.read(m.C), ref.C, reductionTolerance(cases[i].K, ref.magnitude), `split-K matmul ${i} of 3, run back to back`);
  }
});

/** S = Q Kᵀ / sqrt(hd) per head through strides, q [B, T, nh, hd], k [B, T, nkv, hd], S [B, nh, T, T]. */
async function checkStridedScores(gpu: Gpu, [Bn, T, nh, nkv, hd]: number[], seed: number): Promise<void> {
  const q = uniform(Bn * T * nh * hd, seed);
  const k = uniform(Bn * T * nkv * hd, seed + 1);
  const Q = gpu.upload(q, [Bn, T, nh, hd], 'q');
  const Kt = gpu.upload(k, [Bn, T, nkv, hd], 'k');
  const S = gpu.upload(new Float32Array(Bn * nh * T * T).fill(Number.NaN), [Bn, nh, T, T], 'scores');
  const g: MatmulGeometry = {
    M: T,
    N: T,
    K: hd,
    batch: Bn * nh,
    batch1: nh,
    transA: false,
    transB: true,
    lda: nh * hd,
    ldb: nkv * hd,
    ldc: T,
    a: { offset: 0, stride0: T * nh * hd, stride1: hd, div1: 1 },
    b: { offset: 0, stride0: T * nkv * hd, stride1: hd, div1: nh / nkv },
    c: { offset: 0, stride0: nh * T * T, stride1: T * T, div1: 1 },
  };
  gpu.run(...(await matmul(gpu, S, Q, Kt, { geometry: g, alpha: 1 / Math.sqrt(hd) })));
  const got = await gpu.read(S);
  // Independent of the geometry code: index the heads by hand.
  const want = new Float64Array(Bn * nh * T * T);
  const magnitude = new Float64Array(want.length);
  for (let b = 0; b < Bn; b++)
    for (let h = 0; h < nh; h++)
      for (let i = 0; i < T; i++)
        for (let j = 0; j < T; j++) {
          let [s, m] = [0, 0];
          const kvh = Math.floor(h / (nh / nkv));
          for (let d = 0; d < hd; d++) {
            const term = q[((b * T + i) * nh + h) * hd + d] * k[((b * T + j) * nkv + kvh) * hd + d];
            s += term;
            m += Math.abs(term);
          }
          want[((b * nh + h) * T + i) * T + j] = s / Math.sqrt(hd);
          magnitude[((b * nh + h) * T + i) * T + j] = m / Math.sqrt(hd);
        }
  assertAllClose(got, want, reductionTolerance(hd, magnitude), `scores (B=${Bn} T=${T} nh=${nh} nkv=${nkv} hd=${hd})`);
  for (const t of [Q, Kt, S]) t.buffer.destroy();
}

gpuTest('attention heads through strides: S = Q Kᵀ per head with grouped-query sharing', async ({ device }) => {
  const gpu = new Gpu(device);
  await checkStridedScores(gpu, [2, 9, 4, 2, 8], 70); // hd <= 16: the direct path
  // hd = 37 > 16: the staged path with scalar loads (37 is odd, so no vec4), T = 21 across tiles' edges.
  await checkStridedScores(gpu, [2, 21, 6, 2, 37], 72);
  // hd = 64: the staged path with vec4 loads through head strides; T = 70 spans two 64-row tiles.
  await checkStridedScores(gpu, [1, 70, 4, 2, 64], 74);
});

// B packed as bf16 / f16 (frozen weights), in the two layouts weights are read in: x Wᵀ (forward,
// stored [N, K]) and dy W (backward, [K, N]); one test per case, each compiles its own variant.
const PACKED: [string, Case][] = [
  ['scalar loads, Bᵀ', { M: 37, N: 29, K: 53, transB: true }],
  ['scalar loads, B', { M: 37, N: 29, K: 53 }],
  ['vec4 loads across two tiles, Bᵀ, beta 1', { M: 20, N: 68, K: 40, transB: true, beta: 1 }],
  ['the direct path (short K)', { M: 37, N: 29, K: 5, transB: true }],
  ['split-K', { M: 21, N: 18, K: 300, splits: 3 }],
];
for (const packB of ['bf16', 'f16'] as const) {
  for (const [name, c] of PACKED) {
    // Dawn keeps the vec4, direct and split-K loads of each dtype; the scalar loads are the sweep.
    const sweep = name.startsWith('scalar loads');
    const test = async ({ device }: { device: GPUDevice }) => {
      await check(new Gpu(device), { ...c, packB }, 100);
    };
    gpuTest(`B packed as ${packB}: ${name}`, test, { sweep });
  }
}

gpuTest('more workgroups than one grid dimension allows', async ({ device }) => {
  const gpu = new Gpu(device);
  const batch = device.limits.maxComputeWorkgroupsPerDimension + 100;
  await check(gpu, { M: 1, N: 1, K: 3, batch }, 80);
});

gpuTest('folded grids: a few workgroups, at most 3 per dimension, split-K reduce included', async ({ device }) => {
  const gpu = foldingGpu(device);
  // Shapes of the tests above (their pipelines are compiled already), with more batches.
  // 7 batches of one tile each: a 3 x 3 grid with 2 spare.
  assertFolded(await check(gpu, { M: 19, N: 24, K: 31, batch: 7 }, 90), 'batched matmul');
  // 3 batches of one tile split 3 ways along K: 9 workgroups; then 5 reduce workgroups of 256 elements.
  assertFolded(await check(gpu, { M: 21, N: 18, K: 300, splits: 3, beta: 1, batch: 3 }, 91), 'split-K matmul');
});
